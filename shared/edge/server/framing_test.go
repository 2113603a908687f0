package server_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		// net/http reads this one by its Transfer-Encoding, as RFC 9112
		// allows, and the gateway then closes the connection.
		{"Content-Length and Transfer-Encoding", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "0\r\n\r\n", "200", true},
		{"Transfer-Encoding and Content-Length", "POST /thing HTTP/1.1\r\nHost: shopfront.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 46\r\n\r\n", "0\r\n\r\n", "200", true},
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
			require.True(t, strings.HasPrefix(got, "HTTP/1.1 "+tt.status+" "), "a %s first: %q", tt.status, got)
			assert.Equal(t, 1, strings.Count(got, "HTTP/1.1 "), "one answer, then the connection closed: %q", got)
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
