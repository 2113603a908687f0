package pace_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/shopfront/deploy/internal/pace"
)

// TestRate checks, on synctest's clock, that calls start when due and at
// the rate asked, whatever the calls take: slow ones overlap rather than
// hold the next back.
func TestRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		// call is how long each call takes.
		call   time.Duration
		expect int
	}{
		{desc: "ok, quick calls", expect: 100},
		{desc: "ok, calls slower than the period overlap", call: 50 * time.Millisecond, expect: 100},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 995*time.Millisecond)
				defer cancel()
				var mu sync.Mutex
				var late []time.Duration
				var l *pace.Load
				ready := make(chan struct{})
				l = pace.Start(ctx, 100, func(n int) {
					<-ready
					mu.Lock()
					late = append(late, time.Since(l.Scheduled(n)))
					mu.Unlock()
					time.Sleep(tc.call)
				})
				close(ready)
				assert.Equal(t, tc.expect, l.Wait(), "calls due at 0, 10, ... 990 ms")
				for n, d := range late {
					assert.Zero(t, d, "call %d started when due", n)
				}
			})
		})
	}
}
