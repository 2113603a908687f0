package events

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// sseSink writes a text/event-stream response.
type sseSink struct {
	w            *echo.Response
	rc           *http.ResponseController
	writeTimeout time.Duration
	shutdown     time.Duration
	buf          strings.Builder
}

// startSSE sends the stream's headers and its first line, retry, at once,
// so the browser knows the stream is open.
func startSSE(c echo.Context, cfg Config) (*sseSink, error) {
	w := c.Response()
	s := &sseSink{w: w, rc: http.NewResponseController(w), writeTimeout: cfg.WriteTimeout, shutdown: cfg.ShutdownRetry}
	// The server's read and write timeouts bound ordinary requests; a
	// stream lives until its token expires, and each write gets its own
	// deadline instead.
	_ = s.rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-store")
	// nginx and similar proxies buffer responses unless told not to, which
	// would hold events back.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(&s.buf, "retry: %d\n\n", cfg.Retry.Milliseconds())
	return s, s.flush()
}

func (s *sseSink) event(ev event) error {
	if ev.id != "" {
		fmt.Fprintf(&s.buf, "id: %s\n", ev.id)
	}
	if ev.name != "" {
		fmt.Fprintf(&s.buf, "event: %s\n", ev.name)
	}
	for line := range strings.SplitSeq(ev.data, "\n") {
		fmt.Fprintf(&s.buf, "data: %s\n", line)
	}
	s.buf.WriteByte('\n')
	return s.flush()
}

func (s *sseSink) ping() error {
	s.buf.WriteString(": ping\n\n")
	return s.flush()
}

func (s *sseSink) end(why endReason) {
	switch why {
	case endReauth:
		s.buf.WriteString("event: reauth\ndata: {}\n\n")
	case endShutdown:
		fmt.Fprintf(&s.buf, "retry: %d\n\n", s.shutdown.Milliseconds())
	default:
		return
	}
	_ = s.flush()
}

// flush writes what is buffered within the write timeout.
func (s *sseSink) flush() error {
	defer s.buf.Reset()
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	if _, err := s.w.Write([]byte(s.buf.String())); err != nil {
		return err
	}
	return s.rc.Flush()
}
