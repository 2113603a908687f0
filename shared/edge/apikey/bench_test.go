package apikey_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/apikey"
)

// BenchmarkLookup measures Keys.Lookup on a keys file of n keys, for a
// presented key that is found and one that is not: with the digest index
// both stay flat as n grows (the SHA-256 of the presented key dominates).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		var doc strings.Builder
		doc.WriteString("partners:\n  - id: p\n    keys:\n")
		for i := range n {
			fmt.Fprintf(&doc, "      - {id: k%d, sha256: %s, scopes: [catalog:read]}\n", i, digest(fmt.Sprintf("key-%d", i)))
		}
		keys, err := apikey.Parse([]byte(doc.String()))
		require.NoError(b, err)
		require.Equal(b, n, keys.Len())
		for _, tc := range []struct{ name, presented string }{
			{"found", fmt.Sprintf("key-%d", n-1)},
			{"unknown", "no-such-key"},
		} {
			b.Run(fmt.Sprintf("keys=%d/%s", n, tc.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_, ok := keys.Lookup(tc.presented)
					if ok != (tc.name == "found") {
						b.Fatalf("Lookup(%q) = %t", tc.presented, ok)
					}
				}
			})
		}
	}
}
