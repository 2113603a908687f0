package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/server"
)

// running is a server serving on loopback ports for one test.
type running struct {
	*server.Server
	cancel context.CancelFunc
	done   chan error
}

func (r *running) url(path string) string      { return "http://" + r.Addr() + path }
func (r *running) adminURL(path string) string { return "http://" + r.AdminAddr() + path }

// stop cancels Run's context and returns Run's result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func start(t *testing.T, cfg server.Config, opts server.Options, routes func(e *echo.Echo)) *running {
	t.Helper()
	return startChain(t, cfg, opts, nil, routes)
}

// startChain is start with chain installed first, when not nil.
func startChain(t *testing.T, cfg server.Config, opts server.Options, chain *server.Chain, routes func(e *echo.Echo)) *running {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = "127.0.0.1:0"
	}
	if opts.Name == "" {
		opts.Name = "bff-test"
	}
	s, err := server.New(cfg, opts)
	require.NoError(t, err)
	if chain != nil {
		require.NoError(t, s.Install(*chain))
	}
	if routes != nil {
		routes(s.Echo())
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Server: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	waitUp(t, r.adminURL("/healthz"))
	return r
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond)
}

func getJSON(t *testing.T, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &body), "body %q", raw)
	}
	return resp, body
}

func newReq(t *testing.T, method, url string, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

// assertProblem checks the RFC 9457 and Shopfront members of a problem+json response.
func assertProblem(t *testing.T, resp *http.Response, body map[string]any, status int, code string) {
	t.Helper()
	assert.Equal(t, status, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	for _, k := range []string{"type", "title", "status", "instance", "error", "requestId"} {
		assert.Contains(t, body, k)
	}
	assert.Equal(t, float64(status), body["status"])
	assert.Equal(t, code, body["error"])
	assert.NotEmpty(t, body["requestId"])
	assert.Equal(t, resp.Header.Get("X-Request-Id"), body["requestId"])
	assert.Equal(t, "urn:request:"+resp.Header.Get("X-Request-Id"), body["instance"])
}

func TestErrorsAreProblems(t *testing.T) {
	t.Parallel()
	s := start(t, server.Config{BodyLimit: 64}, server.Options{}, func(e *echo.Echo) {
		e.GET("/boom", func(echo.Context) error { panic("secret internal state") })
		e.POST("/echo", func(c echo.Context) error {
			b, err := io.ReadAll(c.Request().Body)
			if err != nil {
				return err
			}
			return c.Blob(http.StatusOK, "text/plain", b)
		})
		e.GET("/only-get", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	})

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
	}{
		{name: "nok, unknown route is 404 not_found", method: http.MethodGet, path: "/nope", status: 404, code: "not_found"},
		{name: "nok, wrong method is 405", method: http.MethodDelete, path: "/only-get", status: 405, code: "method_not_allowed"},
		{name: "nok, panic is a 500 without detail", method: http.MethodGet, path: "/boom", status: 500, code: "internal_error"},
		{name: "nok, body over the limit is 413", method: http.MethodPost, path: "/echo", body: strings.Repeat("x", 65), status: 413, code: "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, s.url(tt.path), strings.NewReader(tt.body))
			require.NoError(t, err)
			resp, body := getJSON(t, req)
			assertProblem(t, resp, body, tt.status, tt.code)
			assert.NotContains(t, fmt.Sprint(body), "secret internal state")
			if tt.status >= 500 {
				assert.Equal(t, problem.ServerDetail(tt.code), body["detail"], "a 5xx carries only its fixed sentence")
			}
			if tt.status == http.StatusMethodNotAllowed {
				assert.Contains(t, resp.Header.Get("Allow"), http.MethodGet)
			}
		})
	}

	t.Run("ok, body within the limit passes", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Post(s.url("/echo"), "text/plain", strings.NewReader(strings.Repeat("x", 64)))
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

// rawRequest writes a hand-made HTTP/1.1 request so header names and
// repetitions reach the server exactly as written.
func rawRequest(t *testing.T, addr, path string, headerLines ...string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: shopfront.test\r\nConnection: close\r\n"
	for _, l := range headerLines {
		req += l + "\r\n"
	}
	_, err = conn.Write([]byte(req + "\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	return resp
}

func TestIdentityHeadersNeverReachHandlers(t *testing.T) {
	t.Parallel()
	var seen, seenPre atomic.Value
	// A gateway's own Pre layer (an audit log, say) runs before routing;
	// it must not see forged identity either.
	pre := server.Chain{Pre: []server.Layer{{Name: "audit", Middleware: func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			seenPre.Store(c.Request().Header.Clone())
			return next(c)
		}
	}}}}
	s := startChain(t, server.Config{}, server.Options{}, &pre, func(e *echo.Echo) {
		e.GET("/seen", func(c echo.Context) error {
			seen.Store(c.Request().Header.Clone())
			return c.NoContent(http.StatusNoContent)
		})
	})
	resp := rawRequest(t, s.Addr(), "/seen",
		"X-User-Id: admin", "x-user-id: admin", "X-USER-ID: root",
		"x-user-roles: admin", "X-Tenant-Id: t1", "x-partner-id: acme", "X-Client: partner",
		"X-Other: kept")
	defer resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	for where, v := range map[string]*atomic.Value{"handler": &seen, "gateway Pre middleware": &seenPre} {
		h := v.Load().(http.Header)
		for k := range h {
			switch strings.ToLower(k) {
			case "x-user-id", "x-user-roles", "x-tenant-id", "x-partner-id", "x-client":
				t.Errorf("identity header %s reached the %s", k, where)
			}
		}
		assert.Equal(t, "kept", h.Get("X-Other"))
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	var seen atomic.Value
	s := start(t, server.Config{}, server.Options{}, func(e *echo.Echo) {
		e.GET("/id", func(c echo.Context) error {
			seen.Store(requestid.FromContext(c.Request().Context()))
			return c.NoContent(http.StatusNoContent)
		})
	})
	tests := []struct {
		name  string
		given string
		kept  bool
	}{
		{name: "ok, valid id is kept", given: "abc-123_x.Y", kept: true},
		{name: "ok, 128 characters is kept", given: strings.Repeat("a", 128), kept: true},
		{name: "nok, 129 characters is replaced", given: strings.Repeat("a", 129)},
		{name: "nok, spaces and quotes are replaced", given: `bad id"`},
		{name: "nok, slash is replaced", given: "a/b"},
		{name: "nok, absent gets one", given: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the handler records the last id seen.
			resp, err := http.DefaultClient.Do(newReq(t, http.MethodGet, s.url("/id"), map[string]string{"X-Request-Id": tt.given}))
			require.NoError(t, err)
			_ = resp.Body.Close()
			got := resp.Header.Get("X-Request-Id")
			if tt.kept {
				assert.Equal(t, tt.given, got)
			} else {
				assert.NotEqual(t, tt.given, got)
				assert.Regexp(t, `^[A-Za-z0-9._-]{1,128}$`, got)
			}
			assert.Equal(t, got, seen.Load(), "the handler sees the id the client gets")
		})
	}
	t.Run("ok, errors echo the kept id", func(t *testing.T) {
		resp, body := getJSON(t, newReq(t, http.MethodGet, s.url("/missing"), map[string]string{"X-Request-Id": "trace-me-1"}))
		assert.Equal(t, "trace-me-1", resp.Header.Get("X-Request-Id"))
		assert.Equal(t, "trace-me-1", body["requestId"])
	})
}

// TestHeaderLimit sends oversized headers over a real socket: everything
// from just over the 16 KiB cap up to the 64 KiB hard cap is the edge
// chain's problem+json 431 with the request id; only beyond the hard cap
// (plus net/http's 4 KiB of slack) does net/http answer by itself.
func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	s := start(t, server.Config{}, server.Options{}, func(e *echo.Echo) {
		e.GET("/ok", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	})
	tests := []struct {
		name    string
		size    int
		status  int
		problem bool
	}{
		{name: "ok, 15 KiB of headers pass", size: 15 << 10, status: http.StatusNoContent},
		{name: "nok, just over 16 KiB is 431 problem+json", size: 16<<10 + 100, status: http.StatusRequestHeaderFieldsTooLarge, problem: true},
		{name: "nok, 17 KiB is 431 problem+json", size: 17 << 10, status: http.StatusRequestHeaderFieldsTooLarge, problem: true},
		{name: "nok, 30 KiB is 431 problem+json", size: 30 << 10, status: http.StatusRequestHeaderFieldsTooLarge, problem: true},
		{name: "nok, 60 KiB is 431 problem+json", size: 60 << 10, status: http.StatusRequestHeaderFieldsTooLarge, problem: true},
		{name: "nok, 100 KiB is net/http's plain 431", size: 100 << 10, status: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := rawRequest(t, s.Addr(), "/ok", "X-Request-Id: big-"+strconv.Itoa(tt.size), "X-Big: "+strings.Repeat("b", tt.size))
			defer resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			if !tt.problem {
				return
			}
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assertProblem(t, resp, body, http.StatusRequestHeaderFieldsTooLarge, "request_header_fields_too_large")
			assert.Equal(t, "big-"+strconv.Itoa(tt.size), resp.Header.Get("X-Request-Id"), "the request id is kept")
		})
	}
}

// exchange is one raw HTTP/1.1 request and everything the server sent back
// before closing the connection.
type exchange struct {
	status int
	header http.Header
	body   []byte // the bytes after the header block, exactly as sent
}

// rawExchange sends method path with Connection: close and reads the
// connection to its end, so that a body the server should not have sent
// cannot hide behind a client that ignores it.
func rawExchange(t *testing.T, addr, method, path string) exchange {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write([]byte(method + " " + path + " HTTP/1.1\r\nHost: shopfront.test\r\nConnection: close\r\n\r\n"))
	require.NoError(t, err)
	raw, err := io.ReadAll(conn)
	require.NoError(t, err)
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	require.True(t, ok, "a complete header block: %q", raw)
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))))
	line, err := tp.ReadLine()
	require.NoError(t, err)
	var ex exchange
	_, err = fmt.Sscanf(line, "HTTP/1.1 %d", &ex.status)
	require.NoError(t, err, line)
	mime, err := tp.ReadMIMEHeader()
	require.NoError(t, err)
	ex.header, ex.body = http.Header(mime), body
	return ex
}

