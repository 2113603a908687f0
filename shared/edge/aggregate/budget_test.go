package aggregate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/shopfront/shared/edge/aggregate"
)

func TestBudgets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		given     [3]time.Duration
		expect    [3]time.Duration
		expectErr string
	}{
		{name: "ok, zero budgets take their defaults", given: [3]time.Duration{0, time.Second, 0},
			expect: [3]time.Duration{2500 * time.Millisecond, time.Second, 2 * time.Second}},
		{name: "nok, every negative budget is reported in declaration order", given: [3]time.Duration{-1, 0, -time.Second},
			expectErr: "BUDGET_HOME: must not be negative, got -1ns\nBUDGET_ORDERS: must not be negative, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Maps would report in a random order; repeat to catch one.
			for range 20 {
				got := tt.given
				bs := aggregate.Budgets{
					{Name: "BUDGET_HOME", Value: &got[0], Default: 2500 * time.Millisecond},
					{Name: "BUDGET_SEARCH", Value: &got[1], Default: 2500 * time.Millisecond},
					{Name: "BUDGET_ORDERS", Value: &got[2], Default: 2 * time.Second},
				}
				err := bs.Validate()
				if tt.expectErr != "" {
					assert.EqualError(t, err, tt.expectErr)
					continue
				}
				assert.NoError(t, err)
				bs.Resolve()
				assert.Equal(t, tt.expect, got)
			}
		})
	}
	assert.EqualError(t, aggregate.Budgets{{Name: "x"}}.Validate(), "x: budget has no value")
}
