package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// errFirstByte is the cause of a stream call cut off because its answer did
// not start within the first-byte deadline.
var errFirstByte = errors.New("no answer within the first-byte deadline")

// Stream opens a long-lived answer, such as a Server-Sent Events stream, and
// returns it once its status is 2xx; the caller reads and closes its Body.
// Unlike Do it has no per-call Timeout, which would cut every stream after
// a couple of seconds: the connection and the answer's first byte must come
// within firstByte (the client's Timeout when zero), and then the answer
// lasts as long as ctx. It goes through the same breaker, trace and headers
// as Do (r.Header may carry Last-Event-ID), is never retried, and fails with
// an *Error mapped as Do's are: refused 503, reset or 5xx 502, timeout 504.
func (c *Client) Stream(ctx context.Context, r Request, firstByte time.Duration) (*http.Response, error) {
	if firstByte <= 0 {
		firstByte = c.cfg.Timeout
	}
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	start := time.Now()
	resp, err := c.stream(ctx, r, firstByte)
	outcome := "ok"
	if err != nil {
		outcome = string(KindBadResponse)
		var ue *Error
		if errors.As(err, &ue) {
			outcome = string(ue.Kind)
		}
		c.logFailure(ctx, r, outcome, time.Since(start), err)
	}
	c.m.calls.WithLabelValues(c.service, c.variant, outcome).Inc()
	c.obs.Observe(time.Since(start).Seconds())
	return resp, err
}

func (c *Client) stream(ctx context.Context, r Request, firstByte time.Duration) (*http.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Service: c.service, Kind: classify(ctx, err), Err: err}
	}
	target := c.base + r.Path
	if len(r.Query) > 0 {
		target += "?" + r.Query.Encode()
	}
	// The first-byte deadline cancels the call with a cause of its own, so
	// that it reads as a timeout, not as a caller that went away, and stops
	// mattering once the answer has started.
	sctx, cancel := context.WithCancelCause(ctx)
	var late atomic.Bool
	timer := time.AfterFunc(firstByte, func() {
		late.Store(true)
		cancel(errFirstByte)
	})
	req, err := http.NewRequestWithContext(sctx, r.Method, target, nil)
	if err != nil {
		timer.Stop()
		cancel(nil)
		return nil, &Error{Service: c.service, Kind: KindBadResponse, Err: err}
	}
	c.setHeaders(ctx, req, r.Header, "")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.send(req)
	timer.Stop()
	if err != nil {
		cancel(nil)
		if late.Load() {
			return nil, &Error{Service: c.service, Kind: KindTimeout, Err: errFirstByte}
		}
		return nil, &Error{Service: c.service, Kind: classify(ctx, err), Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := c.read(ctx, resp, nil)
		cancel(nil)
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

// cancelOnClose releases the stream's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
	once   sync.Once
}

func (b *cancelOnClose) Close() error {
	// Cancel first: closing a body still being written by the service would
	// otherwise try to drain it.
	b.once.Do(b.cancel)
	return b.ReadCloser.Close()
}
