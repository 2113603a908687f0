package upstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/upstream"
)

// newClient returns a client of service "catalog" at base with retries off
// unless cfg says otherwise.
func newClient(t *testing.T, base string, cfg upstream.Config, opts upstream.Options) *upstream.Client {
	t.Helper()
	cfg.BaseURL = base
	c, err := upstream.New("catalog", cfg, opts)
	require.NoError(t, err)
	return c
}

func TestClient_SendsIdentityNotCredentials(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		_ = json.NewEncoder(w).Encode(domain.Product{ID: "p1", Name: "Kettle"})
	}))
	t.Cleanup(srv.Close)

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c := newClient(t, srv.URL, upstream.Config{}, upstream.Options{
		TracerProvider: tp,
		Propagator:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}),
	})

	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, err := trace.ParseTraceState("vendor=blue")
	require.NoError(t, err)
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true,
	}))
	ctx = requestid.WithID(ctx, "req-123")
	ctx = auth.WithPrincipal(ctx, &auth.Principal{
		Subject: "alice", Roles: []auth.Role{"customer", "staff"}, Tenant: "t1", Partner: "acme", Client: auth.ClientMobile,
	})

	var p domain.Product
	err = c.Do(ctx, upstream.Request{
		Path: upstream.Path("products", "p1"),
		Header: http.Header{
			"Authorization":   {"Bearer secret-token"},
			"Cookie":          {"sf_session=secret"},
			"X-Api-Key":       {"secret-key"},
			"X-User-Id":       {"mallory"},
			"Idempotency-Key": {"k-1"},
		},
	}, &p)
	require.NoError(t, err)
	assert.Equal(t, "Kettle", p.Name)

	h := <-got
	assert.Equal(t, "req-123", h.Get("X-Request-Id"))
	assert.Equal(t, "alice", h.Get("X-User-Id"))
	assert.Equal(t, "customer,staff", h.Get("X-User-Roles"))
	assert.Equal(t, "t1", h.Get("X-Tenant-Id"))
	assert.Equal(t, "acme", h.Get("X-Partner-Id"))
	assert.Equal(t, "mobile", h.Get("X-Client"))
	assert.Equal(t, "k-1", h.Get("Idempotency-Key"))
	assert.Contains(t, h.Get("Traceparent"), "4bf92f3577b34da6a3ce929d0e0e4736")
	assert.NotContains(t, h.Get("Traceparent"), "00f067aa0ba902b7", "the upstream's parent is the client span")
	assert.Equal(t, "vendor=blue", h.Get("Tracestate"))
	for _, name := range []string{"Authorization", "Cookie", "X-Api-Key"} {
		assert.Empty(t, h.Values(name), name)
	}

	spans := rec.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, "catalog GET", spans[0].Name())
	assert.Equal(t, trace.SpanKindClient, spans[0].SpanKind())
	assert.Equal(t, traceID, spans[0].SpanContext().TraceID())
}

// TestClient_PassesTheCallerTraceWithoutSpans: without a TracerProvider
// the call carries the caller's span context as it is, each header once
// under its canonical name, with the identity headers beside it.
func TestClient_PassesTheCallerTraceWithoutSpans(t *testing.T) {
	t.Parallel()
	base, got := headerServer(t)
	c := newClient(t, base, upstream.Config{}, upstream.Options{Client: auth.ClientWeb})

	ctx := callerSpan(t)
	ctx = requestid.WithID(ctx, "req-9")
	ctx = auth.WithPrincipal(ctx, &auth.Principal{Subject: "bob", Roles: []auth.Role{"customer"}})

	require.NoError(t, c.Do(ctx, upstream.Request{Path: "/x", Header: http.Header{"traceparent": {"00-forged"}}}, nil))
	h := <-got
	assert.Equal(t, []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, h.Values("Traceparent"))
	assert.Equal(t, []string{"vendor=blue"}, h.Values("Tracestate"))
	assert.Equal(t, []string{"req-9"}, h.Values("X-Request-Id"))
	assert.Equal(t, []string{"bob"}, h.Values("X-User-Id"))
	assert.Equal(t, []string{"customer"}, h.Values("X-User-Roles"))
	assert.Equal(t, []string{"web"}, h.Values("X-Client"))
	assert.Equal(t, []string{"application/json"}, h.Values("Accept"))
	assert.Equal(t, []string{"shopfront-edge"}, h.Values("User-Agent"))
}

