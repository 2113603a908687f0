package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
)

// An HTTP/1 request that carries both Content-Length and Transfer-Encoding
// is one that two parties may frame differently (RFC 9112 §6.3, §11.2): a
// proxy in front that went by Content-Length sees another next request than
// the gateway. net/http reads such a request by its Transfer-Encoding and
// deletes Content-Length before any handler runs, so only the byte stream
// still shows it. framingConn watches that stream: it reads the head of
// each request up to its blank line, skips the body by its Content-Length,
// and marks the request whose framing conflicts; the handler installed by
// refuseConflictingFraming answers that request 400 and closes the
// connection before any routing, auth or upstream call.
//
// The watch costs one bytes.IndexByte per header line and a subtraction per
// body read. Where it can no longer follow the stream (a chunked body, a
// Content-Length it cannot read), it asks for the connection to be closed
// after that request instead of guessing: net/http closes it anyway for the
// cases it refuses itself, and a chunked request already closes it.

// lineKeep is how much of each header line framingConn keeps: enough for
// the two names it looks for and a Content-Length of 19 digits with some
// spaces around it. A Content-Length line longer than this is not read,
// and its connection closed after the request.
const lineKeep = 64

const (
	scanHead = iota
	scanBody
	scanDone
)

// framingConn is an HTTP/1 connection (plain TCP, or TLS after its
// handshake) whose request heads are watched as net/http reads them. Read
// is only ever called by one goroutine at a time (net/http's connection
// reader); the marks are read by the handler.
type framingConn struct {
	net.Conn

	state    int
	line     [lineKeep]byte
	lineLen  int
	lineLong bool
	// first is set while the next line is a request line; tail keeps the
	// last bytes of the request line, where its HTTP version is.
	first     bool
	tail      [9]byte
	tailLen   int
	http10    bool
	hasCL     bool
	hasTE     bool
	cl        int64
	skip      int64
	heads     int64
	refuseAt  atomic.Int64
	closeFrom atomic.Int64
	served    atomic.Int64
}

func newFramingConn(c net.Conn) *framingConn {
	return &framingConn{Conn: c, first: true}
}

// ConnectionState lets net/http fill Request.TLS for a watched TLS
// connection, which it would otherwise only do for a *tls.Conn.
func (c *framingConn) ConnectionState() tls.ConnectionState {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

// CloseWrite half-closes the connection when the one below can, as
// net/http does before closing after an error answer, so that unread
// request bytes do not turn the close into a reset that loses the answer.
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.state != scanDone {
		c.scan(p[:n])
	}
	return n, err
}

func (c *framingConn) scan(p []byte) {
	for len(p) > 0 {
		switch c.state {
		case scanBody:
			n := min(int64(len(p)), c.skip)
			c.skip -= n
			p = p[n:]
			if c.skip == 0 {
				c.state = scanHead
			}
		case scanHead:
			i := bytes.IndexByte(p, '\n')
			seg := p
			if i >= 0 {
				seg = p[:i]
			}
			if len(seg) > lineKeep-c.lineLen {
				c.lineLong = true
			}
			c.lineLen += copy(c.line[c.lineLen:], seg)
			if c.first {
				c.keepTail(seg)
			}
			if i < 0 {
				return
			}
			p = p[i+1:]
			c.endLine()
		default:
			return
		}
	}
}

func (c *framingConn) keepTail(seg []byte) {
	if len(seg) >= len(c.tail) {
		c.tailLen = copy(c.tail[:], seg[len(seg)-len(c.tail):])
		return
	}
	if c.tailLen+len(seg) > len(c.tail) {
		drop := c.tailLen + len(seg) - len(c.tail)
		copy(c.tail[:], c.tail[drop:c.tailLen])
		c.tailLen -= drop
	}
	c.tailLen += copy(c.tail[c.tailLen:], seg)
}

func (c *framingConn) endLine() {
	line := bytes.TrimSuffix(c.line[:c.lineLen], []byte{'\r'})
	long := c.lineLong
	c.lineLen, c.lineLong = 0, false
	switch {
	case c.first:
		if len(line) == 0 {
			// RFC 9112 §2.2: an empty line before the request line is
			// ignored.
			return
		}
		c.first = false
		c.http10 = bytes.HasSuffix(bytes.TrimSuffix(c.tail[:c.tailLen], []byte{'\r'}), []byte("HTTP/1.0"))
		c.tailLen = 0
	case len(line) == 0:
		c.endHead()
	case line[0] == ' ' || line[0] == '\t':
		// A folded continuation belongs to the line before it.
	default:
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return
		}
		switch name := line[:colon]; {
		case asciiEqualFold(name, "content-length"):
			cl := parseLength(line[colon+1:])
			if long || (c.hasCL && cl != c.cl) {
				cl = -1
			}
			c.hasCL, c.cl = true, cl
		case asciiEqualFold(name, "transfer-encoding"):
			c.hasTE = true
		}
	}
}

