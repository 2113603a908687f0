package overload_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/overload"
	"github.com/shopfront/shared/edge/problem"
)

// stack is an echo instance with the limit in front of two routes that
// call a real upstream over a socket: GET /work (counted) and GET /stream
// (long-lived, skipped). Each upstream call blocks until release is
// closed, holding its slot.
type stack struct {
	url      string
	upstream atomic.Int64
	release  chan struct{}
	once     sync.Once
	reg      *prometheus.Registry
	lim      *overload.Limiter
}

func newStack(t testing.TB, cfg overload.Config) *stack {
	t.Helper()
	s := &stack{release: make(chan struct{}), reg: prometheus.NewRegistry()}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.upstream.Add(1)
		<-s.release
	}))
	t.Cleanup(up.Close)

	cfg.Mode, cfg.Registry = overload.ModeAdaptive, s.reg
	cfg.Skipper = func(c echo.Context) bool { return c.Path() == "/stream" }
	var err error
	s.lim, err = overload.New(cfg)
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.Use(s.lim.Middleware)
	call := func(c echo.Context) error {
		req, err := http.NewRequestWithContext(c.Request().Context(), http.MethodGet, up.URL, nil)
		if err != nil {
			return err
		}
		res, err := up.Client().Do(req)
		if err != nil {
			return err
		}
		_ = res.Body.Close()
		return c.NoContent(http.StatusOK)
	}
	e.GET("/work", call)
	e.GET("/stream", call)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	// Cleanups run last registered first: the held requests are released
	// before the servers wait for them.
	t.Cleanup(s.unblock)
	s.url = srv.URL
	return s
}

func (s *stack) unblock() { s.once.Do(func() { close(s.release) }) }

// hold sends a request in the background and waits until the upstream saw
// it, so that it holds a slot (or, skipped, none); the returned channel
// gets its status once released.
func (s *stack) hold(t testing.TB, path string) <-chan int {
	t.Helper()
	before := s.upstream.Load()
	done := make(chan int, 1)
	go func() {
		res, err := http.Get(s.url + path)
		if err != nil {
			done <- 0
			return
		}
		_ = res.Body.Close()
		done <- res.StatusCode
	}()
	require.Eventually(t, func() bool { return s.upstream.Load() > before }, 5*time.Second, time.Millisecond,
		"the held request reaches the upstream")
	return done
}

func TestLimit(t *testing.T) {
	t.Parallel()
	full := overload.Config{MinLimit: 1, MaxLimit: 1, InitialLimit: 1}
	tests := []struct {
		desc string
		// given holds these paths open first, in order.
		given []string
		// when is the path asked next.
		when string
		// expect is its status.
		expect int
		// expectUpstream is how many calls the upstream saw in all.
		expectUpstream int64
	}{
		{desc: "ok, a free slot admits the request", when: "/work", expect: http.StatusOK, expectUpstream: 1},
		{desc: "nok, at the limit the next request is shed before it runs", given: []string{"/work"}, when: "/work",
			expect: http.StatusServiceUnavailable, expectUpstream: 1},
		{desc: "ok, a long-lived request is admitted at the limit", given: []string{"/work"}, when: "/stream",
			expect: http.StatusOK, expectUpstream: 2},
		{desc: "ok, a long-lived request takes no slot", given: []string{"/stream"}, when: "/work",
			expect: http.StatusOK, expectUpstream: 2},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, full)
			var held []<-chan int
			for _, p := range tc.given {
				held = append(held, s.hold(t, p))
			}
			if tc.expect == http.StatusOK {
				// The request itself holds on at the upstream; release it
				// and its holders once it arrived.
				done := s.hold(t, tc.when)
				s.unblock()
				assert.Equal(t, http.StatusOK, <-done)
			} else {
				res, err := http.Get(s.url + tc.when)
				require.NoError(t, err)
				defer res.Body.Close()
				assert.Equal(t, tc.expect, res.StatusCode)
				assert.Equal(t, "1", res.Header.Get("Retry-After"))
				assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
				var p problem.Problem
				require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
				assert.Equal(t, problem.CodeOverloaded, p.Code)
				assert.Equal(t, 1.0, gauge(t, s.reg, "shopfront_overload_shed_total"))
				assert.Equal(t, 1.0, gauge(t, s.reg, "shopfront_overload_in_flight"), "the held request")
				s.unblock()
			}
			for _, h := range held {
				assert.Equal(t, http.StatusOK, <-h, "the held request is served")
			}
			assert.Equal(t, tc.expectUpstream, s.upstream.Load())
		})
	}
}

