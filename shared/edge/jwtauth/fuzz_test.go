package jwtauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/jwtauth"
)

// FuzzBearerToken: a token is found only under the Bearer scheme, is a
// trimmed part of the header, and never holds the scheme itself.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "Basic abc", "Bearer", "Bearer ", "BEARER a.b.c", "Bearerabc", "Bearer \tx"} {
		f.Add(s)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, h string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["Authorization"] = []string{h}
		tok := jwtauth.BearerToken(e.NewContext(req, httptest.NewRecorder()))
		if tok == "" {
			return
		}
		if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
			t.Fatalf("token %q from a non-Bearer header %q", tok, h)
		}
		if !strings.Contains(h[7:], tok) || tok != strings.TrimSpace(tok) {
			t.Fatalf("token %q is not the trimmed credentials of %q", tok, h)
		}
	})
}
