package aggregate_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/aggregate"
)

// TestChain_SecondStageDoesNotWaitForSlowSiblings runs a slow source beside
// a chain whose second stage releases it: with Chain the second stage starts
// as soon as its own first stage is done, so the slow source is released
// long before the route budget. A plain Then stage would wait for the slow
// source, which would then only end at the budget.
func TestChain_SecondStageDoesNotWaitForSlowSiblings(t *testing.T) {
	t.Parallel()
	released := make(chan struct{})
	var (
		similar  []string
		prices   []string
		slowSeen error
	)
	degraded, err := aggregate.Run(context.Background(), 10*time.Second,
		aggregate.Optional("reviews", func(ctx context.Context) error {
			select {
			case <-released:
				return nil
			case <-ctx.Done():
				slowSeen = ctx.Err()
				return ctx.Err()
			}
		}),
		aggregate.Chain(
			aggregate.Optional("recommendations", func(context.Context) error { similar = []string{"p-2", "p-3"}; return nil }),
			aggregate.Then(aggregate.Optional("pricing", func(context.Context) error {
				prices = slices.Clone(similar)
				close(released)
				return nil
			})),
		),
	)
	require.NoError(t, err)
	assert.NoError(t, slowSeen, "the slow source was released by the chain, not cut by the budget")
	assert.Equal(t, []string{}, degraded)
	assert.Equal(t, []string{"p-2", "p-3"}, prices, "the chain's second stage read its first stage's result")
}

// TestChain_ThenWaitsForTheWholeStage is the contrast: the same screen with
// a plain Then stage cannot start pricing before the slow source ends, so
// the slow source is cut by the budget and degraded.
func TestChain_ThenWaitsForTheWholeStage(t *testing.T) {
	t.Parallel()
	// On fake time, so the 200 ms budget costs nothing.
	synctest.Test(t, func(t *testing.T) {
		released := make(chan struct{})
		var once sync.Once
		degraded, err := aggregate.Run(context.Background(), 200*time.Millisecond,
			aggregate.Optional("reviews", func(ctx context.Context) error {
				select {
				case <-released:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}),
			aggregate.Optional("recommendations", func(context.Context) error { return nil }),
			aggregate.Then(aggregate.Optional("pricing", func(context.Context) error {
				once.Do(func() { close(released) })
				return nil
			})),
		)
		require.NoError(t, err)
		assert.Equal(t, []string{"pricing", "reviews"}, degraded, "reviews ran out the budget, leaving pricing none")
	})
}

func TestChain_Failures(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	ok := func(context.Context) error { return nil }
	failing := func(context.Context) error { return boom }
	tests := []struct {
		name           string
		given          []aggregate.Part
		expectDegraded []string
		expectErr      error
	}{
		{
			name: "ok, optional failures inside a chain are listed in degraded, sorted with the others",
			given: []aggregate.Part{
				aggregate.Optional("users", failing),
				aggregate.Chain(
					aggregate.Optional("recommendations", failing),
					aggregate.Then(aggregate.Optional("catalog", failing), aggregate.Optional("pricing", ok)),
				),
			},
			expectDegraded: []string{"catalog", "recommendations", "users"},
		},
		{
			name: "ok, a chain inside a Then stage and inside another chain",
			given: []aggregate.Part{
				aggregate.Critical("catalog", ok),
				aggregate.Then(aggregate.Chain(
					aggregate.Optional("inventory", failing),
					aggregate.Chain(aggregate.Optional("reviews", ok), aggregate.Then(aggregate.Optional("pricing", failing))),
				)),
			},
			expectDegraded: []string{"inventory", "pricing"},
		},
		{
			name: "ok, a panic inside a chain degrades its source",
			given: []aggregate.Part{
				aggregate.Chain(aggregate.Optional("recommendations", func(context.Context) error { panic("bug") })),
			},
			expectDegraded: []string{"recommendations"},
		},
		{
			name: "nok, a critical failure inside a chain fails the run",
			given: []aggregate.Part{
				aggregate.Optional("reviews", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }),
				aggregate.Chain(aggregate.Critical("catalog", failing), aggregate.Then(aggregate.Optional("pricing", ok))),
			},
			expectErr: boom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			degraded, err := aggregate.Run(context.Background(), 5*time.Second, tt.given...)
			if tt.expectErr != nil {
				assert.ErrorIs(t, err, tt.expectErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expectDegraded, degraded)
		})
	}
}

// TestChain_CriticalFailureSkipsTheChainsLaterStages checks that a chain
// stops like Run does: its second stage never runs after a critical
// failure, and the other sources are cancelled at once.
func TestChain_CriticalFailureSkipsTheChainsLaterStages(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var ran bool
		cancelled := make(chan error, 1)
		start := time.Now()
		_, err := aggregate.Run(context.Background(), 10*time.Second,
			aggregate.Optional("reviews", func(ctx context.Context) error { <-ctx.Done(); cancelled <- ctx.Err(); return ctx.Err() }),
			aggregate.Chain(
				aggregate.Critical("catalog", func(context.Context) error { return errors.New("down") }),
				aggregate.Then(aggregate.Optional("pricing", func(context.Context) error { ran = true; return nil })),
			),
		)
		require.Error(t, err)
		assert.False(t, ran, "the chain's second stage was skipped")
		// Run returns only once every source has: a sibling that started
		// saw its context cancelled; one the failure beat to it never ran.
		select {
		case err := <-cancelled:
			assert.ErrorIs(t, err, context.Canceled)
		default:
		}
		assert.Zero(t, time.Since(start), "the sibling was cancelled at once, not left to the budget")
	})
}

// TestChain_ObserveSeesItsSourcesNotTheChain checks that hooks of the run
// and of the chain see every source in the chain by its own name.
func TestChain_ObserveSeesItsSourcesNotTheChain(t *testing.T) {
	t.Parallel()
	var (
		mu          sync.Mutex
		outer, mine []string
	)
	record := func(to *[]string) aggregate.Part {
		return aggregate.Observe(func(r aggregate.Result) { mu.Lock(); defer mu.Unlock(); *to = append(*to, r.Name) })
	}
	_, err := aggregate.Run(context.Background(), time.Second, record(&outer),
		aggregate.Critical("catalog", func(context.Context) error { return nil }),
		aggregate.Chain(record(&mine),
			aggregate.Optional("recommendations", func(context.Context) error { return errors.New("503") }),
			aggregate.Then(aggregate.Optional("pricing", func(context.Context) error { return nil })),
		),
	)
	require.NoError(t, err)
	slices.Sort(outer)
	assert.Equal(t, []string{"catalog", "pricing", "recommendations"}, outer)
	assert.Equal(t, []string{"recommendations", "pricing"}, mine, "a chain's stages run in order")
}
