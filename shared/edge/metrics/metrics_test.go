package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/accesslog"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/problem"
)

type fixture struct {
	public, admin string
	reg           *prometheus.Registry
	entered       chan struct{}
}

// newFixture serves a gateway-like app (metrics outside the access log, as
// in the server's chain, or alone) and its /metrics on a second listener.
func newFixture(t *testing.T, withAccessLog bool) *fixture {
	t.Helper()
	f := &fixture{reg: metrics.NewRegistry(), entered: make(chan struct{}, 1)}
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	mw, err := metrics.Config{Registry: f.reg}.ToMiddleware()
	require.NoError(t, err)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc:      func(_ echo.Context, err error, _ []byte) error { return err },
	}))
	e.Use(mw)
	if withAccessLog {
		al, err := accesslog.Config{Logger: zap.NewNop()}.ToMiddleware()
		require.NoError(t, err)
		e.Use(al)
	}
	e.GET("/v1/products/:id", func(c echo.Context) error { return c.String(http.StatusOK, c.Param("id")) })
	e.GET("/v1/secure", func(c echo.Context) error { return problem.Unauthorized("no credentials") })
	e.GET("/v1/panic", func(c echo.Context) error { panic("nil map") })
	e.GET("/v1/boom", func(c echo.Context) error { return errors.New("boom") })
	e.GET("/v1/slow", func(c echo.Context) error {
		f.entered <- struct{}{}
		<-c.Request().Context().Done()
		return c.Request().Context().Err()
	})
	pub := httptest.NewServer(e)
	t.Cleanup(pub.Close)
	adm := httptest.NewServer(metrics.Handler(f.reg))
	t.Cleanup(adm.Close)
	f.public, f.admin = pub.URL, adm.URL
	return f
}

func (f *fixture) do(t *testing.T, method, path string) int {
	t.Helper()
	req, err := http.NewRequest(method, f.public+path, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func (f *fixture) scrape(t *testing.T) string {
	t.Helper()
	res, err := http.Get(f.admin)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

func TestHTTPMetrics(t *testing.T) {
	t.Parallel()
	for _, withAccessLog := range []bool{true, false} {
		name := map[bool]string{true: "ok, behind the access log", false: "ok, alone"}[withAccessLog]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, withAccessLog)
			for _, id := range []string{"a", "b", "c"} {
				assert.Equal(t, 200, f.do(t, http.MethodGet, "/v1/products/"+id))
			}
			assert.Equal(t, 401, f.do(t, http.MethodGet, "/v1/secure"))
			assert.Equal(t, 500, f.do(t, http.MethodGet, "/v1/boom"))
			assert.Equal(t, 500, f.do(t, http.MethodGet, "/v1/panic"))
			for _, p := range []string{"/x/1", "/x/2", "/x/3"} {
				assert.Equal(t, 404, f.do(t, http.MethodGet, p))
			}
			assert.Equal(t, 405, f.do(t, "BREW", "/v1/products/a"))

			out := f.scrape(t)
			for _, want := range []string{
				`shopfront_http_requests_total{method="GET",route="/v1/products/:id",status="200"} 3`,
				`shopfront_http_requests_total{method="GET",route="/v1/secure",status="401"} 1`,
				`shopfront_http_requests_total{method="GET",route="/v1/boom",status="500"} 1`,
				`shopfront_http_requests_total{method="GET",route="/v1/panic",status="500"} 1`,
				`shopfront_http_requests_total{method="GET",route="unmatched",status="404"} 3`,
				`shopfront_http_requests_total{method="OTHER",route="unmatched",status="405"} 1`,
				`shopfront_http_request_duration_seconds_count{method="GET",route="/v1/products/:id"} 3`,
				`shopfront_http_request_duration_seconds_bucket{method="GET",route="/v1/products/:id",le="2.5"} 3`,
				`go_goroutines `,
			} {
				assert.Contains(t, out, want)
			}
			assert.NotContains(t, out, "/x/1", "raw paths never become labels")
			assert.NotContains(t, out, "BREW")
		})
	}
}

func TestHTTPMetricsClientCancelledIs499(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.public+"/v1/slow", nil)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	<-f.entered
	cancel()
	<-done
	want := `shopfront_http_requests_total{method="GET",route="/v1/slow",status="499"} 1`
	require.Eventually(t, func() bool { return strings.Contains(f.scrape(t), want) }, 5*time.Second, 20*time.Millisecond)
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		given     func(reg *prometheus.Registry) metrics.Config
		expectErr string
	}{
		{name: "nok, registry missing", given: func(*prometheus.Registry) metrics.Config { return metrics.Config{} }, expectErr: "Registry is required"},
		{
			name: "nok, clashing collector of another type",
			given: func(reg *prometheus.Registry) metrics.Config {
				reg.MustRegister(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shopfront_http_requests_total", Help: "x"}, []string{"route", "method", "status"}))
				return metrics.Config{Registry: reg}
			},
			expectErr: "shopfront_http_requests_total",
		},
		{name: "ok, defaults", given: func(reg *prometheus.Registry) metrics.Config { return metrics.Config{Registry: reg} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.given(prometheus.NewRegistry()).ToMiddleware()
			if tt.expectErr != "" {
				assert.ErrorContains(t, err, tt.expectErr)
				return
			}
			assert.NoError(t, err)
		})
	}
}

// TestTwoMiddlewareShareSeries builds the middleware twice on one registry,
// as a gateway with several route groups may, and counts into one series.
func TestTwoMiddlewareShareSeries(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := echo.New()
	for _, path := range []string{"/a", "/b"} {
		mw, err := metrics.Config{Registry: reg}.ToMiddleware()
		require.NoError(t, err)
		e.GET(path, func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, mw)
	}
	for _, path := range []string{"/a", "/b", "/b"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusNoContent, rec.Code)
	}
	n, err := testutil.GatherAndCount(reg, "shopfront_http_requests_total")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP shopfront_http_requests_total HTTP requests served, by route template, method and status.
# TYPE shopfront_http_requests_total counter
shopfront_http_requests_total{method="GET",route="/a",status="204"} 1
shopfront_http_requests_total{method="GET",route="/b",status="204"} 2
`), "shopfront_http_requests_total"))
}

// TestHTTPMetricsConcurrentRequestsCountExactly sends requests of several
// label sets at once, so that series are first bound while others are
// counted: every request is counted once, in its own series.
func TestHTTPMetricsConcurrentRequestsCountExactly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	const workers, each = 4, 25
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				path := "/v1/products/" + string(rune('a'+w))
				if i%5 == 0 {
					path = "/v1/secure"
				}
				f.do(t, http.MethodGet, path)
			}
		}()
	}
	for range workers {
		<-done
	}
	out := f.scrape(t)
	assert.Contains(t, out, `shopfront_http_requests_total{method="GET",route="/v1/products/:id",status="200"} 80`)
	assert.Contains(t, out, `shopfront_http_requests_total{method="GET",route="/v1/secure",status="401"} 20`)
	assert.Contains(t, out, `shopfront_http_request_duration_seconds_count{method="GET",route="/v1/secure"} 20`)
}
