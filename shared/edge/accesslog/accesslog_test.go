package accesslog_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/shopfront/shared/edge/accesslog"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/logging"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
)

// accessLines returns the logged access lines.
func accessLines(t *testing.T, b *edgetest.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

type fixture struct {
	url     string
	logs    *edgetest.Buffer
	entered chan struct{}
}

// newFixture serves an echo app with the edge chain the server uses
// (request id -> a span -> access log -> auth stand-in) and problem.Handler
// as its error renderer, over a real listener.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{logs: &edgetest.Buffer{}, entered: make(chan struct{}, 1)}
	log, err := logging.New("info", f.logs)
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: log})
	rid, err := requestid.Config{}.ToMiddleware()
	require.NoError(t, err)
	al, err := accesslog.Config{Logger: log}.ToMiddleware()
	require.NoError(t, err)
	// The outer recover as the server has it: it renders a panic as a 500.
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc:      func(_ echo.Context, err error, _ []byte) error { return err },
	}), rid)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Header.Get("X-Test-Trace") == "" {
				return next(c)
			}
			ctx, span := tp.Tracer("test").Start(c.Request().Context(), "req")
			defer span.End()
			c.SetRequest(c.Request().WithContext(ctx))
			c.Response().Header().Set("X-Test-Trace-Id", span.SpanContext().TraceID().String())
			return next(c)
		}
	})
	e.Use(al)
	// The auth stand-in: sets the principal inside the access log.
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var p *auth.Principal
			switch c.Request().Header.Get("X-Test-Principal") {
			case "user":
				p = &auth.Principal{Subject: "u-42", Tenant: "t-1", Client: auth.ClientMobile}
			case "partner":
				p = &auth.Principal{Partner: "acme", KeyID: "acme-prod-1", Client: auth.ClientPartner}
			}
			if p != nil {
				c.SetRequest(c.Request().WithContext(auth.WithPrincipal(c.Request().Context(), p)))
			}
			return next(c)
		}
	})
	e.GET("/v1/products/:id", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id")})
	})
	e.GET("/v1/secure", func(c echo.Context) error { return problem.Unauthorized("credentials are missing") })
	e.GET("/v1/boom", func(c echo.Context) error { return errors.New("database exploded") })
	e.GET("/v1/panic", func(c echo.Context) error { panic("nil map") })
	e.GET("/v1/slow", func(c echo.Context) error {
		f.entered <- struct{}{}
		<-c.Request().Context().Done()
		return c.Request().Context().Err()
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func TestAccessLogStatusAndFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		method, path string
		header       map[string]string
		expect       map[string]any // fields of the access line
		absent       []string       // fields the line must not have
	}{
		{
			name: "ok, 200 with route template, path, query, user",
			path: "/v1/products/p-17?lat=1.5&q=red", header: map[string]string{"X-Test-Principal": "user", "X-Request-Id": "req-abc"},
			expect: map[string]any{"status": 200.0, "route": "/v1/products/:id", "path": "/v1/products/p-17", "query": "lat=1.5&q=red",
				"method": "GET", "requestId": "req-abc", "userId": "u-42", "tenantId": "t-1", "clientIp": "127.0.0.1"},
			absent: []string{"partnerId", "error", "traceId"},
		},
		{
			name: "ok, partner principal by ids",
			path: "/v1/products/p-1", header: map[string]string{"X-Test-Principal": "partner"},
			expect: map[string]any{"status": 200.0, "partnerId": "acme", "keyId": "acme-prod-1"},
			absent: []string{"userId"},
		},
		{
			name:   "nok, unknown route is a 404 with route unmatched",
			path:   "/v1/nope/123",
			expect: map[string]any{"status": 404.0, "route": accesslog.Unmatched, "path": "/v1/nope/123", "error": "not_found"},
		},
		{
			name: "nok, wrong method is a 405 with route unmatched", method: http.MethodPost,
			path:   "/v1/products/p-1",
			expect: map[string]any{"status": 405.0, "route": accesslog.Unmatched, "error": "method_not_allowed"},
		},
		{
			name:   "nok, handler problem 401 is logged as sent",
			path:   "/v1/secure",
			expect: map[string]any{"status": 401.0, "route": "/v1/secure", "error": "unauthorized", "level": "info"},
		},
		{
			name:   "nok, panic is logged as 500 at warn",
			path:   "/v1/panic",
			expect: map[string]any{"status": 500.0, "route": "/v1/panic", "error": "panic", "level": "warn"},
		},
		{
			name:   "nok, plain error is logged as 500 at warn",
			path:   "/v1/boom",
			expect: map[string]any{"status": 500.0, "route": "/v1/boom", "error": "internal_error", "level": "warn"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, f.url+tt.path, nil)
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()

			lines := accessLines(t, f.logs)
			require.Len(t, lines, 1)
			line := lines[0]
			assert.Equal(t, float64(res.StatusCode), line["status"], "logged status is the one sent")
			if tt.path != "/v1/panic" { // the outer recover writes after the line
				assert.Equal(t, float64(len(body)), line["bytesOut"])
			}
			assert.Equal(t, res.Header.Get(echo.HeaderXRequestID), line["requestId"])
			for k, v := range tt.expect {
				assert.Equal(t, v, line[k], k)
			}
			for _, k := range tt.absent {
				assert.NotContains(t, line, k)
			}
			assert.Contains(t, line, "latencyMs")
			assert.NotContains(t, line, "caller")
		})
	}
}

