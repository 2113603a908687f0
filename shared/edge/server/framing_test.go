package server_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/server"
)

// sendRaw writes raw on a new connection to addr and returns everything
// the server sent until it closed the connection.
func sendRaw(t *testing.T, addr, raw string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	got, err := io.ReadAll(conn)
	require.NoError(t, err, "the server closes the connection (read so far: %q)", got)
	return string(got)
}

// TestBrokenFramingClosesTheConnection: a request whose framing two
// parties could read differently is answered 400 and the connection closed,
// so a request smuggled behind it is never served.
func TestBrokenFramingClosesTheConnection(t *testing.T) {
	t.Parallel()
	s := start(t, server.Config{}, server.Options{}, hostileRoutes(new(atomic.Int64)))
	const smuggled = "GET /ok HTTP/1.1\r\nHost: shopfront.test\r\n\r\n"
	tests := []struct {
		name string
		head string
		body string
		// status is the answer to the bad request, 400 unless said.
		status string
		// served is whether the bad request itself reaches a handler.
		served bool
	}{
		{"Content-Length and Transfer-Encoding", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "0\r\n\r\n", "", false},
		{"Transfer-Encoding and Content-Length", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 46\r\n\r\n", "0\r\n\r\n", "", false},
		{"Content-Length and Transfer-Encoding with a trailing space", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked \r\n\r\n", "0\r\n\r\n", "", false},
		{"Content-Length and Transfer-Encoding in capitals", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\ncontent-length: 5\r\nTRANSFER-ENCODING: Chunked\r\n\r\n", "0\r\n\r\n", "", false},
		{"Content-Length and Transfer-Encoding chunked, identity", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked, identity\r\n\r\n", "0\r\n\r\n", "501", false},
		{"Transfer-Encoding folded onto a second line", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", "0\r\n\r\n", "", false},
		{"Transfer-Encoding in HTTP/1.0", "POST /thing HTTP/1.0\r\nHost: shopfront.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", "0\r\n\r\n", "", false},
		// A chunked request alone is served, and the connection closed after it.
		{"Transfer-Encoding alone", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nTransfer-Encoding: chunked\r\n\r\n", "0\r\n\r\n", "200", true},
		{"two different Content-Lengths", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "ab", "", false},
		{"two Content-Length values on one line", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length: 1, 2\r\n\r\n", "ab", "", false},
		{"Transfer-Encoding other than chunked", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "0\r\n\r\n", "501", false},
		{"LF inside a header value", "GET /ok HTTP/1.1\r\nHost: shopfront.test\r\nX-A: b\nc\r\n\r\n", "", "", false},
		{"CR inside a header value", "GET /ok HTTP/1.1\r\nHost: shopfront.test\r\nX-A: b\rc\r\n\r\n", "", "", false},
		{"space before the colon", "GET /ok HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length : 0\r\n\r\n", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.status == "" {
				tt.status = "400"
			}
			got := sendRaw(t, s.Addr(), tt.head+tt.body+smuggled)
			require.True(t, strings.HasPrefix(got, "HTTP/1.1 "+tt.status+" ") || strings.HasPrefix(got, "HTTP/1.0 "+tt.status+" "),
				"a %s first: %q", tt.status, got)
			assert.Equal(t, 1, strings.Count(got, "HTTP/1."), "one answer, then the connection closed: %q", got)
			if tt.served {
				assert.True(t, strings.HasSuffix(got, "POST"), "the handler saw the POST only: %q", got)
			} else {
				assert.NotContains(t, got, "\r\n\r\nGET", "the smuggled GET was not served")
			}
		})
	}
}

// TestSlowHeadersAreCutOff: a client that has not finished its headers
// within ReadHeaderTimeout is disconnected, while one that finishes in time
// on another connection is served.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	var reached atomic.Int64
	s := start(t, server.Config{ReadHeaderTimeout: 100 * time.Millisecond}, server.Options{}, hostileRoutes(&reached))
	conn, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /ok HTTP/1.1\r\nHost: shopfront.test\r\nX-Slow: ")
	require.NoError(t, err)
	// Generous bound: the point is that the server closes, not how fast.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	got, err := io.ReadAll(conn)
	require.NoError(t, err, "closed by the server, not by our deadline")
	assert.NotContains(t, string(got), "200 OK")
	assert.Zero(t, reached.Load())

	resp, err := http.Get(s.url("/ok"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "others are still served")
}

// TestConflictingFramingOnAKeptAliveConnection: requests before the one
// with both Content-Length and Transfer-Encoding are served as usual on the
// same connection (bodies, Expect: 100-continue, pipelining), the bad one
// is answered with a bad_request problem and Connection: close without
// reaching a handler, and nothing pipelined after it is served; the same
// holds over TLS with HTTP/1.1.
func TestConflictingFramingOnAKeptAliveConnection(t *testing.T) {
	t.Parallel()
	p := edgetest.NewPKI(t)
	tests := []struct {
		name string
		cfg  server.Config
		dial func(t *testing.T, addr string) net.Conn
	}{
		{"ok, plain HTTP", server.Config{}, func(t *testing.T, addr string) net.Conn {
			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			return c
		}},
		{"ok, HTTP/1.1 over TLS", server.Config{TLSCertFile: p.CertFile, TLSKeyFile: p.KeyFile}, func(t *testing.T, addr string) net.Conn {
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.CAPool, NextProtos: []string{"http/1.1"}})
			require.NoError(t, err)
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached atomic.Int64
			s := start(t, tt.cfg, server.Options{}, hostileRoutes(&reached))
			conn := tt.dial(t, s.Addr())
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
			br := bufio.NewReader(conn)
			send := func(raw string) {
				_, err := io.WriteString(conn, raw)
				require.NoError(t, err)
			}
			read := func() (*http.Response, string) {
				resp, err := http.ReadResponse(br, nil)
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return resp, string(body)
			}

			send("GET /ok HTTP/1.1\r\nHost: shopfront.test\r\n\r\n")
			resp, body := read()
			assert.Equal(t, "GET", body)

			// A body that looks like a request head is skipped by its length.
			const lookalike = "GET /ok HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
			send("POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length: " + strconv.Itoa(len(lookalike)) + "\r\n\r\n" + lookalike)
			resp, body = read()
			assert.Equal(t, http.StatusOK, resp.StatusCode, body)

			send("DELETE /thing HTTP/1.1\r\nHost: shopfront.test\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
			resp, _ = read()
			assert.Equal(t, http.StatusContinue, resp.StatusCode)
			send("abc")
			resp, body = read()
			assert.Equal(t, "DELETE", body)

			const smuggled = "GET /ok HTTP/1.1\r\nHost: shopfront.test\r\n\r\n"
			send("GET /ok HTTP/1.1\r\nHost: shopfront.test\r\n\r\n" +
				"POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length: " + strconv.Itoa(5+len(smuggled)) +
				"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled)
			resp, body = read()
			assert.Equal(t, "GET", body, "the pipelined request before the bad one is served")
			resp, body = read()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
			assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			assert.True(t, resp.Close, "Connection: close")
			var prob struct{ Error string }
			require.NoError(t, json.Unmarshal([]byte(body), &prob), body)
			assert.Equal(t, "bad_request", prob.Error)

			rest, err := io.ReadAll(br)
			require.NoError(t, err, "the server closes the connection")
			assert.Empty(t, string(rest), "nothing after the bad request is served")
			assert.Equal(t, int64(4), reached.Load(), "handlers saw the four good requests only")
		})
	}
}
