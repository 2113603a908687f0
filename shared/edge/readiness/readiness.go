// Package readiness answers /readyz: whether this instance should receive
// traffic. Required checks (e.g. "the JWKS was fetched once") must all pass;
// optional ones (e.g. Redis, which the rate limiter can do without) are
// reported but never make the instance unready. While draining, the answer is
// 503 whatever the checks say, so load balancers stop routing here before the
// listener closes.
package readiness

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// CheckFunc reports a dependency's health; nil means healthy. It must honour
// ctx's deadline.
type CheckFunc func(ctx context.Context) error

// Statuses of a Report and of each check.
const (
	StatusReady    = "ready"
	StatusNotReady = "not_ready"
	StatusDraining = "draining"
	CheckOK        = "ok"
	CheckFailing   = "failing"
)

// DefaultTimeout bounds one check.
const DefaultTimeout = 2 * time.Second

// Checker holds the checks of one process. The zero value is not usable;
// call New.
type Checker struct {
	timeout  time.Duration
	draining atomic.Bool

	mu     sync.RWMutex
	checks []check
}

type check struct {
	name     string
	required bool
	fn       CheckFunc
	flight   *flight
}

// flight is the run of a check in progress, shared by every probe that
// arrives while it lasts: a check that ignores its context then holds one
// goroutine, not one more per probe (a kubelet probing every few seconds
// would otherwise pile them up for as long as the dependency hangs).
type flight struct {
	mu  sync.Mutex
	cur *run // nil when no run is in progress.
}

// run is one execution of a check; err is written before done is closed.
type run struct {
	done chan struct{}
	err  error
}

// New returns a checker whose checks each get timeout (DefaultTimeout when
// zero).
func New(timeout time.Duration) *Checker {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Checker{timeout: timeout}
}

// Add registers a check. Adding a name twice replaces the first.
func (c *Checker) Add(name string, required bool, fn CheckFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.checks {
		if c.checks[i].name == name {
			c.checks[i] = check{name, required, fn, &flight{}}
			return
		}
	}
	c.checks = append(c.checks, check{name, required, fn, &flight{}})
}

// SetDraining makes every later report 503 draining. It cannot be undone:
// a draining process is on its way out.
func (c *Checker) SetDraining() { c.draining.Store(true) }

// Draining reports whether SetDraining was called.
func (c *Checker) Draining() bool { return c.draining.Load() }

// Report is the /readyz body.
type Report struct {
	// Status is ready, not_ready or draining.
	Status string `json:"status"`
	// Checks are keyed by name.
	Checks map[string]Result `json:"checks"`
}

// Result is one check's outcome.
type Result struct {
	// Status is CheckOK or CheckFailing.
	Status string `json:"status"`
	// Required tells whether a failure makes the instance not ready;
	// optional checks (Redis, breakers) are only reported.
	Required bool `json:"required"`
	// Detail is the check's error, when it failed.
	Detail string `json:"detail,omitempty"`
}

// Ready reports whether the report means 200.
func (r Report) Ready() bool { return r.Status == StatusReady }

// Check runs every check in parallel, each within the timeout, and reports.
func (c *Checker) Check(ctx context.Context) Report {
	c.mu.RLock()
	checks := append([]check(nil), c.checks...)
	c.mu.RUnlock()

	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			res := Result{Status: CheckOK, Required: ch.required}
			if err := ch.flight.join(cctx, c.timeout, ch.fn); err != nil {
				res.Status, res.Detail = CheckFailing, err.Error()
			}
			results[i] = res
		})
	}
	wg.Wait()

	rep := Report{Status: StatusReady, Checks: make(map[string]Result, len(checks))}
	for i, ch := range checks {
		rep.Checks[ch.name] = results[i]
		if ch.required && results[i].Status != CheckOK {
			rep.Status = StatusNotReady
		}
	}
	if c.Draining() {
		rep.Status = StatusDraining
	}
	return rep
}

// join returns the check's error, or ctx's when the check overruns the
// probe's deadline without honouring its own, so one stuck dependency cannot
// hang /readyz. A run already in progress (started by an earlier probe) is
// joined rather than doubled. A run gets its own timeout, detached from the
// probe that started it, so that probe leaving early does not cancel the
// answer the others wait for.
func (f *flight) join(ctx context.Context, timeout time.Duration, fn CheckFunc) error {
	f.mu.Lock()
	r := f.cur
	if r == nil {
		r = &run{done: make(chan struct{})}
		f.cur = r
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		go func() {
			defer cancel()
			r.err = fn(rctx)
			f.mu.Lock()
			f.cur = nil
			f.mu.Unlock()
			close(r.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ServeHTTP answers /readyz: 200 when ready, else 503, with the Report as
// JSON either way.
func (c *Checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := c.Check(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if rep.Ready() {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rep)
}
