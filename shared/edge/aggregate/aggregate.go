// Package aggregate runs the sources of a screen in parallel inside a route
// budget. A handler declares its screen:
//
//	var v HomeView
//	var ids []string
//	degraded, err := aggregate.Run(ctx, budget,
//		aggregate.Critical("users", func(ctx context.Context) (err error) { v.User, err = c.Users.Get(ctx, id); return }),
//		aggregate.Optional("orders", func(ctx context.Context) (err error) { v.Orders, err = c.Orders.ForUser(ctx, id, 5); return }),
//		aggregate.Optional("recommendations", func(ctx context.Context) (err error) { v.Recs, err = c.Recommendations.ForUser(ctx, id, 10); return },
//			aggregate.Timeout(800*time.Millisecond)),
//		aggregate.Then(
//			aggregate.Optional("catalog", func(ctx context.Context) (err error) { v.Products, err = c.Catalog.Products(ctx, ids); return }),
//			aggregate.Optional("pricing", func(ctx context.Context) (err error) { v.Prices, err = c.Pricing.Prices(ctx, ids, "USD"); return }),
//		),
//	)
//
// Each source writes its own typed field. The sources of a
// stage run in parallel; a Then stage starts when the stage before it has
// finished, so it may read what that stage wrote.
//
// A Then stage waits for every source of the stage before it, the slowest
// included. When a second stage depends on one source only, Chain keeps the
// two together so that a slow unrelated source does not eat its budget:
//
//	aggregate.Critical("catalog", ...),
//	aggregate.Optional("reviews", ...),
//	aggregate.Chain(
//		aggregate.Optional("recommendations", func(ctx context.Context) (err error) { similar, err = ...; return }),
//		aggregate.Then(aggregate.Optional("pricing", func(ctx context.Context) (err error) { prices, err = ...(similar); return })),
//	),
//
// Here pricing starts as soon as recommendations is done, whatever reviews
// takes.
//
// Deadlines: the route's deadline is now+budget (or the caller's earlier
// one). Each source's deadline is that route deadline, or now+Timeout(d)
// when the source sets a shorter one. Sources get the whole remaining
// budget by default, rather than KrakenD's 85 %, because the upstream
// clients already bound each call (2 s of the 2.5 s route budget) and
// cutting sources earlier would only turn slow successes into degraded
// parts; a source that must leave room for a later stage says so with
// Timeout. A source's Timeout is the screen's policy: the service's breaker
// still judges the service by its own upstream.Config.Timeout, so a screen
// that gives up early never opens a breaker for every other route.
//
// Failure: a critical source's failure cancels the contexts of all other
// sources at once, later stages are skipped, and Run returns that error
// (an *upstream.Error renders as its status). An optional source's
// failure or timeout adds its name to degraded. A panic in a source is
// recovered and treated as its failure.
//
// Goroutines: Run returns only once every source has returned, so no
// goroutine outlives it and no source can write its field while the handler
// reads the view. Sources must therefore honour their context, as every
// upstream.Client call does; a source blocked on something that ignores its
// context holds the request until it returns.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Part is one element of a screen's declaration: a Source, a Then stage or
// an Observe hook.
type Part interface{ apply(*plan) }

// Source is one named call of a screen, or a Chain of them.
type Source struct {
	name     string
	critical bool
	timeout  time.Duration
	fn       func(context.Context) error
	// chain is set for Chain sources: their own stages, run in place of fn.
	chain *plan
}

// Option tunes a source.
type Option func(*Source)

// Timeout gives a source a deadline d after its stage starts, when that is
// earlier than the route's deadline. Optional. Default: the route's deadline.
func Timeout(d time.Duration) Option { return func(s *Source) { s.timeout = d } }

// Critical declares a source whose failure fails the whole request. name is
// its service's name, used in errors and hooks.
func Critical(name string, fn func(context.Context) error, opts ...Option) Source {
	return newSource(name, true, fn, opts)
}

// Optional declares a source whose failure only degrades the screen: its
// part stays empty and name (the service's name as in domain.ServiceNames, e.g.
// "recommendations") is listed in degraded.
func Optional(name string, fn func(context.Context) error, opts ...Option) Source {
	return newSource(name, false, fn, opts)
}

