package requestid_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/requestid"
)

// BenchmarkMiddleware measures the request id stage: a new id for a
// request without one, a valid incoming id kept, and an invalid one
// replaced.
func BenchmarkMiddleware(b *testing.B) {
	for _, bc := range []struct{ name, incoming string }{
		{"new", ""},
		{"kept", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"invalid replaced", "bad id\twith control"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			mw, err := requestid.Config{}.ToMiddleware()
			require.NoError(b, err)
			e := echo.New()
			e.GET("/", func(c echo.Context) error {
				if requestid.FromContext(c.Request().Context()) == "" {
					b.Fatal("no request id in the context")
				}
				return c.NoContent(http.StatusNoContent)
			}, mw)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			b.ReportAllocs()
			for b.Loop() {
				if bc.incoming != "" {
					req.Header.Set(echo.HeaderXRequestID, bc.incoming)
				}
				w := httptest.NewRecorder()
				e.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent || w.Header().Get(echo.HeaderXRequestID) == "" {
					b.Fatalf("status %d, id %q", w.Code, w.Header().Get(echo.HeaderXRequestID))
				}
			}
		})
	}
}
