package aggregate_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/aggregate"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/upstream"
)

// backend is a real HTTP server whose behaviour per path is set by the
// test: /hang waits for the caller to go away and records that it did,
// /together holds every call until the number set by barrier are in flight,
// /fail/<status> answers that status, any other path answers a product
// whose id is the path.
type backend struct {
	url       string
	hanging   chan string // Paths of /hang calls, as they arrive.
	cancelled chan string // Paths of /hang calls whose caller went away.
	together  sync.WaitGroup
}

func newBackend(t testing.TB) *backend {
	t.Helper()
	b := &backend{hanging: make(chan string, 64), cancelled: make(chan string, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/together":
			b.together.Done()
			b.together.Wait()
		case strings.HasPrefix(r.URL.Path, "/hang"):
			b.hanging <- r.URL.Path
			select {
			case <-r.Context().Done():
				b.cancelled <- r.URL.Path
			case <-time.After(time.Minute): // Only if the test is already failing.
			}
			return
		case strings.HasPrefix(r.URL.Path, "/fail/"):
			status := map[string]int{"500": 500, "404": 404, "503": 503}[strings.TrimPrefix(r.URL.Path, "/fail/")]
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(domain.Product{ID: strings.TrimPrefix(r.URL.Path, "/")})
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// barrier makes /together answer only once n calls to it are in flight.
func (b *backend) barrier(n int) { b.together.Add(n) }

// awaitHanging returns once n calls to /hang have reached the backend.
func (b *backend) awaitHanging(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case <-b.hanging:
		case <-time.After(10 * time.Second): // A failure bound, never reached when the test passes.
			t.Errorf("fewer than %d calls reached /hang", n)
			return
		}
	}
}

// nextCancelled returns the path of the next /hang call whose caller went
// away.
func (b *backend) nextCancelled(t testing.TB) string {
	t.Helper()
	select {
	case p := <-b.cancelled:
		return p
	case <-time.After(10 * time.Second): // A failure bound, never reached when the test passes.
		t.Fatal("the upstream never saw a hanging call cancelled")
		return ""
	}
}

// sleep waits d on the test's clock (fake inside a synctest bubble) or
// until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// client returns an upstream client of service name on b. Retries are off
// so that hit counts are exact.
func (b *backend) client(t testing.TB, name string) *upstream.Client {
	t.Helper()
	c, err := upstream.New(name, upstream.Config{BaseURL: b.url, Retry: upstream.RetryConfig{Disabled: true}}, upstream.Options{})
	require.NoError(t, err)
	return c
}

func get(c *upstream.Client, path string, out *domain.Product) func(context.Context) error {
	return func(ctx context.Context) error { return c.Get(ctx, path, nil, out) }
}

// TestRun_SourcesRunInParallel proves the fan-out on fake time: six sources
// of 100 ms each finish when the slowest does, not after the 600 ms their
// sum would take.
func TestRun_SourcesRunInParallel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		names := []string{"users", "orders", "recommendations", "notifications", "payments", "catalog"}
		parts := make([]aggregate.Part, len(names))
		for i, n := range names {
			mk := aggregate.Optional
			if i == 0 {
				mk = aggregate.Critical
			}
			parts[i] = mk(n, func(ctx context.Context) error { return sleep(ctx, 100*time.Millisecond) })
		}

		start := time.Now()
		degraded, err := aggregate.Run(context.Background(), 2500*time.Millisecond, parts...)

		require.NoError(t, err)
		assert.Equal(t, []string{}, degraded)
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "the slowest source, not the sum of all six")
	})
}

// TestRun_SourcesReachTheirUpstreamsAtOnce proves the same fan-out through
// real upstream clients and sockets, by events rather than elapsed time: the
// backend answers none of the six calls before all six are in flight, so a
// run that called them one after another would never finish a call and
// would end degraded when the budget runs out.
func TestRun_SourcesReachTheirUpstreamsAtOnce(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	names := []string{"users", "orders", "recommendations", "notifications", "payments", "catalog"}
	b.barrier(len(names))
	parts := make([]aggregate.Part, len(names))
	got := make([]domain.Product, len(names))
	for i, n := range names {
		mk := aggregate.Optional
		if i == 0 {
			mk = aggregate.Critical
		}
		parts[i] = mk(n, get(b.client(t, n), "/together", &got[i]))
	}

	degraded, err := aggregate.Run(context.Background(), 10*time.Second, parts...)

	require.NoError(t, err)
	assert.Equal(t, []string{}, degraded)
	for i := range got {
		assert.Equal(t, "together", got[i].ID)
	}
}