// headerServer answers 204 and hands over the headers of each request.
func headerServer(t *testing.T) (string, <-chan http.Header) {
	t.Helper()
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

func TestClient_NoPrincipalNoIdentityHeaders(t *testing.T) {
	t.Parallel()
	base, got := headerServer(t)
	c := newClient(t, base, upstream.Config{}, upstream.Options{})

	require.NoError(t, c.Do(context.Background(), upstream.Request{Path: "/x"}, nil))
	h := <-got
	for _, name := range []string{"X-User-Id", "X-User-Roles", "X-Tenant-Id", "X-Partner-Id", "X-Client", "X-Request-Id", "Traceparent"} {
		assert.Empty(t, h.Values(name), name)
	}
}

// TestClient_XClientFromGatewayKind: X-Client comes from the principal when
// it has a kind, else from Options.Client, so anonymous calls say which
// gateway made them; a forged X-Client never passes, and the other identity
// headers still come from the principal only.
func TestClient_XClientFromGatewayKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		kind          auth.Client
		principal     *auth.Principal
		header        http.Header
		expectClient  []string
		expectUserID  []string
		expectPartner []string
	}{
		{name: "ok, anonymous call carries the gateway's kind", kind: auth.ClientWeb, expectClient: []string{"web"}},
		{name: "ok, the principal's kind wins", kind: auth.ClientWeb,
			principal:    &auth.Principal{Subject: "alice", Client: auth.ClientMobile},
			expectClient: []string{"mobile"}, expectUserID: []string{"alice"}},
		{name: "ok, principal without a kind gets the gateway's", kind: auth.ClientPartner,
			principal:    &auth.Principal{Subject: "acme-client", Partner: "acme"},
			expectClient: []string{"partner"}, expectUserID: []string{"acme-client"}, expectPartner: []string{"acme"}},
		{name: "nok, forged X-Client is replaced by the gateway's kind", kind: auth.ClientWeb,
			header: http.Header{"X-Client": {"partner"}, "X-User-Id": {"mallory"}}, expectClient: []string{"web"}},
		{name: "nok, no kind and no principal: no X-Client", header: http.Header{"X-Client": {"partner"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan http.Header, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Clone()
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, upstream.Config{}, upstream.Options{Client: tt.kind})
			ctx := context.Background()
			if tt.principal != nil {
				ctx = auth.WithPrincipal(ctx, tt.principal)
			}
			require.NoError(t, c.Do(ctx, upstream.Request{Path: "/x", Header: tt.header}, nil))
			h := <-got
			assert.Equal(t, tt.expectClient, h.Values("X-Client"))
			assert.Equal(t, tt.expectUserID, h.Values("X-User-Id"))
			assert.Equal(t, tt.expectPartner, h.Values("X-Partner-Id"))
			for _, name := range []string{"X-User-Roles", "X-Tenant-Id"} {
				assert.Empty(t, h.Values(name), name)
			}
		})
	}
}

// resetServer accepts connections and resets them without answering.
func resetServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = conn.Read(buf)
			_ = conn.(*net.TCPConn).SetLinger(0) // Close sends RST.
			_ = conn.Close()
		}
	}()
	return "http://" + l.Addr().String()
}

