package conditional_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/bff-mobile/internal/conditional"
)

// BenchmarkConditional measures the cost the middleware adds to a 4 KB
// screen (the size of /v1/home): buffering, hashing and the header work, for
// a full answer and for a 304.
//
//	go test -run '^$' -bench Conditional -benchmem ./internal/conditional/
func BenchmarkConditional(b *testing.B) {
	body := []byte(`{"x":"` + strings.Repeat("a", 4000) + `"}`)
	e := echo.New()
	cond, err := conditional.Config{}.ToMiddleware()
	if err != nil {
		b.Fatal(err)
	}
	h := cond(func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body) })
	for _, bc := range []struct {
		name string
		inm  string
	}{
		{name: "200", inm: ""},
		{name: "304", inm: conditional.ETag(body)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/v1/home", nil)
			if bc.inm != "" {
				req.Header.Set("If-None-Match", bc.inm)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				if err := h(e.NewContext(req, rec)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
