package edgetest_test

import (
	"context"
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
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		require.NoError(t, rdb.Set(ctx, k, k, 0).Err())
	}
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
