package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
)

var (
	// errServerStatus marks a 5xx answer as a failure for the breaker.
	errServerStatus = errors.New("upstream answered 5xx")
	// errNotTheService marks a call that says nothing about the service's
	// health: neither a success nor a failure for the breaker.
	errNotTheService = errors.New("call cut short by its caller")
)

type callStartKey struct{}

// callStart is when a call began and the client's own Timeout for it.
type callStart struct {
	at      time.Time
	timeout time.Duration
}

// withCallStart records in ctx when the call began and its Timeout, so the
// breaker can tell, when a deadline fires, whose deadline it was.
func withCallStart(ctx context.Context, at time.Time, timeout time.Duration) context.Context {
	return &callStartCtx{Context: ctx, start: callStart{at: at, timeout: timeout}}
}

// callStartCtx is context.WithValue(ctx, callStartKey{}, start) in one
// allocation instead of two (the value context and the boxed callStart):
// every upstream call makes one.
type callStartCtx struct {
	context.Context
	start callStart
}

// Value implements context.Context.
func (c *callStartCtx) Value(key any) any {
	if key == (callStartKey{}) {
		return c.start
	}
	return c.Context.Value(key)
}

// callerCutShort reports whether a deadline that fired now did so before the
// call had had (nearly) its client's own Timeout. The decision is made when
// the deadline fires, not when the call starts: a caller that wraps the call
// in a budget equal to the Timeout (storefront's order calls) sets a
// deadline a few microseconds earlier than the client's, and a hanging
// service must still open its breaker from those calls. A tenth of the
// Timeout is the slack: work between the caller's WithTimeout and the call
// (building the request, a first stage of a few milliseconds) must not hide
// a service that used up its whole allowance.
func callerCutShort(ctx context.Context, now time.Time) bool {
	s, ok := ctx.Value(callStartKey{}).(callStart)
	if !ok {
		return false
	}
	return now.Sub(s.at) < s.timeout-s.timeout/10
}

// breakerOutcome is what a transport error means for the breaker. The
// caller going away says nothing about the service. Nor does a deadline the
// caller set well below the client's Timeout: the breaker judges a service
// against its own Timeout (its configured allowance), not against what a
// screen had left, or a slow recommendations service would, by starving the
// second stage of a screen, open the healthy catalog's breaker for every
// route.
func breakerOutcome(ctx context.Context, err error) error {
	switch cause := ctx.Err(); {
	case errors.Is(cause, context.Canceled):
		return errNotTheService
	case errors.Is(cause, context.DeadlineExceeded) && callerCutShort(ctx, time.Now()):
		return errNotTheService
	}
	return err
}

// newBreaker builds the two-step breaker of one service from cfg (after
// defaults). Only transport errors and 5xx count as failures (4xx are the
// caller's business, go-kit's lesson); a cancellation by the caller is
// neither a success nor a failure.
func newBreaker(service string, cfg BreakerConfig, onChange func(from, to gobreaker.State)) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         service,
		MaxRequests:  cfg.HalfOpenRequests,
		Interval:     cfg.Window,
		BucketPeriod: cfg.Window / 10,
		Timeout:      cfg.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= cfg.ConsecutiveFailures {
				return true
			}
			done := c.TotalSuccesses + c.TotalFailures
			return done >= cfg.MinRequests && float64(c.TotalFailures) >= cfg.FailureRatio*float64(done)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) { onChange(from, to) },
		IsExcluded:    func(err error) bool { return errors.Is(err, errNotTheService) },
	})
}

// breakerTransport puts every round trip of one service through its breaker:
// an open breaker fails at once, without touching the network.
type breakerTransport struct {
	cb   *gobreaker.TwoStepCircuitBreaker[struct{}]
	next http.RoundTripper
}

var _ http.RoundTripper = (*breakerTransport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *breakerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	done, err := t.cb.Allow()
	if err != nil {
		// RoundTrip must close the body even on error.
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("passing the %s breaker: %w", t.cb.Name(), err)
	}
	resp, err := t.next.RoundTrip(r)
	switch {
	case err != nil:
		done(breakerOutcome(r.Context(), err))
	case resp.StatusCode >= 500:
		done(errServerStatus)
	default:
		done(nil)
	}
	return resp, err
}