// TestHeadAnswersLikeGet checks RFC 9110 §9.3.2 over a real socket: HEAD on
// any GET route gets the GET's status and header fields, Content-Length and
// ETag included, and not one byte of body; errors too.
func TestHeadAnswersLikeGet(t *testing.T) {
	t.Parallel()
	large := strings.Repeat("x", 10<<10)
	s := start(t, server.Config{}, server.Options{}, func(e *echo.Echo) {
		e.GET("/products/:id", func(c echo.Context) error {
			c.Response().Header().Set("ETag", `"v1-`+c.Param("id")+`"`)
			c.Response().Header().Set("Cache-Control", "private, max-age=60")
			return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id"), "name": "Kettle"})
		})
		e.GET("/large", func(c echo.Context) error { return c.String(http.StatusOK, large) })
		e.GET("/sized", func(c echo.Context) error {
			c.Response().Header().Set("Content-Length", strconv.Itoa(len(large)))
			return c.String(http.StatusOK, large)
		})
		e.POST("/orders", func(c echo.Context) error { return c.NoContent(http.StatusCreated) })
	})
	tests := []struct {
		name         string
		path         string
		expectStatus int
		expectHeader map[string]string
	}{
		{name: "ok, JSON route with ETag", path: "/products/p-1", expectStatus: http.StatusOK,
			expectHeader: map[string]string{"Etag": `"v1-p-1"`, "Cache-Control": "private, max-age=60",
				"Content-Type": "application/json"}},
		{name: "ok, body larger than net/http's buffer", path: "/large", expectStatus: http.StatusOK},
		{name: "ok, handler-set Content-Length", path: "/sized", expectStatus: http.StatusOK,
			expectHeader: map[string]string{"Content-Length": strconv.Itoa(len(large))}},
		{name: "nok, unknown route is the 404 problem", path: "/missing", expectStatus: http.StatusNotFound,
			expectHeader: map[string]string{"Content-Type": problem.ContentType}},
		{name: "nok, route without GET is 405", path: "/orders", expectStatus: http.StatusMethodNotAllowed,
			expectHeader: map[string]string{"Allow": "OPTIONS, POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			get := rawExchange(t, s.Addr(), http.MethodGet, tt.path)
			head := rawExchange(t, s.Addr(), http.MethodHead, tt.path)
			assert.Equal(t, tt.expectStatus, get.status)
			assert.Equal(t, get.status, head.status)
			assert.NotEmpty(t, get.body, "the GET has a body")
			assert.Empty(t, head.body, "HEAD sends no body")
			for k, v := range tt.expectHeader {
				assert.Equal(t, v, head.header.Get(k), k)
			}
			if get.header.Get("Transfer-Encoding") == "" {
				assert.Equal(t, strconv.Itoa(len(get.body)), head.header.Get("Content-Length"),
					"Content-Length is the GET body's")
			} else {
				// A chunked GET has no length to repeat; HEAD does not make
				// one up (RFC 9110 §9.3.2 lets it omit what only generating
				// the content determines), and chunked framing is moot.
				assert.Empty(t, head.header.Get("Content-Length"))
				get.header.Del("Transfer-Encoding")
			}
			// Every other header field but the per-request ones is the GET's.
			for _, h := range []http.Header{get.header, head.header} {
				h.Del("Date")
				h.Del("X-Request-Id")
			}
			assert.Equal(t, get.header, head.header)
		})
	}
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "shopfront_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	c.Add(3)

	var jwksOK, redisOK atomic.Bool
	s := start(t, server.Config{}, server.Options{Registry: reg}, nil)
	resp, err := http.Get(s.url("/counted"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	s.AddCheck("jwks", true, func(context.Context) error {
		if !jwksOK.Load() {
			return errors.New("not fetched yet")
		}
		return nil
	})
	s.AddCheck("redis", false, func(context.Context) error {
		if !redisOK.Load() {
			return errors.New("connection refused")
		}
		return nil
	})

	type check struct {
		Status   string `json:"status"`
		Required *bool  `json:"required"`
		Detail   string `json:"detail"`
	}
	type report struct {
		Status string           `json:"status"`
		Checks map[string]check `json:"checks"`
	}
	readyz := func() (int, report) {
		resp, err := http.Get(s.adminURL("/readyz"))
		require.NoError(t, err)
		defer resp.Body.Close()
		var r report
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
		return resp.StatusCode, r
	}

	status, body := readyz()
	assert.Equal(t, http.StatusServiceUnavailable, status, "a failing required check makes it unready")
	assert.Equal(t, "not_ready", body.Status)
	assert.Equal(t, "not fetched yet", body.Checks["jwks"].Detail)

	jwksOK.Store(true)
	status, body = readyz()
	assert.Equal(t, http.StatusOK, status, "a failing optional check alone does not")
	redis := body.Checks["redis"]
	assert.Equal(t, "failing", redis.Status)
	if assert.NotNil(t, redis.Required) {
		assert.False(t, *redis.Required)
	}
	assert.Equal(t, "connection refused", redis.Detail)

	redisOK.Store(true)
	status, body = readyz()
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok", body.Checks["redis"].Status)

	resp, err = http.Get(s.adminURL("/metrics"))
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(raw), "shopfront_test_total 3")
	assert.Contains(t, string(raw), "shopfront_http_requests_total", "the edge chain counts requests on the injected registry")

	resp, err = http.Get(s.url("/healthz"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "admin endpoints are not on the public listener")
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	handler := func(e *echo.Echo) {
		e.GET("/ip", func(c echo.Context) error { return c.String(http.StatusOK, c.RealIP()) })
	}
	untrusted := start(t, server.Config{}, server.Options{}, handler)
	trusted := start(t, server.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, server.Options{}, handler)

	tests := []struct {
		name   string
		srv    *running
		xff    string
		expect string
	}{
		{name: "ok, no proxies trusted: the peer, whatever XFF says", srv: untrusted, xff: "203.0.113.9", expect: "127.0.0.1"},
		{name: "ok, trusted peer: the rightmost untrusted XFF hop", srv: trusted, xff: "198.51.100.1, 203.0.113.9", expect: "203.0.113.9"},
		{name: "ok, trusted peer without XFF: the peer", srv: trusted, expect: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{}
			if tt.xff != "" {
				hdr["X-Forwarded-For"] = tt.xff
			}
			resp, err := http.DefaultClient.Do(newReq(t, http.MethodGet, tt.srv.url("/ip"), hdr))
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			assert.Equal(t, tt.expect, string(raw))
		})
	}
}

func TestNewFailsOnTakenPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = server.New(server.Config{Addr: ln.Addr().String(), AdminAddr: "127.0.0.1:0"}, server.Options{Name: "bff-test"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), ln.Addr().String())
}