func TestClient_MapsFailuresByKind(t *testing.T) {
	t.Parallel()
	handler := func(status int, body string, delay time.Duration) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
					return
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	tests := []struct {
		name       string
		givenURL   func(t *testing.T) string
		whenCtx    func() (context.Context, context.CancelFunc)
		expectErr  bool
		expectKind upstream.Kind
		expectCode string
		expectStat int
	}{
		{
			name:     "ok, 200 decodes",
			givenURL: serve(handler(200, `{"id":"p1"}`, 0)),
		},
		{
			name:      "nok, slow upstream is a 504 upstream_timeout",
			givenURL:  serve(handler(200, `{}`, 2*time.Second)),
			expectErr: true, expectKind: upstream.KindTimeout, expectStat: 504, expectCode: problem.CodeUpstreamTimeout,
		},
		{
			name: "nok, caller deadline shorter than the timeout is a 504",
			whenCtx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			givenURL:  serve(handler(200, `{}`, time.Second)),
			expectErr: true, expectKind: upstream.KindTimeout, expectStat: 504, expectCode: problem.CodeUpstreamTimeout,
		},
		{
			name:      "nok, connection refused is a 503 upstream_unavailable",
			givenURL:  func(t *testing.T) string { return "http://" + edgetest.DeadAddr(t) },
			expectErr: true, expectKind: upstream.KindUnavailable, expectStat: 503, expectCode: problem.CodeUpstreamUnavailable,
		},
		{
			name:      "nok, connection reset is a 502 upstream_unavailable",
			givenURL:  resetServer,
			expectErr: true, expectKind: upstream.KindReset, expectStat: 502, expectCode: problem.CodeUpstreamUnavailable,
		},
		{
			name:      "nok, upstream 500 is a 502 upstream_unavailable",
			givenURL:  serve(handler(500, `{"error":"db_down","detail":"pq: password authentication failed"}`, 0)),
			expectErr: true, expectKind: upstream.KindServerError, expectStat: 502, expectCode: problem.CodeUpstreamUnavailable,
		},
		{
			name:      "nok, upstream 404 is a 404 not_found",
			givenURL:  serve(handler(404, `{"error":"not_found"}`, 0)),
			expectErr: true, expectKind: upstream.KindClientError, expectStat: 404, expectCode: problem.CodeNotFound,
		},
		{
			name:      "nok, upstream 400 is a 400 bad_request without the upstream body",
			givenURL:  serve(handler(400, `{"error":"internal_table_x_invalid","detail":"column secret_col"}`, 0)),
			expectErr: true, expectKind: upstream.KindClientError, expectStat: 400, expectCode: problem.CodeBadRequest,
		},
		{
			name:      "nok, upstream 422 passes its status and stable code",
			givenURL:  serve(handler(422, `{"error":"idempotency_key_reused","detail":"key k-1 used for order o-9"}`, 0)),
			expectErr: true, expectKind: upstream.KindClientError, expectStat: 422, expectCode: "idempotency_key_reused",
		},
		{
			name:      "nok, upstream 409 with a malformed code gets a generic one",
			givenURL:  serve(handler(409, `{"error":"Bad Thing <script>"}`, 0)),
			expectErr: true, expectKind: upstream.KindClientError, expectStat: 409, expectCode: "conflict",
		},
		{
			name:      "nok, undecodable answer is a 502",
			givenURL:  serve(handler(200, `<html>oops</html>`, 0)),
			expectErr: true, expectKind: upstream.KindBadResponse, expectStat: 502, expectCode: problem.CodeUpstreamUnavailable,
		},
		{
			name: "nok, answer cut short by the timeout is a 504",
			givenURL: serve(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"id":`))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}),
			expectErr: true, expectKind: upstream.KindTimeout, expectStat: 504, expectCode: problem.CodeUpstreamTimeout,
		},
		{
			name:      "nok, data after the answer is a 502",
			givenURL:  serve(handler(200, `{"id":"p1"} {"id":"p2"}`, 0)),
			expectErr: true, expectKind: upstream.KindBadResponse, expectStat: 502, expectCode: problem.CodeUpstreamUnavailable,
		},
		{
			name: "nok, redirect is not followed and is a 502",
			givenURL: serve(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://example.invalid/", http.StatusFound)
			}),
			expectErr: true, expectKind: upstream.KindBadResponse, expectStat: 502, expectCode: problem.CodeUpstreamUnavailable,
		},
		{
			name: "nok, caller gone is a 499",
			whenCtx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			},
			givenURL:  serve(handler(200, `{}`, time.Second)),
			expectErr: true, expectKind: upstream.KindCanceled, expectStat: problem.StatusClientClosedRequest, expectCode: problem.CodeClientClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tt.givenURL(t), upstream.Config{Timeout: 200 * time.Millisecond}, upstream.Options{})
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.whenCtx != nil {
				ctx, cancel = tt.whenCtx()
			}
			defer cancel()

			var p domain.Product
			err := c.Do(ctx, upstream.Request{Path: "/products/p1"}, &p)

			if !tt.expectErr {
				require.NoError(t, err)
				assert.Equal(t, "p1", p.ID)
				return
			}
			var ue *upstream.Error
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, "catalog", ue.Service)
			assert.Equal(t, tt.expectKind, ue.Kind)
			pr := problem.Resolve(err)
			assert.Equal(t, tt.expectStat, pr.Status)
			assert.Equal(t, tt.expectCode, pr.Code)
			assert.NotContains(t, pr.Detail, "secret")
			assert.NotContains(t, pr.Detail, "password")
			assert.NotContains(t, pr.Detail, "o-9")
		})
	}
}

func serve(h http.HandlerFunc) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
}

// failingServer answers with the status in *status and counts its hits.
type failingServer struct {
	status atomic.Int32
	hits   atomic.Int64
	url    string
}

func newFailingServer(t *testing.T, status int) *failingServer {
	t.Helper()
	f := newFailingHandler(status)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// newFailingHandler is a failingServer without a socket, to serve through
// edgetest.HandlerTransport on a synctest fake clock.
func newFailingHandler(status int) *failingServer {
	f := &failingServer{url: "http://catalog.test"}
	f.status.Store(int32(status))
	return f
}

func (f *failingServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.hits.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(f.status.Load()))
	_, _ = w.Write([]byte(`{}`))
}

// TestBreaker_OpensFailsFastHalfOpensAndCloses runs on fake time through an
// in-memory transport, so the open breaker's 200 ms are exact: no call can
// slip into half-open early on a slow machine.
func TestBreaker_OpensFailsFastHalfOpensAndCloses(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFailingHandler(http.StatusInternalServerError)
		reg := prometheus.NewRegistry()
		c := newClient(t, f.url, upstream.Config{
			Breaker: upstream.BreakerConfig{OpenTimeout: 200 * time.Millisecond},
			Retry:   upstream.RetryConfig{Disabled: true},
		}, upstream.Options{Registerer: reg, Transport: edgetest.HandlerTransport(f)})
		ctx := context.Background()
		call := func() error { return c.Do(ctx, upstream.Request{Path: "/x"}, nil) }

		for range 5 {
			require.Error(t, call())
		}
		assert.Equal(t, int64(5), f.hits.Load())
		assert.Equal(t, "open", c.BreakerState())
		assert.Equal(t, 2.0, gauge(t, reg, "shopfront_upstream_breaker_state"))

		for range 10 {
			err := call()
			var ue *upstream.Error
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, upstream.KindBreakerOpen, ue.Kind)
			assert.Equal(t, 503, problem.Resolve(err).Status)
		}
		assert.Equal(t, int64(5), f.hits.Load(), "an open breaker makes no call")

		time.Sleep(200 * time.Millisecond)
		assert.Equal(t, 2.0, gauge(t, reg, "shopfront_upstream_breaker_state"), "open for all of OpenTimeout")
		time.Sleep(time.Millisecond)
		assert.Equal(t, 1.0, gauge(t, reg, "shopfront_upstream_breaker_state"), "a scrape sees the breaker half-open without any call")
		assert.Equal(t, "half-open", c.BreakerState())
		f.status.Store(http.StatusOK)
		require.NoError(t, call())
		assert.Equal(t, int64(6), f.hits.Load())
		assert.Equal(t, "closed", c.BreakerState())
		assert.Equal(t, 0.0, gauge(t, reg, "shopfront_upstream_breaker_state"))
		assert.Equal(t, 10.0, series(t, reg, "shopfront_upstream_calls_total", "outcome", "breaker_open"))
	})
}

func TestBreaker_HalfOpenFailureReopens(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFailingHandler(http.StatusBadGateway)
		c := newClient(t, f.url, upstream.Config{
			Breaker: upstream.BreakerConfig{ConsecutiveFailures: 2, OpenTimeout: 100 * time.Millisecond},
			Retry:   upstream.RetryConfig{Disabled: true},
		}, upstream.Options{Transport: edgetest.HandlerTransport(f)})
		call := func() error { return c.Do(context.Background(), upstream.Request{Path: "/x"}, nil) }
		require.Error(t, call())
		require.Error(t, call())
		require.Equal(t, "open", c.BreakerState())
		time.Sleep(101 * time.Millisecond) // Half-open once OpenTimeout has passed.
		require.Equal(t, "half-open", c.BreakerState())

		require.Error(t, call())

		assert.Equal(t, "open", c.BreakerState())
		assert.Equal(t, int64(3), f.hits.Load())
	})
}

func TestBreaker_OpensOnFailureRatio(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, upstream.Config{Retry: upstream.RetryConfig{Disabled: true}}, upstream.Options{})

	for i := range 19 {
		_ = c.Do(context.Background(), upstream.Request{Path: "/x"}, nil)
		require.Equal(t, "closed", c.BreakerState(), "call %d: fewer than 20 calls never trip on the ratio", i+1)
	}
	_ = c.Do(context.Background(), upstream.Request{Path: "/x"}, nil) // 20th call, 10th failure.

	assert.Equal(t, "open", c.BreakerState())
}

func TestBreaker_IgnoresClientErrorsAndCancellations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		ctx     func(arrived <-chan struct{}) (context.Context, context.CancelFunc)
	}{
		{
			name:    "ok, 404s keep the breaker closed",
			handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) },
		},
		{
			name: "ok, cancelled calls keep the breaker closed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			},
			// Cancelled once the call reached the service: a timer could
			// fire first on a loaded machine, and then no call is made.
			ctx: func(arrived <-chan struct{}) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				go func() { <-arrived; cancel() }()
				return ctx, cancel
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			arrived := make(chan struct{}, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				select {
				case arrived <- struct{}{}:
				default:
				}
				tt.handler(w, r)
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, upstream.Config{Retry: upstream.RetryConfig{Disabled: true}}, upstream.Options{})
			for range 10 {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if tt.ctx != nil {
					ctx, cancel = tt.ctx(arrived)
				}
				require.Error(t, c.Do(ctx, upstream.Request{Path: "/x"}, nil))
				cancel()
			}
			assert.Equal(t, "closed", c.BreakerState())
			assert.Equal(t, int64(10), hits.Load())
		})
	}
}

func TestRetry_OnceForIdempotentCallsOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		whenMethod string
		whenIdem   bool
		givenFirst int
		expectHits int64
		expectErr  bool
	}{
		{name: "ok, GET after a 503 is retried and succeeds", whenMethod: http.MethodGet, givenFirst: 503, expectHits: 2},
		{name: "ok, PUT after a 502 is retried and succeeds", whenMethod: http.MethodPut, givenFirst: 502, expectHits: 2},
		{name: "ok, POST with an idempotency key is retried", whenMethod: http.MethodPost, whenIdem: true, givenFirst: 503, expectHits: 2},
		{name: "nok, POST is not retried", whenMethod: http.MethodPost, givenFirst: 503, expectHits: 1, expectErr: true},
		{name: "nok, PATCH is not retried", whenMethod: http.MethodPatch, givenFirst: 503, expectHits: 1, expectErr: true},
		{name: "nok, PATCH after a 502 is not retried", whenMethod: http.MethodPatch, givenFirst: 502, expectHits: 1, expectErr: true},
		{name: "nok, GET after a 500 is not retried", whenMethod: http.MethodGet, givenFirst: 500, expectHits: 1, expectErr: true},
		{name: "nok, GET after a 504 is not retried", whenMethod: http.MethodGet, givenFirst: 504, expectHits: 1, expectErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if hits.Add(1) == 1 {
					w.WriteHeader(tt.givenFirst)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, upstream.Config{Retry: upstream.RetryConfig{Backoff: time.Millisecond}}, upstream.Options{})

			err := c.Do(context.Background(), upstream.Request{Method: tt.whenMethod, Path: "/x", JSON: map[string]int{"quantity": 1}, Idempotent: tt.whenIdem}, nil)

			assert.Equal(t, tt.expectErr, err != nil, "error: %v", err)
			assert.Equal(t, tt.expectHits, hits.Load())
		})
	}
}

// TestRetry_PatchIsNeverRetried: an upload chunk sent with PATCH may have
// been written before the connection broke, so the client never sends it
// twice, whatever the failure; the caller asks the service for the offset
// instead.
func TestRetry_PatchIsNeverRetried(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	var mu sync.Mutex
	var got []byte
	var gotType string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, gotType = b, r.Header.Get("Content-Type")
		mu.Unlock()
		// The connection breaks after the body arrived: a reset, which an
		// idempotent call would retry.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, upstream.Config{Retry: upstream.RetryConfig{Backoff: time.Millisecond}}, upstream.Options{})

	err := c.Do(context.Background(), upstream.Request{Method: http.MethodPatch, Path: "/uploads/u1", Body: []byte("chunk")}, nil)

	require.Error(t, err)
	assert.Equal(t, 502, problem.Resolve(err).Status)
	assert.Equal(t, int64(1), hits.Load(), "PATCH was sent once")
	mu.Lock()
	assert.Equal(t, "chunk", string(got))
	assert.Equal(t, "application/octet-stream", gotType, "a raw body defaults to octet-stream")
	mu.Unlock()

	// The same failure on a GET is retried: the rule is the method's.
	hits.Store(0)
	_ = c.Do(context.Background(), upstream.Request{Path: "/uploads/u1"}, nil)
	assert.Equal(t, int64(2), hits.Load())
}

func TestRetry_RefusedConnectionIsRetriedOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := newClient(t, "http://"+edgetest.DeadAddr(t), upstream.Config{Retry: upstream.RetryConfig{Backoff: time.Millisecond}},
		upstream.Options{Registerer: reg})

	err := c.Do(context.Background(), upstream.Request{Path: "/x"}, nil)

	assert.Equal(t, 503, problem.Resolve(err).Status)
	assert.Equal(t, 1.0, series(t, reg, "shopfront_upstream_retries_total", "service", "catalog"))
}

func TestRetry_NeverExceedsBudgetUnderTotalFailure(t *testing.T) {
	t.Parallel()
	f := newFailingServer(t, http.StatusServiceUnavailable)
	reg := prometheus.NewRegistry()
	c := newClient(t, f.url, upstream.Config{
		// The breaker would stop the calls first; this test is about the budget.
		Breaker: upstream.BreakerConfig{ConsecutiveFailures: 1 << 30, MinRequests: 1 << 30},
		Retry:   upstream.RetryConfig{Backoff: time.Millisecond},
	}, upstream.Options{Registerer: reg})

	const calls = 300
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for range calls / 6 {
				assert.Error(t, c.Do(context.Background(), upstream.Request{Path: "/x"}, nil))
			}
		})
	}
	wg.Wait()

	retried := f.hits.Load() - calls
	// The bound: retries <= 10 % of the calls, plus the floor of one
	// retry per window (DefaultRetryBudgetMinRetries).
	assert.LessOrEqual(t, retried, int64(calls/10+1))
	assert.Positive(t, retried, "the budget does allow some retries")
	assert.Equal(t, float64(retried), series(t, reg, "shopfront_upstream_retries_total", "service", "catalog"))
}

func TestClient_LimitsAnswerSize(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"name":"` + strings.Repeat("x", 4096) + `"}`))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, upstream.Config{MaxResponseBytes: 1024}, upstream.Options{})

	var p domain.Product
	err := c.Do(context.Background(), upstream.Request{Path: "/x"}, &p)

	assert.Equal(t, 502, problem.Resolve(err).Status)
}

