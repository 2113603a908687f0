package edgetest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway"
)

// TestRedisCluster: the gateway's own client, built from the cluster's URL,
// writes keys of every slot owner; killing the primary of one key, its
// replica takes over within a few node timeouts and the key is still there.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	c := edgetest.StartRedisCluster(t)
	rdb, err := gateway.NewRedis(c.URL())
	require.NoError(t, err)
	defer rdb.Close()
	ctx := context.Background()
	mon := c.Monitor(t)
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		require.NoError(t, rdb.Set(ctx, k, k, 0).Err())
	}
	require.NoError(t, rdb.Set(ctx, "user:{42}:cart", "x y\"z", 0).Err())
	require.NoError(t, rdb.Eval(ctx, "return redis.call('MSET', KEYS[1], 'a', KEYS[2], 'b')", []string{"{7}:a", "{7}:b"}).Err())
	// Cross-slot: refused by the cluster, but the check must name it
	// from the command alone.
	cross := [][]string{{"MSET", "a", "1", "b", "2"}}
	// MONITOR shows the commands a script runs too.
	want := []string{"EVAL {<n>}:a {<n>}:b", "MSET a b", "MSET {<n>}:a {<n>}:b", "SET a", "SET b", "SET c", "SET d", "SET e", "SET f", "SET user:{<n>}:cart"}
	var shapes, crossSlot []string
	assert.Eventually(t, func() bool {
		shapes, crossSlot = c.KeyShapes(t, append(mon.Commands(), cross...))
		return slices.Equal(want, shapes)
	}, 5*time.Second, 20*time.Millisecond, "the monitor saw every command")
	assert.Equal(t, want, shapes)
	assert.Equal(t, []string{`MSET ["a" "b"]`}, crossSlot)
	c.WaitReplicated(t)
	victim := c.PrimaryOf(t, "a")
	require.NotNil(t, victim)
	victim.Stop()
	start := time.Now()
	promoted := c.WaitPrimaryOf(t, "a", 30*time.Second)
	t.Logf("replica promoted %s after the primary of \"a\" was killed", time.Since(start).Round(10*time.Millisecond))
	c.WaitHealthy(t, 30*time.Second)
	assert.NotEqual(t, victim.Addr, promoted.Addr)
	assert.Eventually(t, func() bool {
		v, err := rdb.Get(ctx, "a").Result()
		return err == nil && v == "a"
	}, 10*time.Second, 50*time.Millisecond, "the gateway's client follows the failover")
}

// TestRedisSentinel: the gateway's own client, built from the sentinels'
// URL, writes through the primary; after SENTINEL FAILOVER it writes
// through the promoted replica, which kept the earlier write.
func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	s := edgetest.StartRedisSentinel(t)
	rdb, err := gateway.NewRedis(s.URL())
	require.NoError(t, err)
	defer rdb.Close()
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, "k", "before", 0).Err())
	old := s.Failover(t)
	start := time.Now()
	promoted := s.WaitPrimaryOtherThan(t, old, 30*time.Second)
	t.Logf("replica promoted %s after SENTINEL FAILOVER", time.Since(start).Round(10*time.Millisecond))
	assert.NotEqual(t, old.Addr, promoted.Addr)
	assert.Eventually(t, func() bool { return rdb.Set(ctx, "k2", "after", 0).Err() == nil }, 10*time.Second, 50*time.Millisecond,
		"the gateway's client writes to the new primary")
	v, err := rdb.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "before", v)
}
