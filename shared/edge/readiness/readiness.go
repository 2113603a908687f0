// Package readiness answers /readyz: whether this instance should receive
// traffic. Required checks (e.g. "the JWKS was fetched once") must all pass;
// optional ones (e.g. Redis, which the rate limiter can do without) are
// reported but never make the instance unready. While draining, the answer is
// 503 whatever the checks say, so load balancers stop routing here before the
// listener closes (SPEC §4).
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
			c.checks[i] = check{name, required, fn}
			return
		}
	}
	c.checks = append(c.checks, check{name, required, fn})
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
			if err := runCheck(cctx, ch.fn); err != nil {
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

// runCheck returns the check's error, or ctx's when the check overruns its
// deadline without honouring it, so one stuck dependency cannot hang /readyz.
func runCheck(ctx context.Context, fn CheckFunc) error {
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
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
