package requestid_test

import (
	"regexp"
	"testing"

	"github.com/shopfront/shared/edge/requestid"
)

// FuzzValid: an id is kept only when it is 1-128 characters of
// [A-Za-z0-9._-], so nothing else reaches logs, headers or upstreams.
func FuzzValid(f *testing.F) {
	for _, s := range []string{"abc-123", "", "a b", "x\r\nSet-Cookie: a=b", "ü", "../x", string(make([]byte, 129))} {
		f.Add(s)
	}
	shape := regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := requestid.Valid(id), shape.MatchString(id); got != want {
			t.Fatalf("Valid(%q) = %v, want %v", id, got, want)
		}
	})
}