// TestRun_HangingOptionalSourceIsCutAndDegraded checks on fake time that a
// source's own timeout cuts it, long before the route's budget would.
func TestRun_HangingOptionalSourceIsCutAndDegraded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var cut error
		start := time.Now()
		degraded, err := aggregate.Run(context.Background(), 2500*time.Millisecond,
			aggregate.Critical("users", func(context.Context) error { return nil }),
			aggregate.Optional("recommendations", func(ctx context.Context) error { <-ctx.Done(); cut = ctx.Err(); return cut },
				aggregate.Timeout(100*time.Millisecond)),
		)

		require.NoError(t, err)
		assert.Equal(t, []string{"recommendations"}, degraded)
		assert.ErrorIs(t, cut, context.DeadlineExceeded)
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "cut at its own deadline, not the route's")
	})
}

// TestRun_HangingUpstreamSeesItsCallCancelled checks that the cut reaches a
// real upstream: with no route budget at all, only the source's own timeout
// can end its hanging call.
func TestRun_HangingUpstreamSeesItsCallCancelled(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	var user, recs domain.Product

	degraded, err := aggregate.Run(context.Background(), 0,
		aggregate.Critical("users", get(b.client(t, "users"), "/u1", &user)),
		aggregate.Optional("recommendations", get(b.client(t, "recommendations"), "/hang", &recs),
			aggregate.Timeout(100*time.Millisecond)),
	)

	require.NoError(t, err)
	assert.Equal(t, []string{"recommendations"}, degraded)
	assert.Equal(t, "u1", user.ID)
	assert.Empty(t, recs.ID)
	assert.Equal(t, "/hang", b.nextCancelled(t))
}

// TestRun_RouteBudgetCutsSourcesWithoutTimeout checks on fake time that the
// route's budget ends a source that has no timeout of its own.
func TestRun_RouteBudgetCutsSourcesWithoutTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		degraded, err := aggregate.Run(context.Background(), 150*time.Millisecond,
			aggregate.Critical("users", func(context.Context) error { return nil }),
			aggregate.Optional("recommendations", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }),
		)

		require.NoError(t, err)
		assert.Equal(t, []string{"recommendations"}, degraded)
		assert.Equal(t, 150*time.Millisecond, time.Since(start))
	})
}

func TestRun_CriticalFailureCancelsTheOthers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		givenPath    string
		expectStatus int
		expectCode   string
	}{
		{name: "nok, critical 5xx fails the screen with 502", givenPath: "/fail/500", expectStatus: 502, expectCode: problem.CodeUpstreamUnavailable},
		{name: "nok, critical 404 fails the screen with 404", givenPath: "/fail/404", expectStatus: 404, expectCode: problem.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			var user, a, c, d domain.Product
			stage2 := false
			users := b.client(t, "users")

			// No route budget: only the critical failure can end the
			// hanging calls, so seeing them cancelled proves it did.
			degraded, err := aggregate.Run(context.Background(), 0,
				aggregate.Optional("orders", get(b.client(t, "orders"), "/hang/orders", &a)),
				aggregate.Critical("users", func(ctx context.Context) error {
					b.awaitHanging(t, 3) // Fail only once the others are in flight.
					return users.Get(ctx, tt.givenPath, nil, &user)
				}),
				aggregate.Optional("payments", get(b.client(t, "payments"), "/hang/payments", &c)),
				aggregate.Critical("notifications", get(b.client(t, "notifications"), "/hang/notifications", &d)),
				aggregate.Then(aggregate.Optional("catalog", func(context.Context) error { stage2 = true; return nil })),
			)

			require.Error(t, err)
			p := problem.Resolve(err)
			assert.Equal(t, tt.expectStatus, p.Status)
			assert.Equal(t, tt.expectCode, p.Code)
			var ue *upstream.Error
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, "users", ue.Service, "the first critical failure is returned, not a cancelled sibling")
			assert.False(t, stage2, "later stages are skipped")
			assert.NotNil(t, degraded)

			seen := map[string]bool{}
			for range 3 {
				seen[b.nextCancelled(t)] = true
			}
			assert.Equal(t, map[string]bool{"/hang/orders": true, "/hang/payments": true, "/hang/notifications": true}, seen)
		})
	}
}

