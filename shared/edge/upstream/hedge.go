package upstream

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Hedging defaults. A hedge is a second copy of a slow read sent to the same
// variant (the tail at scale: one slow answer in fifty dominates a screen's
// p99 once a screen makes a dozen calls). It is bounded twice: it waits the
// variant's observed p95, so only the slowest twentieth of calls are
// candidates, and a budget like the retry budget caps hedges at 5 % of the
// calls in a rolling 10 s, so a service slow across the board gets at most
// 5 % more load from hedging, never double.
const (
	// MinHedgeDelay is the floor of the hedge delay: below it a hedge would
	// mostly duplicate calls that were about to answer.
	MinHedgeDelay = 10 * time.Millisecond
	// HedgeBudgetRatio is the share of calls that may be hedged.
	HedgeBudgetRatio = 0.05
	// HedgeBudgetWindow is the rolling window of the hedge budget.
	HedgeBudgetWindow = 10 * time.Second
)

// latencySamples is the number of recent successful call latencies the p95
// is estimated from, and minLatencySamples how many are needed before an
// estimate exists (and hedging starts).
const (
	latencySamples    = 128
	minLatencySamples = 20
	resortEvery       = 16
)

// latencyEstimate is a cheap streaming p95 of one variant's successful
// calls: a ring of the latest latencies, sorted again every resortEvery
// observations (a 128-element sort amortised over 16 calls costs less than
// a histogram's bucket search per call, and needs no bucket layout).
type latencyEstimate struct {
	p95 atomic.Int64 // Nanoseconds; 0 until minLatencySamples were seen.

	mu      sync.Mutex
	ring    [latencySamples]int64
	scratch [latencySamples]int64
	n, next int
	since   int
}

func (e *latencyEstimate) observe(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ring[e.next] = int64(d)
	e.next = (e.next + 1) % latencySamples
	e.n = min(e.n+1, latencySamples)
	e.since++
	if e.n < minLatencySamples || e.since < resortEvery {
		return
	}
	e.since = 0
	s := e.scratch[:e.n]
	copy(s, e.ring[:e.n])
	slices.Sort(s)
	// Nearest rank: the smallest sample at or above 95 % of the others.
	e.p95.Store(s[(e.n*95+99)/100-1])
}

// delay returns the hedge delay, the p95 bounded below by MinHedgeDelay, and
// false while too few calls were seen to estimate it.
func (e *latencyEstimate) delay() (time.Duration, bool) {
	v := time.Duration(e.p95.Load())
	if v == 0 {
		return 0, false
	}
	return max(v, MinHedgeDelay), true
}

// attemptResult is one copy of a hedged read.
type attemptResult struct {
	out   any
	err   error
	hedge bool
}

// hedged makes a GET, and when it has not answered within the hedge delay
// and the budget allows, a second identical GET to the same variant; the
// first success wins and the other is cancelled (a cancellation is not a
// failure for the breaker). Each copy decodes into its own value, copied
// into out for the winner. Without a latency estimate, or when the caller's
// deadline leaves less than the delay, it is a plain call: a hedge that
// cannot finish before the deadline is only load.
func (c *Client) hedged(ctx context.Context, r Request, out any) error {
	c.hedgeBudget.call()
	delay, ok := c.latency.delay()
	if !ok {
		return c.do(ctx, r, out)
	}
	if dl, has := ctx.Deadline(); has && time.Until(dl) < delay {
		return c.do(ctx, r, out)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	results := make(chan attemptResult, 2) // Buffered: the loser never blocks.
	launch := func(hedge bool) context.CancelFunc {
		actx, acancel := context.WithCancel(ctx)
		go func() {
			dst := freshLike(out)
			err := c.do(actx, r, dst)
			results <- attemptResult{out: dst, err: err, hedge: hedge}
		}()
		return acancel
	}
	cancels := []context.CancelFunc{launch(false)}
	defer func() {
		for _, cf := range cancels {
			cf()
		}
	}()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	pending := 1
	var err error
	for pending > 0 {
		select {
		case <-timer.C:
			if ctx.Err() != nil || !c.hedgeBudget.tryRetry() {
				continue
			}
			c.m.hedges.WithLabelValues(c.service, c.variant, "sent").Inc()
			cancels = append(cancels, launch(true))
			pending++
		case res := <-results:
			pending--
			if res.err != nil {
				// The other copy, if any, may still answer.
				err = res.err
				continue
			}
			if res.hedge {
				c.m.hedges.WithLabelValues(c.service, c.variant, "won").Inc()
			}
			copyInto(out, res.out)
			return nil
		}
	}
	return err
}

// freshLike returns a new zero value of what out points to, or nil.
func freshLike(out any) any {
	if out == nil {
		return nil
	}
	t := reflect.TypeOf(out)
	if t.Kind() != reflect.Pointer {
		return out // json.Decode fails on it alike in both copies.
	}
	return reflect.New(t.Elem()).Interface()
}

// copyInto stores *src into *dst.
func copyInto(dst, src any) {
	if dst == nil || src == nil || reflect.TypeOf(dst).Kind() != reflect.Pointer {
		return
	}
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}
