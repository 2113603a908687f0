package gatewaytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/readiness"
)

// Listening is a booted gateway's pair of listeners (host:port).
type Listening interface {
	Addr() string
	AdminAddr() string
}

// Boot starts a gateway in-process against fresh fakes with env on top of
// its test configuration, serving until the test ends.
type Boot func(t *testing.T, env map[string]string) Listening

// CheckWiring checks, as parallel subtests on gateways booted with boot,
// what every composition root must wire: /healthz; /readyz 200
// once the JWKS was fetched, with the jwks check and every upstream's
// breaker in its body, 503 while the JWKS cannot be fetched; the edge
// chain's problem+json 404 carrying a kept or replaced request id and a
// type in the error catalogue (BFF_ERRORS_URL); /metrics;
// a problem+json 431 with the request id beyond 16 KiB of headers; HEAD
// answered like GET without a body; unmatched paths charged to the
// anonymous rate limit.
func CheckWiring(t *testing.T, boot Boot) {
	t.Helper()
	t.Run("ok, admin endpoints and the edge chain", func(t *testing.T) {
		t.Parallel()
		g := boot(t, nil)
		admin, public := "http://"+g.AdminAddr(), "http://"+g.Addr()

		resp := get(t, admin+"/healthz", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)

		// Ready once the JWKS was fetched from the fake identity service.
		WaitReady(t, g.AdminAddr())
		var ready readiness.Report
		resp = get(t, admin+"/readyz", &ready)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, readiness.Result{Status: readiness.CheckOK, Required: true}, ready.Checks[gateway.CheckJWKS])
		for _, s := range domain.ServiceNames() {
			assert.Equal(t, readiness.Result{Status: readiness.CheckOK}, ready.Checks[gateway.BreakerCheck(s)],
				"the breaker of %s is in the body, optional", s)
		}

		var problem map[string]any
		resp = get(t, public+"/definitely/not/a/route", &problem, "X-Request-Id", "wiring-1")
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		assert.Equal(t, "wiring-1", resp.Header.Get("X-Request-Id"))
		for _, k := range []string{"type", "title", "status", "instance", "error", "requestId"} {
			assert.Contains(t, problem, k)
		}
		assert.Equal(t, "not_found", problem["error"])
		assert.Equal(t, "wiring-1", problem["requestId"])
		assert.Equal(t, "https://github.com/shopfront/shopfront/blob/main/docs/errors.md#not_found", problem["type"],
			"type is the error catalogue's section on the code")

		problem = nil
		resp = get(t, public+"/definitely/not/a/route", &problem, "X-Request-Id", "no spaces allowed")
		got := resp.Header.Get("X-Request-Id")
		assert.NotEqual(t, "no spaces allowed", got)
		assert.Regexp(t, `^[A-Za-z0-9._-]{1,128}$`, got)
		assert.Equal(t, got, problem["requestId"])

		resp = get(t, admin+"/metrics", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("ok, problem types point into the catalogue BFF_ERRORS_URL names", func(t *testing.T) {
		t.Parallel()
		g := boot(t, map[string]string{config.VarErrorsURL: "https://developers.shop.example.com/errors"})
		var problem map[string]any
		resp := get(t, "http://"+g.Addr()+"/definitely/not/a/route", &problem)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.Equal(t, "https://developers.shop.example.com/errors#not_found", problem["type"])
	})
	t.Run("nok, JWKS unreachable: not ready, still alive", func(t *testing.T) {
		t.Parallel()
		g := boot(t, map[string]string{config.VarJWKSURL: "http://" + edgetest.DeadAddr(t) + "/jwks.json"})
		var ready readiness.Report
		resp := get(t, "http://"+g.AdminAddr()+"/readyz", &ready)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.Equal(t, readiness.StatusNotReady, ready.Status)
		assert.Equal(t, readiness.CheckFailing, ready.Checks[gateway.CheckJWKS].Status)
		resp = get(t, "http://"+g.AdminAddr()+"/healthz", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "alive though not ready")
	})
	t.Run("nok, headers over 16 KiB: problem+json 431", func(t *testing.T) {
		t.Parallel()
		g := boot(t, nil)
		for _, size := range []int{17 << 10, 30 << 10, 60 << 10} {
			resp := Raw(t, g.Addr(), http.MethodGet, "/", "X-Request-Id: big-headers", "X-Big: "+strings.Repeat("a", size))
			assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.Status, "%d bytes", size)
			assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "%d bytes", size)
			assert.Equal(t, "big-headers", resp.Header.Get("X-Request-Id"), "%d bytes", size)
		}
	})
	t.Run("ok, HEAD answers like GET, without a body", func(t *testing.T) {
		t.Parallel()
		g := boot(t, nil)
		get := Raw(t, g.Addr(), http.MethodGet, "/definitely/not/a/route")
		head := Raw(t, g.Addr(), http.MethodHead, "/definitely/not/a/route")
		assert.Equal(t, http.StatusNotFound, head.Status)
		assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"))
		assert.Equal(t, strconv.Itoa(len(get.Body)), head.Header.Get("Content-Length"))
		assert.NotEmpty(t, get.Body)
		assert.Empty(t, head.Body, "HEAD sends no body")
	})
	t.Run("nok, a flood of unmatched paths is rate limited", func(t *testing.T) {
		t.Parallel()
		g := boot(t, nil)
		// The anonymous burst is 30 and GCRA refills 2 a second: 40 back
		// to back cannot all pass.
		var limited *http.Response
		for i := 0; i < 40 && limited == nil; i++ {
			resp := get(t, "http://"+g.Addr()+"/definitely/not/a/route", nil)
			assert.NotEmpty(t, resp.Header.Get("X-RateLimit-Limit"), "request %d is charged", i+1)
			if resp.StatusCode == http.StatusTooManyRequests {
				limited = resp
			}
		}
		require.NotNil(t, limited, "40 unknown paths in a row are limited")
		assert.NotEmpty(t, limited.Header.Get("Retry-After"))
		assert.Equal(t, "0", limited.Header.Get("X-RateLimit-Remaining"))
		assert.Regexp(t, `^"anonymous";r=0;t=\d+$`, limited.Header.Get("RateLimit"))
	})
}