func TestPath_EscapesEachSegment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  []string
		expect string
	}{
		{name: "ok, plain", given: []string{"products", "p1"}, expect: "/products/p1"},
		{name: "ok, slash stays in its segment", given: []string{"products", "a/b"}, expect: "/products/a%2Fb"},
		{name: "ok, query characters are escaped", given: []string{"products", "a?b=1#c"}, expect: "/products/a%3Fb=1%23c"},
		{name: "ok, dot-dot cannot climb", given: []string{"products", ".."}, expect: "/products/%2E%2E"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.expect, upstream.Path(tt.given...))
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		given     upstream.Config
		expectErr []string
	}{
		{name: "ok, base URL only", given: upstream.Config{BaseURL: "http://127.0.0.1:9000/catalog"}},
		{name: "nok, no base URL", given: upstream.Config{}, expectErr: []string{"baseURL is required"}},
		{name: "nok, relative base URL", given: upstream.Config{BaseURL: "/catalog"}, expectErr: []string{"absolute http(s) URL"}},
		{
			name:      "nok, every problem at once",
			given:     upstream.Config{BaseURL: "ftp://x", Timeout: -1, Breaker: upstream.BreakerConfig{FailureRatio: 2}},
			expectErr: []string{"absolute http(s) URL", "timeout", "breaker.failureRatio"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.given.Validate()
			if len(tt.expectErr) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, s := range tt.expectErr {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return series(t, reg, name, "service", "catalog")
}

// series returns the value of the counter or gauge series of name whose
// label has value.
func series(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("series %s{%s=%q} not found", name, label, value)
	return 0
}

func TestClient_SpentBudgetMakesNoCallAndDoesNotTrip(t *testing.T) {
	t.Parallel()
	f := newFailingServer(t, http.StatusOK)
	c := newClient(t, f.url, upstream.Config{Breaker: upstream.BreakerConfig{ConsecutiveFailures: 1}}, upstream.Options{})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()

	for range 3 {
		err := c.Do(ctx, upstream.Request{Path: "/x"}, nil)
		assert.Equal(t, 504, problem.Resolve(err).Status)
	}

	assert.Equal(t, int64(0), f.hits.Load())
	assert.Equal(t, "closed", c.BreakerState())
	assert.NoError(t, c.CheckBreaker(context.Background()))
}

func TestClient_CheckBreakerReportsOpen(t *testing.T) {
	t.Parallel()
	f := newFailingServer(t, http.StatusInternalServerError)
	c := newClient(t, f.url, upstream.Config{Breaker: upstream.BreakerConfig{ConsecutiveFailures: 1, OpenTimeout: time.Minute}}, upstream.Options{})
	require.NoError(t, c.CheckBreaker(context.Background()))

	_ = c.Do(context.Background(), upstream.Request{Path: "/x"}, nil)

	assert.ErrorIs(t, c.CheckBreaker(context.Background()), upstream.ErrBreakerOpen)
}

func TestBreaker_JudgesTimeoutsAgainstTheServiceOwnTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		givenTO     time.Duration
		whenCallers time.Duration
		expectState string
	}{
		{name: "ok, the client's own timeout counts as a failure", givenTO: 50 * time.Millisecond, expectState: "open"},
		{name: "ok, a caller deadline equal to the Timeout (storefront's order budget) counts", givenTO: 100 * time.Millisecond, whenCallers: 100 * time.Millisecond, expectState: "open"},
		{name: "ok, a much shorter caller deadline (spent route budget) does not", givenTO: time.Second, whenCallers: 50 * time.Millisecond, expectState: "closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// On fake time: which deadline fired first is exact, not a
			// race between timers on a busy machine.
			synctest.Test(t, func(t *testing.T) {
				hang := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
				// The default breaker: 5 consecutive failures open it.
				c := newClient(t, "http://catalog.test", upstream.Config{Timeout: tt.givenTO},
					upstream.Options{Transport: edgetest.HandlerTransport(hang)})

				for range 5 {
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if tt.whenCallers > 0 {
						ctx, cancel = context.WithTimeout(ctx, tt.whenCallers)
					}
					err := c.Do(ctx, upstream.Request{Path: "/x"}, nil)
					cancel()
					assert.Equal(t, 504, problem.Resolve(err).Status)
				}

				assert.Equal(t, tt.expectState, c.BreakerState())
			})
		})
	}
}

