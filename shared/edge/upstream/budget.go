package upstream

import (
	"sync"
	"time"
)

// budgetBuckets is the resolution of the retry budget's rolling window.
const budgetBuckets = 10

// budget is a retry budget (Finagle's RetryBudget, gRPC's retry throttling):
// over a rolling window, retries may not exceed minRetries + ratio * calls
// (by default 1 + 10 %: the floor of one lets a lone call on a quiet service
// be retried, and adds at most one retry per window to the 10 % share).
// It is hand-written because no maintained Go library offers one apart from
// whole RPC frameworks; it is a few counters under a mutex, taken twice per
// call at most.
type budget struct {
	ratio      float64
	minRetries int
	bucket     time.Duration
	now        func() time.Time

	mu      sync.Mutex
	start   time.Time // Start of the current bucket.
	idx     int
	calls   [budgetBuckets]int
	retries [budgetBuckets]int
}

func newBudget(cfg RetryConfig, now func() time.Time) *budget {
	b := &budget{ratio: cfg.BudgetRatio, minRetries: cfg.BudgetMinRetries, bucket: cfg.BudgetWindow / budgetBuckets, now: now}
	if b.bucket <= 0 {
		b.bucket = time.Millisecond
	}
	b.start = now()
	return b
}

// advance moves the window to now. The caller holds mu.
func (b *budget) advance() {
	n := int(b.now().Sub(b.start) / b.bucket)
	if n <= 0 {
		return
	}
	if n >= budgetBuckets {
		b.calls, b.retries = [budgetBuckets]int{}, [budgetBuckets]int{}
	} else {
		for range n {
			b.idx = (b.idx + 1) % budgetBuckets
			b.calls[b.idx], b.retries[b.idx] = 0, 0
		}
	}
	b.start = b.start.Add(time.Duration(n) * b.bucket)
}

// call records one call (not counting its retry).
func (b *budget) call() {
	b.mu.Lock()
	b.advance()
	b.calls[b.idx]++
	b.mu.Unlock()
}

// tryRetry reports whether one more retry fits in the budget and, if so,
// spends it.
func (b *budget) tryRetry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	calls, retries := 0, 0
	for i := range budgetBuckets {
		calls += b.calls[i]
		retries += b.retries[i]
	}
	if float64(retries+1) > float64(b.minRetries)+b.ratio*float64(calls) {
		return false
	}
	b.retries[b.idx]++
	return true
}
