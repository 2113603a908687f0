package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFramingScanAnyChunking: however net/http's reads cut the stream (one
// byte at a time, odd sizes, all at once), the watch finds the same heads
// and marks the same request.
func TestFramingScanAnyChunking(t *testing.T) {
	t.Parallel()
	const get = "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n"
	lookalike := "GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	post := "POST /thing HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(len(lookalike)) + "\r\n\r\n" + lookalike
	tests := []struct {
		name      string
		stream    string
		refuseAt  int64
		closeFrom int64
	}{
		{name: "ok, keep-alive requests with bodies", stream: get + post + get},
		{name: "ok, an empty line before a request line", stream: get + "\r\n" + get},
		{name: "ok, HTTP/1.0 with a body", stream: "POST / HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc" + get},
		{name: "nok, conflict after two good requests", stream: get + post + "POST / HTTP/1.1\r\ncontent-LENGTH: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get, refuseAt: 3},
		{name: "nok, Transfer-Encoding first", stream: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", refuseAt: 1},
		{name: "nok, Transfer-Encoding in HTTP/1.0", stream: get + "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", refuseAt: 2},
		{name: "nok, a long request line ending in HTTP/1.0", stream: "POST /" + strings.Repeat("a", 300) + " HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", refuseAt: 1},
		{name: "ok, chunked alone closes after it", stream: get + "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get, closeFrom: 2},
		{name: "ok, a padded Content-Length is not followed", stream: "POST / HTTP/1.1\r\nContent-Length:" + strings.Repeat(" ", 80) + "1\r\n\r\nx", closeFrom: 1},
		{name: "ok, two different Content-Lengths are not followed", stream: "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", closeFrom: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range []int{1, 3, 7, 64, len(tt.stream)} {
				c := newFramingConn(nil)
				for s := tt.stream; len(s) > 0; {
					n := min(size, len(s))
					c.scan([]byte(s[:n]))
					s = s[n:]
				}
				assert.Equal(t, tt.refuseAt, c.refuseAt.Load(), "refused request, reads of %d bytes", size)
				assert.Equal(t, tt.closeFrom, c.closeFrom.Load(), "closing request, reads of %d bytes", size)
			}
		})
	}
}