func TestClient_LogsFailuresWithoutSecrets(t *testing.T) {
	t.Parallel()
	f := newFailingServer(t, http.StatusInternalServerError)
	core, logs := observer.New(zap.DebugLevel)
	c := newClient(t, f.url, upstream.Config{}, upstream.Options{Logger: zap.New(core)})
	ctx := requestid.WithID(context.Background(), "req-9")

	err := c.Do(ctx, upstream.Request{Path: "/x", Header: http.Header{"Authorization": {"Bearer s3cr3t"}}}, nil)

	require.Error(t, err)
	assert.Empty(t, logs.FilterLevelExact(zap.WarnLevel).All(), "the caller logs the failure with its route, once")
	debug := logs.FilterLevelExact(zap.DebugLevel).FilterMessage("upstream call failed").All()
	require.Len(t, debug, 1)
	fields := debug[0].ContextMap()
	assert.Equal(t, "catalog", fields["service"])
	assert.Equal(t, "req-9", fields["requestId"])
	assert.Equal(t, "server_error", fields["outcome"])
	for _, e := range logs.All() {
		assert.NotContains(t, fmt.Sprint(e.ContextMap()), "s3cr3t")
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestRetry_FewFailingCallsGetOneRetry(t *testing.T) {
	t.Parallel()
	f := newFailingServer(t, http.StatusServiceUnavailable)
	c := newClient(t, f.url, upstream.Config{
		Breaker: upstream.BreakerConfig{ConsecutiveFailures: 1 << 30, MinRequests: 1 << 30},
		Retry:   upstream.RetryConfig{Backoff: time.Millisecond},
	}, upstream.Options{})

	for range 5 {
		assert.Error(t, c.Do(context.Background(), upstream.Request{Path: "/x"}, nil))
	}

	assert.Equal(t, int64(5+1), f.hits.Load(), "5 failing calls: the floor of one retry, 10 % of 5 adds none")
}

func TestRetry_BudgetRefillsAsTheWindowMoves(t *testing.T) {
	t.Parallel()
	f := newFailingServer(t, http.StatusServiceUnavailable)
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newClient(t, f.url, upstream.Config{
		Breaker: upstream.BreakerConfig{ConsecutiveFailures: 1 << 30, MinRequests: 1 << 30},
		Retry:   upstream.RetryConfig{Backoff: time.Millisecond, BudgetMinRetries: 1, BudgetWindow: 10 * time.Second},
	}, upstream.Options{Now: clock.Now})
	call := func() { _ = c.Do(context.Background(), upstream.Request{Path: "/x"}, nil) }

	call()
	assert.Equal(t, int64(2), f.hits.Load(), "the minimum allows one retry at start-up")
	call()
	call()
	assert.Equal(t, int64(4), f.hits.Load(), "1 + 10 % of 3 calls allows no second retry")

	clock.Add(11 * time.Second)
	call()
	assert.Equal(t, int64(6), f.hits.Load(), "a new window allows a retry again")
}

// TestClient_SendsThePathItWasGiven: the request line carries the base
// URL's path and the caller's escaped path and query byte for byte, and the
// Host header is the base URL's, whatever the path holds.
func TestClient_SendsThePathItWasGiven(t *testing.T) {
	t.Parallel()
	type seen struct{ uri, host, body string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{uri: r.RequestURI, host: r.Host, body: string(b)}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name       string
		givenBase  string
		whenReq    upstream.Request
		expectURI  string
		expectBody string
	}{
		{name: "ok, plain", givenBase: srv.URL, whenReq: upstream.Request{Path: upstream.Path("products", "p1")},
			expectURI: "/products/p1"},
		{name: "ok, base path and trailing slash", givenBase: srv.URL + "/catalog/", whenReq: upstream.Request{Path: upstream.Path("products", "p1")},
			expectURI: "/catalog/products/p1"},
		{name: "ok, escaped slash stays escaped", givenBase: srv.URL + "/catalog", whenReq: upstream.Request{Path: upstream.Path("products", "a/b")},
			expectURI: "/catalog/products/a%2Fb"},
		{name: "ok, escaped dots and query characters", givenBase: srv.URL, whenReq: upstream.Request{Path: upstream.Path("products", "..", "a?b#c")},
			expectURI: "/products/%2E%2E/a%3Fb%23c"},
		{name: "ok, non-ASCII and spaces", givenBase: srv.URL, whenReq: upstream.Request{Path: upstream.Path("products", "thé vert")},
			expectURI: "/products/th%C3%A9%20vert"},
		{name: "ok, query", givenBase: srv.URL, whenReq: upstream.Request{Path: "/products", Query: map[string][]string{"ids": {"p1,p2"}, "q": {"a b&c"}}},
			expectURI: "/products?ids=p1%2Cp2&q=a+b%26c"},
		{name: "ok, JSON body", givenBase: srv.URL, whenReq: upstream.Request{Method: http.MethodPost, Path: "/orders", JSON: map[string]string{"id": "o1"}},
			expectURI: "/orders", expectBody: `{"id":"o1"}`},
		{name: "ok, empty body", givenBase: srv.URL, whenReq: upstream.Request{Method: http.MethodPut, Path: "/media/m1", Body: []byte{}},
			expectURI: "/media/m1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.givenBase, upstream.Config{}, upstream.Options{})

			require.NoError(t, c.Do(context.Background(), tt.whenReq, nil))

			s := <-got
			assert.Equal(t, tt.expectURI, s.uri)
			assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), s.host)
			assert.Equal(t, tt.expectBody, s.body)
		})
	}
}