// TestAdapts drives the limit in a synctest bubble, whose clock the limiter
// reads, against a handler that behaves like a saturated core: each request
// takes 5 ms per request running beside it, so concurrency beyond a few adds
// latency and no throughput. Under light load requests are fast and none is
// shed; when 40 clients arrive the limit holds well below them, keeping
// latency down, and what is over it is shed.
func TestAdapts(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		lim, err := overload.New(overload.Config{Mode: overload.ModeAdaptive, MinLimit: 2, MaxLimit: 100, InitialLimit: 20, Registry: reg})
		require.NoError(t, err)
		var running atomic.Int64
		e := echo.New()
		h := lim.Middleware(func(c echo.Context) error {
			n := running.Add(1)
			defer running.Add(-1)
			time.Sleep(time.Duration(n) * 5 * time.Millisecond)
			return c.NoContent(http.StatusOK)
		})
		// load runs clients, each sending request after request for d and
		// waiting 100 ms after a shed; it returns the sheds.
		load := func(clients int, d time.Duration) int64 {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			var wg sync.WaitGroup
			var shed atomic.Int64
			for range clients {
				wg.Go(func() {
					for ctx.Err() == nil {
						c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
						if err := h(c); err != nil {
							shed.Add(1)
							time.Sleep(100 * time.Millisecond)
						}
					}
				})
			}
			wg.Wait()
			return shed.Load()
		}

		assert.Zero(t, load(2, 30*time.Second), "light load is never shed")
		assert.GreaterOrEqual(t, lim.Limit(), 4, "the limit leaves headroom above the light load")

		// Sample the limit through the overload: it must hold well below
		// the clients, where latency stays a few times the light load's
		// rather than the 20 times all 40 at once would give.
		var most atomic.Int64
		stop := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
					most.Store(max(most.Load(), int64(lim.Limit())))
				}
			}
		})
		shed := load(40, 20*time.Second)
		close(stop)
		sampler.Wait()
		assert.LessOrEqual(t, most.Load(), int64(16), "latency growing with concurrency holds the limit well below the 40 clients")
		assert.Positive(t, shed, "requests over the limit are shed")

		assert.Equal(t, float64(lim.Limit()), gauge(t, reg, "shopfront_overload_limit"))
		assert.Equal(t, float64(shed), gauge(t, reg, "shopfront_overload_shed_total"))
		assert.Equal(t, 0.0, gauge(t, reg, "shopfront_overload_in_flight"))
	})
}

// TestMaxWait runs the limit at one slot with a wait of 50 ms, on
// synctest's clock: a request over the limit waits for the slot and is
// served when it frees within the wait, is shed when it does not, and is
// shed at once when as many wait already as the limit admits.
func TestMaxWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		// freeAfter is when the request holding the slot ends.
		freeAfter time.Duration
		// waiting is how many requests already wait for the slot.
		waiting int
		// expectShed is whether the request is shed, after expectAfter.
		expectShed  bool
		expectAfter time.Duration
	}{
		{desc: "ok, the slot frees within the wait", freeAfter: 30 * time.Millisecond, expectAfter: 30 * time.Millisecond},
		{desc: "nok, the slot stays taken past the wait", freeAfter: time.Second, expectShed: true, expectAfter: 50 * time.Millisecond},
		{desc: "nok, the queue is full", freeAfter: time.Second, waiting: 1, expectShed: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				lim, err := overload.New(overload.Config{Mode: overload.ModeAdaptive, MinLimit: 1, MaxLimit: 1, InitialLimit: 1,
					MaxWait: 50 * time.Millisecond})
				require.NoError(t, err)
				e := echo.New()
				hold := map[string]time.Duration{"/hold": tc.freeAfter, "/wait": time.Second, "/work": 0}
				h := lim.Middleware(func(c echo.Context) error {
					time.Sleep(hold[c.Request().URL.Path])
					return c.NoContent(http.StatusOK)
				})
				serve := func(path string) error {
					return h(e.NewContext(httptest.NewRequest(http.MethodGet, path, nil), httptest.NewRecorder()))
				}
				var bg sync.WaitGroup
				defer bg.Wait()
				bg.Go(func() { _ = serve("/hold") })
				synctest.Wait()
				for range tc.waiting {
					bg.Go(func() { _ = serve("/wait") })
				}
				synctest.Wait()
				start := time.Now()
				err = serve("/work")
				assert.Equal(t, tc.expectAfter, time.Since(start))
				if !tc.expectShed {
					assert.NoError(t, err)
					return
				}
				var p *problem.Problem
				require.ErrorAs(t, err, &p)
				assert.Equal(t, problem.CodeOverloaded, p.Code)
			})
		})
	}
}

