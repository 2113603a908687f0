package signin_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/bff-web/internal/signin"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/problem"
)

// clock is a settable clock shared by the throttle and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func newRedis(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	opt.MaxRetries = -1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// retryAfter is the Retry-After of Check's refusal, "" when admitted.
func retryAfter(t *testing.T, th *signin.Throttle, username string) string {
	t.Helper()
	err := th.Check(context.Background(), username)
	if err == nil {
		return ""
	}
	p := problem.Resolve(err)
	require.Equal(t, http.StatusTooManyRequests, p.Status)
	require.Equal(t, problem.CodeRateLimited, p.Code)
	return p.Header.Get("Retry-After")
}

// TestThrottle runs one suite over the in-process counts and the counts in
// a real redis-server, on an injected clock.
func TestThrottle(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name  string
		redis func(t *testing.T) redis.UniversalClient
	}{
		{name: "memory", redis: func(*testing.T) redis.UniversalClient { return nil }},
		{name: "redis", redis: func(t *testing.T) redis.UniversalClient { return newRedis(t, edgetest.StartRedis(t).URL()) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			core, logs := observer.New(zap.DebugLevel)
			th, err := signin.New(signin.Config{Redis: st.redis(t), Now: clk.Now, Logger: zap.New(core)})
			require.NoError(t, err)
			ctx := context.Background()

			for range 4 {
				th.Fail(ctx, "alice")
				clk.Advance(time.Minute)
			}
			assert.Empty(t, retryAfter(t, th, "alice"), "4 failures: still admitted")
			th.Fail(ctx, "alice") // the 5th, 4 min into the window
			assert.Equal(t, "660", retryAfter(t, th, "alice"), "refused until the window that began 4 min ago ends")
			assert.Equal(t, "660", retryAfter(t, th, " ALICE"), "case and surrounding space fold")
			assert.Empty(t, retryAfter(t, th, "bob"), "another username is its own count")

			clk.Advance(10*time.Minute + 59*time.Second)
			assert.Equal(t, "1", retryAfter(t, th, "alice"))
			clk.Advance(time.Second)
			assert.Empty(t, retryAfter(t, th, "alice"), "the window ended")

			// A new window counts from its first failure.
			th.Fail(ctx, "alice")
			assert.Empty(t, retryAfter(t, th, "alice"))
			for _, e := range logs.All() {
				assert.NotContains(t, e.Message+fmt.Sprint(e.ContextMap()), "alice")
			}
		})
	}
}

// TestThrottleSharedThroughRedis: failures on two instances add up, and a
// Redis that fails leaves each instance counting on its own.
func TestThrottleSharedThroughRedis(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	one, err := signin.New(signin.Config{Redis: newRedis(t, r.URL()), Now: clk.Now})
	require.NoError(t, err)
	two, err := signin.New(signin.Config{Redis: newRedis(t, r.URL()), Now: clk.Now})
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 5 {
		[]*signin.Throttle{one, two}[i%2].Fail(ctx, "carol")
	}
	assert.Equal(t, "900", retryAfter(t, one, "carol"))
	assert.Equal(t, "900", retryAfter(t, two, "carol"))

	keys, err := newRedis(t, r.URL()).Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.NotContains(t, keys[0], "carol", "the username is hashed in keys")

	r.Stop()
	for range 5 {
		one.Fail(ctx, "dave")
	}
	assert.Equal(t, "900", retryAfter(t, one, "dave"), "counted per instance while Redis is away")
	assert.Empty(t, retryAfter(t, two, "dave"))
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := signin.New(signin.Config{MaxFailures: -1, Window: -time.Second, MaxUsernames: -1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max failures")
	assert.Contains(t, err.Error(), "durations")
	assert.Contains(t, err.Error(), "max usernames")
}