func TestRun_SecondStageUsesFirstStageResults(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	catalog := b.client(t, "catalog")
	var ids []string
	var first, second domain.Product

	degraded, err := aggregate.Run(context.Background(), 2500*time.Millisecond,
		aggregate.Critical("users", func(ctx context.Context) error {
			if err := catalog.Get(ctx, "/p7", nil, &first); err != nil {
				return err
			}
			ids = append(ids, first.ID)
			return nil
		}),
		aggregate.Optional("recommendations", get(b.client(t, "recommendations"), "/fail/503", &domain.Product{})),
		aggregate.Then(
			aggregate.Optional("catalog", func(ctx context.Context) error {
				return catalog.Get(ctx, upstream.Path(ids[0]), nil, &second)
			}),
			aggregate.Optional("pricing", get(b.client(t, "pricing"), "/fail/500", &domain.Product{})),
		),
	)

	require.NoError(t, err)
	assert.Equal(t, "p7", second.ID)
	assert.Equal(t, []string{"pricing", "recommendations"}, degraded, "sorted")
}

func TestRun_SecondStageGetsOnlyTheRemainingBudget(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var deadline time.Time
		start := time.Now()
		degraded, err := aggregate.Run(context.Background(), 300*time.Millisecond,
			aggregate.Optional("users", func(ctx context.Context) error { return sleep(ctx, 100*time.Millisecond) }),
			aggregate.Then(aggregate.Optional("catalog", func(ctx context.Context) error {
				deadline, _ = ctx.Deadline()
				<-ctx.Done()
				return ctx.Err()
			})),
		)

		require.NoError(t, err)
		assert.Equal(t, []string{"catalog"}, degraded)
		assert.Equal(t, start.Add(300*time.Millisecond), deadline, "the budget's end, not 300 ms after the second stage began")
		assert.Equal(t, 300*time.Millisecond, time.Since(start))
	})
}

func TestRun_Degraded(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return boom }
	tests := []struct {
		name      string
		given     []aggregate.Part
		expect    []string
		expectErr error
	}{
		{name: "ok, nothing failed is an empty list, not nil", given: []aggregate.Part{aggregate.Optional("a", ok)}, expect: []string{}},
		{name: "ok, no sources", expect: []string{}},
		{
			name: "ok, failures are sorted and deduplicated",
			given: []aggregate.Part{
				aggregate.Optional("reviews", fail), aggregate.Optional("pricing", fail), aggregate.Optional("reviews", fail),
				aggregate.Optional("catalog", ok), aggregate.Critical("users", ok),
			},
			expect: []string{"pricing", "reviews"},
		},
		{
			name:   "ok, a panicking optional source is degraded",
			given:  []aggregate.Part{aggregate.Optional("reviews", func(context.Context) error { panic("nil map") }), aggregate.Critical("users", ok)},
			expect: []string{"reviews"},
		},
		{
			name:      "nok, a critical error is returned as it is",
			given:     []aggregate.Part{aggregate.Optional("reviews", fail), aggregate.Critical("users", fail)},
			expectErr: boom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			degraded, err := aggregate.Run(context.Background(), time.Second, tt.given...)
			if tt.expectErr != nil {
				assert.ErrorIs(t, err, tt.expectErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expect, degraded)
			js, err := json.Marshal(map[string]any{"degraded": degraded})
			require.NoError(t, err)
			assert.NotContains(t, string(js), "null")
		})
	}
}

func TestRun_CriticalPanicIsAnErrorNotACrash(t *testing.T) {
	t.Parallel()
	_, err := aggregate.Run(context.Background(), time.Second,
		aggregate.Critical("users", func(context.Context) error { panic("index out of range") }))

	var pe *aggregate.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "users", pe.Source)
	assert.Equal(t, 500, problem.Resolve(err).Status)
}

func TestRun_ClientGoneIs499(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)

	_, err := aggregate.Run(ctx, time.Second,
		aggregate.Optional("recommendations", get(b.client(t, "recommendations"), "/hang", &domain.Product{})))

	assert.Equal(t, problem.StatusClientClosedRequest, problem.Resolve(err).Status)
}

func TestRun_ObserveSeesEverySource(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]bool{}

	_, err := aggregate.Run(context.Background(), time.Second,
		aggregate.Observe(func(r aggregate.Result) { mu.Lock(); seen[r.Name] = r.Err == nil; mu.Unlock() }),
		aggregate.Critical("users", func(context.Context) error { return nil }),
		aggregate.Optional("reviews", func(context.Context) error { return errors.New("down") }),
	)

	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"users": true, "reviews": false}, seen)
}
