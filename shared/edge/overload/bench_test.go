package overload_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/overload"
)

// BenchmarkShed is the round trip of a shed answer over a real socket,
// with the limit's one slot held: what a refused client waits.
func BenchmarkShed(b *testing.B) {
	s := newStack(b, overload.Config{MinLimit: 1, MaxLimit: 1, InitialLimit: 1})
	_ = s.hold(b, "/work")
	client := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := client.Get(s.url + "/work")
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			b.Fatalf("status %d, want 503", res.StatusCode)
		}
	}
}

// BenchmarkAdmit is the limit's own cost on an admitted request, without
// sockets: a permit taken and its latency recorded.
func BenchmarkAdmit(b *testing.B) {
	lim, err := overload.New(overload.Config{Mode: overload.ModeAdaptive})
	require.NoError(b, err)
	h := lim.Middleware(func(echo.Context) error { return nil })
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	b.ReportAllocs()
	for b.Loop() {
		if err := h(c); err != nil {
			b.Fatal(err)
		}
	}
}
