package edgetest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterNodeTimeout is the cluster-node-timeout of StartRedisCluster's
// nodes: how long a silent primary goes unanswered before the others mark it
// failed and its replica takes over. Short, so a failover test takes
// seconds, yet long enough that a loaded machine's pauses do not fail
// healthy nodes over.
const ClusterNodeTimeout = time.Second

// RedisCluster is a Redis Cluster of three primaries with one replica each,
// every node a redis-server process on a free loopback port.
type RedisCluster struct {
	// Nodes are the six servers, in the order the cluster was created
	// from; which are primaries changes with failovers (see PrimaryOf).
	Nodes []*Redis
	admin *redis.ClusterClient
}

// URL returns the BFF_REDIS_URL of the cluster, every node a seed.
func (c *RedisCluster) URL() string {
	addrs := make([]string, 0, len(c.Nodes)-1)
	for _, n := range c.Nodes[1:] {
		addrs = append(addrs, "addr="+n.Addr)
	}
	return "redis-cluster://" + c.Nodes[0].Addr + "?" + strings.Join(addrs, "&")
}

// StartRedisCluster starts six redis-server processes in cluster mode,
// joins them with redis-cli --cluster create (three primaries, one replica
// each) and waits until every node reports cluster_state:ok. The nodes stop
// when the test ends. Without redis-server or redis-cli the test is
// skipped locally and fails under CI, where .ci/run installs both.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server not on PATH (apt-get install -y redis-server)")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		missing(t, "redis-cli not on PATH (apt-get install -y redis-tools)")
	}
	c := &RedisCluster{}
	addrs := make([]string, 0, 6)
	for range 6 {
		n := &Redis{dir: t.TempDir(), port: FreePort(t)}
		n.Addr = fmt.Sprintf("127.0.0.1:%d", n.port)
		// The bus port is picked too: the default (port+10000) may be
		// taken by anything.
		n.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", fmt.Sprint(ClusterNodeTimeout.Milliseconds()),
			"--cluster-port", fmt.Sprint(FreePort(t)),
			// A replica may take over however long it was cut off: the
			// test kills primaries, it does not partition them.
			"--cluster-replica-validity-factor", "0",
			// Six nodes narrate every state change: into a file, kept
			// with the test's temporary directory.
			"--logfile", filepath.Join(n.dir, "redis.log")}
		n.start(t, bin)
		t.Cleanup(n.Stop)
		c.Nodes = append(c.Nodes, n)
		addrs = append(addrs, n.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	create := exec.CommandContext(ctx, cli, append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "1", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.admin = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: time.Second, DialerRetries: 1,
		ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = c.admin.Close() })
	c.WaitHealthy(t, 60*time.Second)
	// Until a replica has synchronised, killing its primary loses the
	// slots' data and a test's premise with it.
	c.WaitReplicated(t)
	return c
}

// WaitHealthy waits until every running node reports cluster_state:ok and
// all 16384 slots served, polling; it fails the test after within.
func (c *RedisCluster) WaitHealthy(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		if last = c.unhealthy(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis cluster not healthy within %s: %s", within, last)
}

// unhealthy says why the cluster is not serving every slot yet, "" when it
// is.
func (c *RedisCluster) unhealthy() string {
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue
		}
		info, err := n.command("CLUSTER", "INFO")
		if err != nil {
			return fmt.Sprintf("%s: %v", n.Addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return fmt.Sprintf("%s: %s", n.Addr, strings.Join(strings.Fields(info)[:4], " "))
		}
	}
	return ""
}

// command sends one command to the node on a fresh connection and returns
// the reply as text.
func (r *Redis) command(args ...any) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, DialTimeout: time.Second, ReadTimeout: time.Second,
		MaxRetries: -1, Protocol: 2})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return rdb.Do(ctx, args...).Text()
}

// WaitPrimaryOf waits until a running node serves key's slot as a primary
// (after a kill: until its replica was promoted) and returns it, polling;
// it fails the test after within.
func (c *RedisCluster) WaitPrimaryOf(t testing.TB, key string, within time.Duration) *Redis {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if p := c.PrimaryOf(t, key); p != nil {
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no running primary for %q within %s", key, within)
	return nil
}

// WaitReplicated waits until every running primary's replica has
// acknowledged its writes so far (WAIT on each primary): replication is
// asynchronous, so a primary killed before that takes its last writes
// with it.
func (c *RedisCluster) WaitReplicated(t testing.TB) {
	t.Helper()
	for _, n := range c.Nodes {
		if n.cmd == nil || !n.isPrimary() {
			continue
		}
		var (
			acked int64
			err   error
		)
		for deadline := time.Now().Add(10 * time.Second); acked < 1 && time.Now().Before(deadline); {
			acked, err = n.wait(500 * time.Millisecond)
		}
		if acked < 1 {
			t.Fatalf("%s: the replica did not acknowledge within 10 s (%v)", n.Addr, err)
		}
	}
}

// wait runs WAIT 1 on the node and returns how many replicas acknowledged
// within timeout.
func (r *Redis) wait(timeout time.Duration) (int64, error) {
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, DialTimeout: time.Second, ReadTimeout: timeout + time.Second,
		MaxRetries: -1, Protocol: 2})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+2*time.Second)
	defer cancel()
	return rdb.Wait(ctx, 1, timeout).Result()
}

// Replicas returns the running nodes that are replicas in their own view.
func (c *RedisCluster) Replicas() []*Redis {
	var out []*Redis
	for _, n := range c.Nodes {
		if n.cmd != nil && !n.isPrimary() {
			out = append(out, n)
		}
	}
	return out
}

// isPrimary reports whether the node is a primary in its own view.
func (r *Redis) isPrimary() bool {
	role, err := r.command("INFO", "replication")
	return err == nil && strings.Contains(role, "role:master")
}

// Slot returns the cluster hash slot of key, as the servers compute it.
func (c *RedisCluster) Slot(t testing.TB, key string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	slot, err := c.admin.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
	}
	return int(slot)
}

// PrimaryOf returns the running node that serves key's slot as a primary
// in its own view, nil when none does (during a failover).
func (c *RedisCluster) PrimaryOf(t testing.TB, key string) *Redis {
	t.Helper()
	slot := c.Slot(t, key)
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue
		}
		if n.ownsSlot(slot) {
			return n
		}
	}
	return nil
}

// ownsSlot reports whether the node's own CLUSTER NODES line ("myself")
// is a primary's listing slot among its ranges.
func (r *Redis) ownsSlot(slot int) bool {
	nodes, err := r.command("CLUSTER", "NODES")
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 {
			continue // a replica's line lists no slots
		}
		if flags := strings.Split(f[2], ","); !slices.Contains(flags, "myself") || !slices.Contains(flags, "master") {
			continue
		}
		for _, rng := range f[8:] {
			var lo, hi int
			if n, _ := fmt.Sscanf(rng, "%d-%d", &lo, &hi); n == 2 && lo <= slot && slot <= hi {
				return true
			}
			if n, _ := fmt.Sscanf(rng, "%d", &lo); n == 1 && !strings.Contains(rng, "-") && lo == slot {
				return true
			}
		}
	}
	return false
}

// Keys returns the keys matching pattern on every running primary.
func (c *RedisCluster) Keys(t testing.TB, pattern string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var (
		mu   sync.Mutex
		keys []string
	)
	err := c.admin.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		ks, err := m.Keys(ctx, pattern).Result()
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, ks...)
		return err
	})
	if err != nil {
		t.Fatalf("listing keys %q: %v", pattern, err)
	}
	slices.Sort(keys)
	return keys
}