func newSource(name string, critical bool, fn func(context.Context) error, opts []Option) Source {
	s := Source{name: name, critical: critical, fn: fn}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func (s Source) apply(p *plan) {
	if len(p.stages) == 0 {
		p.stages = append(p.stages, nil)
	}
	p.stages[0] = append(p.stages[0], s)
}

// Chain declares one source of the stage it sits in that runs parts (its
// sources and Then stages) as a small aggregate of its own: a Then stage in
// the chain starts as soon as the chain's earlier stages are done, not when
// the slowest source of the enclosing stage is. Use it for a lookup that
// depends on one source only, such as the names and prices of the similar
// products a recommendations call found.
//
// The chain adds nothing of its own to the screen: its sources count as if
// they were declared at the top. An optional one's failure puts its name in
// Run's degraded list (and does not stop the chain's later stages, as with
// Run); a critical one's failure fails the whole Run and cancels every other
// source. Observe hooks, the Run's and the chain's own, see each of its
// sources, never the chain itself. Its deadline is the enclosing stage's;
// Timeout applies to its sources, each from the start of its own stage.
// A Chain may sit in a Then stage or in another Chain.
func Chain(parts ...Part) Source {
	p := newPlan(parts)
	return Source{name: "chain", chain: &p}
}

type then []Source

// Then declares a stage that starts once every earlier stage has finished
// successfully, with the remaining budget; its sources run in parallel.
func Then(sources ...Source) Part { return then(sources) }

func (t then) apply(p *plan) {
	if len(p.stages) == 0 {
		// Keep stage 0 for the first-stage sources declared around it.
		p.stages = append(p.stages, nil)
	}
	p.stages = append(p.stages, []Source(t))
}

// Result is the outcome of one source, for Observe hooks.
type Result struct {
	// Name is the source's name.
	Name string
	// Critical tells whether its failure failed the request.
	Critical bool
	// Err is nil on success, else its error (a *PanicError after a panic).
	Err error
	// Duration is how long the source ran.
	Duration time.Duration
}

type observe func(Result)

// Observe registers fn to be called once per finished source, from the
// source's goroutine, e.g. to log degraded parts or count them in metrics.
// fn must be safe for concurrent use.
func Observe(fn func(Result)) Part { return observe(fn) }

func (o observe) apply(p *plan) { p.hooks = append(p.hooks, o) }

// PanicError is the failure of a source that panicked.
type PanicError struct {
	// Source is the name of the source that panicked.
	Source string
	// Value is what it panicked with.
	Value any
	// Stack is the goroutine's stack at the panic, for the log.
	Stack []byte
}

// Error implements error.
func (e *PanicError) Error() string { return fmt.Sprintf("source %s panicked: %v", e.Source, e.Value) }

type plan struct {
	stages [][]Source
	hooks  []observe
}

// Run runs the declared sources within budget (no extra bound when budget
// <= 0; the caller's deadline always applies) and returns the sorted,
// deduplicated names of the optional sources that failed, never nil, and the
// error of the first critical source that failed.
func Run(ctx context.Context, budget time.Duration, parts ...Part) ([]string, error) {
	p := newPlan(parts)
	caller := ctx
	if budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	degraded, err := p.run(ctx, nil)
	if err != nil {
		return tidy(degraded), err
	}
	if err := caller.Err(); errors.Is(err, context.Canceled) {
		// The client went away: nobody will read a partial screen (499).
		return tidy(degraded), err
	}
	return tidy(degraded), nil
}

func newPlan(parts []Part) plan {
	var p plan
	for _, part := range parts {
		part.apply(&p)
	}
	return p
}

// run runs the plan's stages one after the other, with its own hooks and
// those of the plans it sits in, and returns the names of the optional
// sources that failed and the first critical failure.
func (p *plan) run(ctx context.Context, outer []observe) ([]string, error) {
	hooks := append(slices.Clip(p.hooks), outer...)
	degraded := []string{}
	for _, stage := range p.stages {
		failed, err := runStage(ctx, stage, hooks)
		degraded = append(degraded, failed...)
		if err != nil {
			return degraded, err
		}
	}
	return degraded, nil
}

// runStage runs the sources of one stage in parallel and waits for all.
func runStage(ctx context.Context, sources []Source, hooks []observe) ([]string, error) {
	if len(sources) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	failed := make([][]string, len(sources))
	var (
		wg       sync.WaitGroup
		once     sync.Once
		critical error
	)
	fail := func(name string, err error) {
		once.Do(func() {
			critical = err
			cancel(fmt.Errorf("critical source %s failed: %w", name, err))
		})
	}
	run := func(i int) {
		s := sources[i]
		if s.chain != nil {
			// A chain's sources report to the hooks themselves; a
			// chain's error is always a critical source's.
			d, err := s.chain.run(ctx, hooks)
			failed[i] = d
			if err != nil {
				fail(s.name, err)
			}
			return
		}
		err := s.call(ctx, start)
		for _, h := range hooks {
			h(Result{Name: s.name, Critical: s.critical, Err: err, Duration: time.Since(start)})
		}
		switch {
		case err != nil && s.critical:
			fail(s.name, err)
		case err != nil:
			failed[i] = []string{s.name}
		}
	}
	// The last source runs on the calling goroutine, which would only
	// wait otherwise: a goroutine fewer per stage, and a stack that has
	// already grown to what an upstream call needs.
	last := len(sources) - 1
	for i := range last {
		wg.Go(func() { run(i) })
	}
	run(last)
	wg.Wait()
	if critical != nil {
		return nil, critical
	}
	return slices.Concat(failed...), nil
}

// call runs the source under its own deadline and turns a panic into an
// error.
func (s Source) call(ctx context.Context, start time.Time) (err error) {
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, start.Add(s.timeout))
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Source: s.name, Value: v, Stack: debug.Stack()}
		}
	}()
	if s.fn == nil {
		return errors.New("source " + s.name + " has no function")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.fn(ctx)
}

func tidy(names []string) []string {
	slices.Sort(names)
	return slices.Compact(names)
}