// TestClient_RefusesAMalformedPath: a path url.Parse would refuse makes no
// call at all.
func TestClient_RefusesAMalformedPath(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, upstream.Config{}, upstream.Options{})

	for _, path := range []string{"/products/a\r\nX-Injected: 1", "/products/%zz"} {
		err := c.Do(context.Background(), upstream.Request{Path: path}, nil)
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue, path)
		assert.Equal(t, upstream.KindBadResponse, ue.Kind, path)
	}
	assert.Zero(t, hits.Load())
}

// TestClient_TimeoutIsTheSoonerOfCallerAndClient: a call ends at its
// client's Timeout or at the caller's deadline, whichever comes first (the
// client derives no deadline of its own when the caller's is sooner).
func TestClient_TimeoutIsTheSoonerOfCallerAndClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		givenDeadline time.Duration // 0: none
		expectElapsed time.Duration
	}{
		{name: "nok, no caller deadline: the Timeout", expectElapsed: 200 * time.Millisecond},
		{name: "nok, later caller deadline: the Timeout", givenDeadline: time.Second, expectElapsed: 200 * time.Millisecond},
		{name: "nok, equal caller deadline: the Timeout", givenDeadline: 200 * time.Millisecond, expectElapsed: 200 * time.Millisecond},
		{name: "nok, sooner caller deadline: the caller's", givenDeadline: 50 * time.Millisecond, expectElapsed: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				hang := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
				c := newClient(t, "http://catalog.test", upstream.Config{Timeout: 200 * time.Millisecond, Retry: upstream.RetryConfig{Disabled: true}},
					upstream.Options{Transport: edgetest.HandlerTransport(hang)})
				ctx := context.Background()
				if tt.givenDeadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.givenDeadline)
					defer cancel()
				}
				start := time.Now()

				err := c.Do(ctx, upstream.Request{Path: "/x"}, nil)

				var ue *upstream.Error
				require.ErrorAs(t, err, &ue)
				assert.Equal(t, upstream.KindTimeout, ue.Kind)
				assert.Equal(t, tt.expectElapsed, time.Since(start))
			})
		})
	}
}