func (c *framingConn) endHead() {
	c.heads++
	switch {
	case c.hasTE && (c.hasCL || c.http10):
		// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means
		// faulty framing too.
		c.refuseAt.Store(c.heads)
		c.state = scanDone
	case c.hasTE, c.hasCL && c.cl < 0:
		c.closeFrom.Store(c.heads)
		c.state = scanDone
	case c.hasCL && c.cl > 0:
		c.state, c.skip = scanBody, c.cl
	}
	c.first, c.http10, c.hasCL, c.hasTE, c.cl = true, false, false, false, 0
}

// parseLength reads a Content-Length value with optional whitespace around
// it, or -1.
func parseLength(v []byte) int64 {
	v = bytes.Trim(v, " \t")
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' {
			return -1
		}
		n = n*10 + int64(b-'0')
	}
	return n
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		x := b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != lower[i] {
			return false
		}
	}
	return true
}

type framingConnKey struct{}

// framingContext puts a watched connection in the context of its requests.
func framingContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingConnKey{}, fc)
	}
	return ctx
}

// refuseConflictingFraming answers the request framingConn marked with a
// 400 bad_request problem and Connection: close, without passing it on, and
// closes the connection after a request framingConn could not follow.
// net/http serves the requests of one HTTP/1 connection in order and closes
// it after those it refuses by itself, so the n-th request a handler sees is
// the n-th head on the stream.
func refuseConflictingFraming(e *echo.Echo, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fc, ok := r.Context().Value(framingConnKey{}).(*framingConn)
		if !ok || r.ProtoMajor != 1 {
			h.ServeHTTP(w, r)
			return
		}
		n := fc.served.Add(1)
		if at := fc.closeFrom.Load(); at != 0 && n >= at {
			w.Header().Set("Connection", "close")
		}
		if fc.refuseAt.Load() != n {
			h.ServeHTTP(w, r)
			return
		}
		// The request id a client sent is not read: nothing of this request
		// is trusted, and the problem's id is what the client quotes.
		id := requestid.New()
		w.Header().Set("Connection", "close")
		w.Header().Set(echo.HeaderXRequestID, id)
		c := e.NewContext(r.WithContext(requestid.WithID(r.Context(), id)), w)
		e.HTTPErrorHandler(problem.New(http.StatusBadRequest, problem.CodeBadRequest,
			"the request's length is ambiguous: Transfer-Encoding beside Content-Length, or in a version 1.0 request"), c)
	})
}

// framingListener hands net/http watched connections. Over TLS it completes
// each handshake first (within timeout, on its own goroutine, so a slow
// client holds up no other): a connection that negotiated HTTP/2 is handed
// on as the *tls.Conn net/http needs to serve HTTP/2 (whose framing has no
// Content-Length/Transfer-Encoding ambiguity), any other is watched in
// plaintext.
type framingListener struct {
	net.Listener
	tls     *tls.Config
	timeout time.Duration
	log     *zap.Logger

	conns     chan net.Conn
	errs      chan error
	done      chan struct{}
	closeOnce sync.Once
	// ctx ends with Close, cutting short the handshakes in progress.
	ctx    context.Context
	cancel context.CancelFunc
}

func newFramingListener(ln net.Listener, tlsCfg *tls.Config, handshakeTimeout time.Duration, log *zap.Logger) net.Listener {
	if tlsCfg == nil {
		return plainFramingListener{ln}
	}
	l := &framingListener{Listener: ln, tls: tlsCfg, timeout: handshakeTimeout, log: log,
		conns: make(chan net.Conn), errs: make(chan error), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.acceptLoop()
	return l
}

type plainFramingListener struct{ net.Listener }

func (l plainFramingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newFramingConn(c), nil
}

func (l *framingListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go l.handshake(c)
	}
}

func (l *framingListener) handshake(raw net.Conn) {
	tc := tls.Server(raw, l.tls)
	ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		// As net/http logs the handshakes it does itself: a wrong or
		// missing client certificate shows here.
		l.log.Warn("TLS handshake failed", zap.String("remote", raw.RemoteAddr().String()), zap.Error(err))
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			// A client speaking plain HTTP to the HTTPS port gets the
			// answer net/http gives it, not a silent close.
			_ = re.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		_ = tc.Close()
		return
	}
	var c net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		c = newFramingConn(tc)
	}
	select {
	case l.conns <- c:
	case <-l.done:
		_ = tc.Close()
	}
}

// looksLikeHTTP reports whether the first bytes of a TLS record are the
// start of a plain HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

func (l *framingListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *framingListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.cancel()
	})
	return l.Listener.Close()
}