func TestAccessLogTraceID(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req, err := http.NewRequest(http.MethodGet, f.url+"/v1/products/1", nil)
	require.NoError(t, err)
	req.Header.Set("X-Test-Trace", "1")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	lines := accessLines(t, f.logs)
	require.Len(t, lines, 1)
	require.Len(t, res.Header.Get("X-Test-Trace-Id"), 32)
	assert.Equal(t, res.Header.Get("X-Test-Trace-Id"), lines[0]["traceId"])
	assert.Len(t, lines[0]["spanId"], 16)
}

func TestAccessLogClientCancelledIs499(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/v1/slow", nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-f.entered
	cancel()
	require.Error(t, <-done)
	require.Eventually(t, func() bool { return len(accessLines(t, f.logs)) == 1 }, 5*time.Second, 10*time.Millisecond)
	line := accessLines(t, f.logs)[0]
	assert.Equal(t, 499.0, line["status"])
	assert.Equal(t, "/v1/slow", line["route"])
	assert.Equal(t, "info", line["level"])
}

func TestAccessLogNeverLogsSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const (
		bearer = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2ln"
		key    = "sk_live_partner_key_123"
		cookie = "session-cookie-value-456"
		pass   = "hunter2"
	)
	for _, path := range []string{"/v1/products/1", "/v1/secure", "/v1/boom", "/v1/missing"} {
		req, err := http.NewRequest(http.MethodGet, f.url+path+"?access_token="+bearer+"&api_key="+key+"&password="+pass+"&q=ok", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Cookie", "sf_session="+cookie)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
	}
	out := f.logs.String()
	require.Len(t, accessLines(t, f.logs), 4)
	for _, s := range []string{bearer, key, cookie, pass} {
		assert.NotContains(t, out, s)
	}
	assert.Contains(t, out, "access_token=[REDACTED]")
	assert.Contains(t, out, "q=ok")
	// Every line of the chain (access lines and the renderer's 5xx line)
	// is a JSON object without duplicate keys, which log pipelines reject.
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		assert.Empty(t, duplicateKeys(t, l), l)
	}
}

func duplicateKeys(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	seen, dups := map[string]bool{}, []string(nil)
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err)
		k, ok := tok.(string)
		require.Truef(t, ok, "a member name, got %v", tok)
		if seen[k] {
			dups = append(dups, k)
		}
		seen[k] = true
		var v json.RawMessage
		require.NoError(t, dec.Decode(&v))
	}
	return dups
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, err := accesslog.Config{}.ToMiddleware()
	assert.ErrorContains(t, err, "Logger is required")
}