// callerSpan returns a context holding a caller's sampled span context
// (trace 4bf92f35..., span 00f067aa0ba902b7, trace state vendor=blue).
func callerSpan(t *testing.T) context.Context {
	t.Helper()
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, err := trace.ParseTraceState("vendor=blue")
	require.NoError(t, err)
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, TraceState: ts,
	}))
}

// TestClient_SendsEveryHeaderOfAFullCall: a call carrying more headers
// than usual (trace state, a body, every identity header) sends each once
// with its own value.
func TestClient_SendsEveryHeaderOfAFullCall(t *testing.T) {
	t.Parallel()
	base, got := headerServer(t)
	c := newClient(t, base, upstream.Config{}, upstream.Options{})
	ctx := callerSpan(t)
	ctx = requestid.WithID(ctx, "req-10")
	ctx = auth.WithPrincipal(ctx, &auth.Principal{Subject: "carol", Roles: []auth.Role{"partner", "staff"},
		Tenant: "t9", Partner: "acme", Client: auth.ClientPartner})

	require.NoError(t, c.Do(ctx, upstream.Request{Method: http.MethodPost, Path: "/orders", JSON: map[string]int{"n": 1},
		Header: http.Header{"Idempotency-Key": {"k-7"}}}, nil))

	h := <-got
	want := map[string]string{
		"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Tracestate": "vendor=blue",
		"Accept": "application/json", "User-Agent": "shopfront-edge", "Content-Type": "application/json",
		"X-Request-Id": "req-10", "X-Client": "partner", "X-User-Id": "carol", "X-User-Roles": "partner,staff",
		"X-Tenant-Id": "t9", "X-Partner-Id": "acme", "Idempotency-Key": "k-7",
	}
	for k, v := range want {
		assert.Equal(t, []string{v}, h.Values(k), k)
	}
}
