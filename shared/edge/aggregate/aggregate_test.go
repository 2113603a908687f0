package aggregate_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/aggregate"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/upstream"
)

// backend is a real HTTP server whose behaviour per path is set by the
// test: /slow/<ms> answers after a delay, /hang waits for the caller to go
// away and records that it did, /fail/<status> answers that status,
// /ok answers {"id":"ok"}.
type backend struct {
	url       string
	cancelled chan string // Paths of /hang calls whose caller went away.
	hits      atomic.Int64
}

func newBackend(t testing.TB) *backend {
	t.Helper()
	b := &backend{cancelled: make(chan string, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		switch {
		case strings.HasPrefix(r.URL.Path, "/slow/"):
			d, _ := time.ParseDuration(strings.TrimPrefix(r.URL.Path, "/slow/") + "ms")
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		case strings.HasPrefix(r.URL.Path, "/hang"):
			select {
			case <-r.Context().Done():
				b.cancelled <- r.URL.Path
			case <-time.After(10 * time.Second):
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

func TestRun_SourcesRunInParallel(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	names := []string{"users", "orders", "recommendations", "notifications", "payments", "catalog"}
	clients := make([]*upstream.Client, len(names))
	for i, n := range names {
		clients[i] = b.client(t, n)
	}

	// Best of three: the bound proves parallelism (sequential would take
	// 600 ms) while tolerating a busy machine.
	best := time.Hour
	for range 3 {
		parts := make([]aggregate.Part, len(names))
		got := make([]domain.Product, len(names))
		for i, n := range names {
			mk := aggregate.Optional
			if i == 0 {
				mk = aggregate.Critical
			}
			parts[i] = mk(n, get(clients[i], "/slow/100", &got[i]))
		}
		start := time.Now()
		degraded, err := aggregate.Run(context.Background(), 2500*time.Millisecond, parts...)
		elapsed := time.Since(start)

		require.NoError(t, err)
		assert.Equal(t, []string{}, degraded)
		for i := range got {
			assert.Equal(t, "slow/100", got[i].ID)
		}
		best = min(best, elapsed)
	}
	assert.Less(t, best, 150*time.Millisecond)
}

func TestRun_HangingOptionalSourceIsCutAndDegraded(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	var user, recs domain.Product

	start := time.Now()
	degraded, err := aggregate.Run(context.Background(), 2500*time.Millisecond,
		aggregate.Critical("users", get(b.client(t, "users"), "/u1", &user)),
		aggregate.Optional("recommendations", get(b.client(t, "recommendations"), "/hang", &recs),
			aggregate.Timeout(100*time.Millisecond)),
	)
	elapsed := time.Since(start)

	require.NoError(t, err)
	assert.Equal(t, []string{"recommendations"}, degraded)
	assert.Equal(t, "u1", user.ID)
	assert.Empty(t, recs.ID)
	assert.GreaterOrEqual(t, elapsed, 100*time.Millisecond)
	assert.Less(t, elapsed, time.Second, "cut at its own deadline, not the route's")
	select {
	case p := <-b.cancelled:
		assert.Equal(t, "/hang", p)
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream never saw the hanging call cancelled")
	}
}

func TestRun_RouteBudgetCutsSourcesWithoutTimeout(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	var user, recs domain.Product

	start := time.Now()
	degraded, err := aggregate.Run(context.Background(), 150*time.Millisecond,
		aggregate.Critical("users", get(b.client(t, "users"), "/u1", &user)),
		aggregate.Optional("recommendations", get(b.client(t, "recommendations"), "/hang", &recs)),
	)

	require.NoError(t, err)
	assert.Equal(t, []string{"recommendations"}, degraded)
	assert.Less(t, time.Since(start), time.Second)
}

func TestRun_CriticalFailureCancelsTheOthers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc         string
		givenPath    string
		expectStatus int
		expectCode   string
	}{
		{desc: "nok, critical 5xx fails the screen with 502", givenPath: "/fail/500", expectStatus: 502, expectCode: problem.CodeUpstreamUnavailable},
		{desc: "nok, critical 404 fails the screen with 404", givenPath: "/fail/404", expectStatus: 404, expectCode: problem.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			var user, a, c, d domain.Product
			stage2 := false
			users := b.client(t, "users")

			start := time.Now()
			degraded, err := aggregate.Run(context.Background(), 5*time.Second,
				aggregate.Optional("orders", get(b.client(t, "orders"), "/hang/orders", &a)),
				aggregate.Critical("users", func(ctx context.Context) error {
					time.Sleep(50 * time.Millisecond) // Let the others reach the server.
					return users.Get(ctx, tt.givenPath, nil, &user)
				}),
				aggregate.Optional("payments", get(b.client(t, "payments"), "/hang/payments", &c)),
				aggregate.Critical("notifications", get(b.client(t, "notifications"), "/hang/notifications", &d)),
				aggregate.Then(aggregate.Optional("catalog", func(context.Context) error { stage2 = true; return nil })),
			)
			elapsed := time.Since(start)

			require.Error(t, err)
			p := problem.Resolve(err)
			assert.Equal(t, tt.expectStatus, p.Status)
			assert.Equal(t, tt.expectCode, p.Code)
			var ue *upstream.Error
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, "users", ue.Service, "the first critical failure is returned, not a cancelled sibling")
			assert.Less(t, elapsed, 2*time.Second, "the others were not waited for")
			assert.False(t, stage2, "later stages are skipped")
			assert.NotNil(t, degraded)

			seen := map[string]bool{}
			for range 3 {
				select {
				case path := <-b.cancelled:
					seen[path] = true
				case <-time.After(2 * time.Second):
					t.Fatalf("only %v saw their call cancelled", seen)
				}
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
	b := newBackend(t)
	var deadline time.Time
	catalog := b.client(t, "catalog")

	start := time.Now()
	degraded, err := aggregate.Run(context.Background(), 300*time.Millisecond,
		aggregate.Optional("users", get(b.client(t, "users"), "/slow/100", &domain.Product{})),
		aggregate.Then(aggregate.Optional("catalog", func(ctx context.Context) error {
			deadline, _ = ctx.Deadline()
			return catalog.Get(ctx, "/hang", nil, &domain.Product{})
		})),
	)

	require.NoError(t, err)
	assert.Equal(t, []string{"catalog"}, degraded)
	assert.WithinDuration(t, start.Add(300*time.Millisecond), deadline, 50*time.Millisecond)
}

func TestRun_Degraded(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return boom }
	tests := []struct {
		desc      string
		given     []aggregate.Part
		expect    []string
		expectErr error
	}{
		{desc: "ok, nothing failed is an empty list, not nil", given: []aggregate.Part{aggregate.Optional("a", ok)}, expect: []string{}},
		{desc: "ok, no sources", expect: []string{}},
		{
			desc: "ok, failures are sorted and deduplicated",
			given: []aggregate.Part{
				aggregate.Optional("reviews", fail), aggregate.Optional("pricing", fail), aggregate.Optional("reviews", fail),
				aggregate.Optional("catalog", ok), aggregate.Critical("users", ok),
			},
			expect: []string{"pricing", "reviews"},
		},
		{
			desc:   "ok, a panicking optional source is degraded",
			given:  []aggregate.Part{aggregate.Optional("reviews", func(context.Context) error { panic("nil map") }), aggregate.Critical("users", ok)},
			expect: []string{"reviews"},
		},
		{
			desc:      "nok, a critical error is returned as it is",
			given:     []aggregate.Part{aggregate.Optional("reviews", fail), aggregate.Critical("users", fail)},
			expectErr: boom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
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
