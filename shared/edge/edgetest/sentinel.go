package edgetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name StartRedisSentinel's sentinels monitor.
const SentinelMaster = "shopfront"

// RedisSentinel is a primary, its replica and three sentinels watching
// them, every one a redis-server process on a free loopback port.
type RedisSentinel struct {
	// Servers are the primary and the replica, in the order they started;
	// which is primary changes with failovers (see Primary).
	Servers []*Redis
	// Sentinels are the three sentinels (quorum 2).
	Sentinels []*Redis
}

// URL returns the BFF_REDIS_URL of the deployment: the sentinels and the
// master's name.
func (s *RedisSentinel) URL() string {
	addrs := make([]string, 0, len(s.Sentinels)-1)
	for _, n := range s.Sentinels[1:] {
		addrs = append(addrs, "&addr="+n.Addr)
	}
	return "redis-sentinel://" + s.Sentinels[0].Addr + "/0?master_name=" + SentinelMaster + strings.Join(addrs, "")
}

// StartRedisSentinel starts a primary, a replica of it and three sentinels
// (down-after-milliseconds 1000), and waits until the replica is in sync
// and every sentinel knows both servers and the other sentinels. All stop
// when the test ends.
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server not on PATH (apt-get install -y redis-server)")
	}
	s := &RedisSentinel{}
	for i := range 2 {
		n := &Redis{dir: t.TempDir(), port: FreePort(t)}
		n.Addr = fmt.Sprintf("127.0.0.1:%d", n.port)
		n.args = []string{"--logfile", filepath.Join(n.dir, "redis.log")}
		if i == 1 {
			n.args = append(n.args, "--replicaof", "127.0.0.1", fmt.Sprint(s.Servers[0].port))
		}
		n.start(t, bin)
		t.Cleanup(n.Stop)
		s.Servers = append(s.Servers, n)
	}
	for range 3 {
		n := &Redis{dir: t.TempDir(), port: FreePort(t)}
		n.Addr = fmt.Sprintf("127.0.0.1:%d", n.port)
		n.conf = filepath.Join(n.dir, "sentinel.conf")
		conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 2\n"+
			"sentinel down-after-milliseconds %[1]s 1000\nsentinel failover-timeout %[1]s 5000\n", SentinelMaster, s.Servers[0].port)
		if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		n.args = []string{"--logfile", filepath.Join(n.dir, "sentinel.log")}
		n.start(t, bin)
		t.Cleanup(n.Stop)
		s.Sentinels = append(s.Sentinels, n)
	}
	s.poll(t, 30*time.Second, "the replica in sync and every sentinel aware of the others", func() bool {
		if acked, _ := s.Servers[0].wait(200 * time.Millisecond); acked < 1 {
			return false
		}
		for _, n := range s.Sentinels {
			info, err := n.sentinelMaster()
			if err != nil || info["num-other-sentinels"] != "2" || info["num-slaves"] != "1" {
				return false
			}
		}
		return true
	})
	return s
}

// Primary returns the server every sentinel names as the primary, nil
// while they disagree.
func (s *RedisSentinel) Primary(t testing.TB) *Redis {
	t.Helper()
	var addr string
	for _, n := range s.Sentinels {
		if n.cmd == nil {
			continue
		}
		info, err := n.sentinelMaster()
		if err != nil {
			return nil
		}
		a := info["ip"] + ":" + info["port"]
		if addr != "" && a != addr {
			return nil
		}
		addr = a
	}
	for _, srv := range s.Servers {
		if srv.Addr == addr && srv.cmd != nil && srv.isPrimary() {
			return srv
		}
	}
	return nil
}

// Failover asks a sentinel to promote the replica (SENTINEL FAILOVER), as
// an operator would before maintenance, and returns the server that was
// primary.
func (s *RedisSentinel) Failover(t testing.TB) *Redis {
	t.Helper()
	old := s.Primary(t)
	if old == nil {
		t.Fatal("no primary to fail over from")
	}
	if _, err := s.Sentinels[0].command("SENTINEL", "FAILOVER", SentinelMaster); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	return old
}

// WaitReplicated waits until the replica has acknowledged the primary's
// writes so far (WAIT): replication is asynchronous, so a primary killed
// before that takes its last writes with it.
func (s *RedisSentinel) WaitReplicated(t testing.TB) {
	t.Helper()
	p := s.Primary(t)
	if p == nil {
		t.Fatal("redis sentinel: no agreed primary")
	}
	s.poll(t, 10*time.Second, "replica acknowledgement", func() bool {
		acked, _ := p.wait(500 * time.Millisecond)
		return acked >= 1
	})
}

// WaitPrimaryOtherThan waits until the sentinels agree on a primary other
// than old and it answers as one, polling; it fails the test after within.
func (s *RedisSentinel) WaitPrimaryOtherThan(t testing.TB, old *Redis, within time.Duration) *Redis {
	t.Helper()
	var p *Redis
	s.poll(t, within, "a new primary", func() bool {
		p = s.Primary(t)
		return p != nil && p != old
	})
	return p
}

func (s *RedisSentinel) poll(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("redis sentinel: no %s within %s", what, within)
}

// sentinelMaster returns SENTINEL MASTER's fields as the sentinel n sees
// the monitored primary.
func (r *Redis) sentinelMaster() (map[string]string, error) {
	rdb := redis.NewSentinelClient(&redis.Options{Addr: r.Addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return rdb.Master(ctx, SentinelMaster).Result()
}

// Keys returns the keys matching pattern on the current primary.
func (s *RedisSentinel) Keys(t testing.TB, pattern string) []string {
	t.Helper()
	p := s.Primary(t)
	if p == nil {
		t.Fatal("redis sentinel: no agreed primary")
	}
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	keys, err := rdb.Keys(ctx, pattern).Result()
	if err != nil {
		t.Fatalf("listing keys %q: %v", pattern, err)
	}
	slices.Sort(keys)
	return keys
}