// RawResponse is what a raw HTTP/1.1 exchange got back.
type RawResponse struct {
	// Status is the status code.
	Status int
	// Header holds the header fields as sent, framing ones included.
	Header http.Header
	// Body is everything after the header block, exactly as sent.
	Body []byte
}

// Raw sends method path to addr (host:port) as HTTP/1.1 with Connection:
// close and the header lines ("Name: value"), and reads the connection to
// its end, so that a body sent to a HEAD cannot hide behind a client that
// ignores it.
func Raw(t testing.TB, addr, method, path string, headerLines ...string) RawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	req := method + " " + path + " HTTP/1.1\r\nHost: shopfront.test\r\nConnection: close\r\n"
	for _, l := range headerLines {
		req += l + "\r\n"
	}
	_, err = conn.Write([]byte(req + "\r\n"))
	require.NoError(t, err)
	all, err := io.ReadAll(conn)
	require.NoError(t, err)
	head, body, ok := bytes.Cut(all, []byte("\r\n\r\n"))
	require.True(t, ok, "a complete header block: %q", all)
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))))
	line, err := tp.ReadLine()
	require.NoError(t, err)
	var r RawResponse
	_, err = fmt.Sscanf(line, "HTTP/1.1 %d", &r.Status)
	require.NoError(t, err, line)
	mime, err := tp.ReadMIMEHeader()
	require.NoError(t, err)
	r.Header, r.Body = http.Header(mime), body
	return r
}

// get GETs url with the header name/value pairs and decodes the JSON body
// into out when out is not nil.
func get(t *testing.T, url string, out any, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out), "decoding %s", url)
	}
	return resp
}