// gauge reads the value of the metric family name, which has no labels.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		given     overload.Config
		expectErr string
	}{
		{desc: "ok, the zero value is the default", given: overload.Config{}},
		{desc: "ok, the initial limit follows a floor set above its default", given: overload.Config{Mode: "adaptive", MinLimit: 50}},
		{desc: "ok, adaptive with its limits", given: overload.Config{Mode: "adaptive", MinLimit: 1, MaxLimit: 10, InitialLimit: 5}},
		{desc: "nok, an unknown mode", given: overload.Config{Mode: "on"}, expectErr: `overload.mode: "on" is not one of adaptive, off`},
		{desc: "nok, min above max", given: overload.Config{MinLimit: 50, MaxLimit: 10}, expectErr: "overload.min_limit: 50 is above overload.max_limit 10"},
		{desc: "nok, initial outside the limits", given: overload.Config{MinLimit: 5, MaxLimit: 10, InitialLimit: 11},
			expectErr: "overload.initial_limit: 11 is not between overload.min_limit 5 and overload.max_limit 10"},
		{desc: "ok, every setting of the limit's adaptation", given: overload.Config{Mode: "adaptive", MaxLimitFactor: 1, Window: 10 * time.Millisecond,
			WindowSamples: 5, Quantile: 0.5, BaselineWindows: 20, MaxWait: time.Second}},
		{desc: "nok, a max limit factor below 1", given: overload.Config{MaxLimitFactor: 0.5}, expectErr: "overload.max_limit_factor: 0.5 is below 1"},
		{desc: "nok, a window too short", given: overload.Config{Window: time.Millisecond}, expectErr: "overload.window: 1ms is not between 10ms and 30s"},
		{desc: "nok, a window too long", given: overload.Config{Window: time.Minute}, expectErr: "overload.window: 1m0s is not between 10ms and 30s"},
		{desc: "nok, a quantile of 1", given: overload.Config{Quantile: 1}, expectErr: "overload.quantile: 1 is not between 0 and 1"},
		{desc: "nok, a negative quantile", given: overload.Config{Quantile: -0.5}, expectErr: "overload.quantile: -0.5 is not between 0 and 1"},
		{desc: "nok, a wait too long", given: overload.Config{MaxWait: 2 * time.Second}, expectErr: "overload.max_wait: 2s is not between 0 and 1s"},
		{desc: "nok, a negative wait", given: overload.Config{MaxWait: -time.Second}, expectErr: "overload.max_wait: -1s is not between 0 and 1s"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			err := tc.given.Validate()
			if tc.expectErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.expectErr)
		})
	}
}

func TestOffBuildsNothing(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	mw, err := overload.Config{Mode: overload.ModeOff, Registry: reg}.ToMiddleware()
	require.NoError(t, err)
	assert.Nil(t, mw, "off installs no layer")
	mfs, err := reg.Gather()
	require.NoError(t, err)
	assert.Empty(t, mfs, "off exports no metrics")
}
