package apikey_test

import (
	"testing"

	"github.com/shopfront/shared/edge/apikey"
)

// FuzzLookup: a presented key finds a key only when it is exactly one of
// the keys the file holds the digest of.
func FuzzLookup(f *testing.F) {
	keys, err := apikey.Parse([]byte(keysFile(false)))
	if err != nil {
		f.Fatal(err)
	}
	known := map[string]string{"acme-secret-key": "acme-prod-1", "acme-old-key": "acme-old", "globex-secret-key": "globex-1"}
	for _, s := range []string{"acme-secret-key", "acme-secret-key ", "ACME-SECRET-KEY", "", "acme-old-key", "\x00", "globex-secret-keyx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, presented string) {
		k, ok := keys.Lookup(presented)
		want, isKnown := known[presented]
		if ok != isKnown || (ok && k.ID != want) {
			t.Fatalf("Lookup(%q) = %v, %v", presented, k, ok)
		}
	})
}

// FuzzParse: any keys file is either refused or gives keys whose every
// partner is found by its id.
func FuzzParse(f *testing.F) {
	for _, s := range []string{keysFile(false), "partners: []\n", "", "partners:\n  - keys: [{id: a, sha256: b}]\n", "partners: {a: 1}", "- x\n- y", "partners:\n  - id: a\n    plan: {per_minute: -1, burst: 0}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := apikey.Parse(data)
		if (keys == nil) == (err == nil) {
			t.Fatalf("keys %v with error %v", keys, err)
		}
		if err != nil {
			return
		}
		if _, ok := keys.Partner(""); ok {
			t.Fatal("a partner without an id")
		}
	})
}
