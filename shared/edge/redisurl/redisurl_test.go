package redisurl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/redisurl"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  string
		expect func(t *testing.T, o *redis.UniversalOptions, topo redisurl.Topology)
		err    string
	}{
		{name: "ok, one server with a database", given: "redis://:hunter2@10.0.0.5:6379/2",
			expect: func(t *testing.T, o *redis.UniversalOptions, topo redisurl.Topology) {
				assert.Equal(t, redisurl.Single, topo)
				assert.Equal(t, []string{"10.0.0.5:6379"}, o.Addrs)
				assert.Equal(t, 2, o.DB)
				assert.Equal(t, "hunter2", o.Password)
				_, isClient := redis.NewUniversalClient(o).(*redis.Client)
				assert.True(t, isClient, "one server makes a plain client")
			}},
		{name: "ok, one server over TLS, default port", given: "rediss://redis.internal",
			expect: func(t *testing.T, o *redis.UniversalOptions, topo redisurl.Topology) {
				assert.Equal(t, redisurl.Single, topo)
				assert.Equal(t, []string{"redis.internal:6379"}, o.Addrs)
				require.NotNil(t, o.TLSConfig)
			}},
		{name: "ok, cluster with one seed node", given: "redis-cluster://n1:7000",
			expect: func(t *testing.T, o *redis.UniversalOptions, topo redisurl.Topology) {
				assert.Equal(t, redisurl.Cluster, topo)
				assert.Equal(t, []string{"n1:7000"}, o.Addrs)
				_, isCluster := redis.NewUniversalClient(o).(*redis.ClusterClient)
				assert.True(t, isCluster, "a single seed still makes a cluster client")
			}},
		{name: "ok, cluster with seeds, user and pool size", given: "rediss-cluster://gw:hunter2@n1:7000?addr=n2:7001&addr=[::1]:7002&pool_size=20",
			expect: func(t *testing.T, o *redis.UniversalOptions, topo redisurl.Topology) {
				assert.Equal(t, redisurl.Cluster, topo)
				assert.Equal(t, []string{"n1:7000", "n2:7001", "[::1]:7002"}, o.Addrs)
				assert.Equal(t, "gw", o.Username)
				assert.Equal(t, "hunter2", o.Password)
				assert.Equal(t, 20, o.PoolSize)
				require.NotNil(t, o.TLSConfig)
			}},
		{name: "ok, sentinel with master, db and data-node password", given: "redis-sentinel://:sentinelpw@s1:26379/3?addr=s2:26379&master_name=shopfront&password=hunter2",
			expect: func(t *testing.T, o *redis.UniversalOptions, topo redisurl.Topology) {
				assert.Equal(t, redisurl.Sentinel, topo)
				assert.Equal(t, []string{"s1:26379", "s2:26379"}, o.Addrs)
				assert.Equal(t, "shopfront", o.MasterName)
				assert.Equal(t, 3, o.DB)
				assert.Equal(t, "sentinelpw", o.SentinelPassword)
				assert.Equal(t, "hunter2", o.Password)
				_, isClient := redis.NewUniversalClient(o).(*redis.Client)
				assert.True(t, isClient, "Sentinel makes a failover client")
			}},
		{name: "nok, another scheme", given: "http://:hunter2@redis:6379", err: "is not a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL"},
		{name: "nok, unknown topology", given: "redis-ring://:hunter2@r1:6379", err: "is not a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL"},
		{name: "nok, not a URL", given: "redis://:hunter2@[::1", err: "is not a URL"},
		{name: "nok, no host", given: "redis://:hunter2@:6379/0", err: "names no host"},
		{name: "nok, port out of range", given: "redis://:hunter2@r1:70000", err: "has a port outside 1-65535"},
		{name: "nok, database not a number", given: "redis://:hunter2@r1:6379/zero", err: "has a database that is not a number"},
		{name: "nok, cluster with a database", given: "redis-cluster://:hunter2@n1:7000/1", err: "Redis Cluster has only database 0"},
		{name: "nok, sentinel without master", given: "redis-sentinel://:hunter2@s1:26379", err: "names no master"},
		{name: "nok, seed node without port", given: "redis-cluster://:hunter2@n1:7000?addr=n2", err: "unable to parse addr param: n2"},
		{name: "nok, seed node with bad port", given: "redis-cluster://:hunter2@n1:7000?addr=n2:0", err: "addr parameter: has a port outside 1-65535"},
		{name: "nok, timeout the gateway sets", given: "redis://:hunter2@r1:6379?read_timeout=30s", err: `has the parameter "read_timeout", which a redis URL does not take`},
		{name: "nok, seeds on a one-server URL", given: "redis://:hunter2@r1:6379?addr=r2:6379", err: `has the parameter "addr"`},
		{name: "nok, bad pool size", given: "redis-cluster://:hunter2@n1:7000?pool_size=many", err: "invalid pool_size number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, topo, err := redisurl.Parse(tt.given)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.NotContains(t, err.Error(), "hunter2", "the password must not reach the start-up error")
				return
			}
			require.NoError(t, err)
			tt.expect(t, o, topo)
		})
	}
}

// FuzzParse holds Parse to its promises on any input: no panic, and an
// error never quotes the password it was given.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"redis://r1:6379/0", "redis-cluster://n1:7000?addr=n2:7001",
		"redis-sentinel://s1:26379/0?master_name=m&addr=s2:26379", "rediss://[::1]:6380", "redis://%zz"} {
		f.Add(s, "hunter2")
	}
	f.Fuzz(func(t *testing.T, raw, password string) {
		if len(password) < 6 || strings.ContainsAny(password, "@:/?#[]%") {
			return
		}
		withPassword := strings.Replace(raw, "://", "://:"+password+"@", 1)
		o, _, err := redisurl.Parse(withPassword)
		if err != nil {
			if strings.Contains(err.Error(), password) && !strings.Contains(raw, password) {
				t.Fatalf("error %q quotes the password", err)
			}
			return
		}
		if len(o.Addrs) == 0 {
			t.Fatalf("%q parsed without an address", withPassword)
		}
	})
}

// A Redis Cluster with one shard down (its primary and every replica
// gone) is not ready, however often it is asked: any one node the client
// picked would answer a plain PING. With every node up it is.
func TestPingChecksEveryPrimaryOfACluster(t *testing.T) {
	t.Parallel()
	c := edgetest.StartRedisCluster(t)
	o, topo, err := redisurl.Parse(c.URL())
	require.NoError(t, err)
	require.Equal(t, redisurl.Cluster, topo)
	co := o.Cluster()
	co.MaxRetries, co.DialerRetries = -1, 1
	rdb := redis.NewClusterClient(co)
	t.Cleanup(func() { _ = rdb.Close() })
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return redisurl.Ping(ctx, rdb)
	}
	require.NoError(t, ping())

	for _, n := range c.Replicas() {
		n.Stop()
	}
	c.PrimaryOf(t, "shopfront").Stop()
	plain := 0
	for i := range 20 {
		assert.Error(t, ping(), "ping %d with a shard down", i)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if rdb.Ping(ctx).Err() == nil {
			plain++
		}
		cancel()
	}
	assert.Positive(t, plain, "a plain PING reaches a live node now and then")
}