func TestAccessLogLinePerRequest(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	s := start(t, server.Config{}, server.Options{Logger: zap.New(core)}, func(e *echo.Echo) {
		e.GET("/items/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	})
	for _, path := range []string{"/items/42?token=s3cret", "/nowhere"} {
		resp, err := http.DefaultClient.Do(newReq(t, http.MethodGet, s.url(path), map[string]string{
			"X-Request-Id": "log-me", "Authorization": "Bearer s3cret",
		}))
		require.NoError(t, err)
		_ = resp.Body.Close()
	}
	require.Eventually(t, func() bool { return logs.FilterMessage("request").Len() == 2 }, 10*time.Second, 10*time.Millisecond)
	lines := logs.FilterMessage("request").All()
	assert.Equal(t, "/items/:id", lines[0].ContextMap()["route"])
	assert.EqualValues(t, 204, lines[0].ContextMap()["status"])
	assert.Equal(t, "log-me", lines[0].ContextMap()["requestId"])
	assert.EqualValues(t, 404, lines[1].ContextMap()["status"])
	for _, l := range logs.All() {
		assert.NotContains(t, fmt.Sprint(l.ContextMap()), "s3cret")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    server.Config
		expect string
	}{
		{name: "nok, certificate without key", cfg: server.Config{TLSCertFile: "cert.pem"}, expect: "TLSCertFile and TLSKeyFile must be set together"},
		{name: "nok, client CA without TLS", cfg: server.Config{TLSClientCAFile: "ca.pem"}, expect: "TLSClientCAFile needs TLSCertFile and TLSKeyFile"},
		{name: "nok, negative timeout", cfg: server.Config{ReadTimeout: -time.Second}, expect: "ReadTimeout must be positive"},
		{name: "nok, unreadable certificate", cfg: server.Config{TLSCertFile: "/nonexistent/c.pem", TLSKeyFile: "/nonexistent/k.pem"}, expect: "loading TLS certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Addr, tt.cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
			_, err := server.New(tt.cfg, server.Options{Name: "bff-test"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.expect)
		})
	}
}
