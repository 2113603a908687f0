package edgetest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Monitor records the commands Redis servers execute, as MONITOR streams
// them, so that a test can check what its code sent.
type Monitor struct {
	mu   sync.Mutex
	cmds [][]string
}

// Monitor records every command the cluster's current primaries execute
// from now until the test ends (or a primary stops).
func (c *RedisCluster) Monitor(t testing.TB) *Monitor {
	t.Helper()
	m := &Monitor{}
	for _, n := range c.Nodes {
		if n.cmd == nil || !n.isPrimary() {
			continue
		}
		conn, err := net.DialTimeout("tcp", n.Addr, time.Second)
		if err != nil {
			t.Fatalf("monitoring %s: %v", n.Addr, err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
			t.Fatalf("monitoring %s: %v", n.Addr, err)
		}
		br := bufio.NewReader(conn)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("monitoring %s: %q %v", n.Addr, line, err)
		}
		go m.read(br)
	}
	return m
}

// read takes MONITOR's lines, `+1700000000.123456 [0 127.0.0.1:5000]
// "SET" "k" "v"`, until the connection closes.
func (m *Monitor) read(br *bufio.Reader) {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		_, quoted, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "] ")
		if !ok {
			continue
		}
		if args := splitQuoted(quoted); len(args) > 0 {
			m.mu.Lock()
			m.cmds = append(m.cmds, args)
			m.mu.Unlock()
		}
	}
}

// splitQuoted splits MONITOR's space-separated, C-escaped strings; Go's
// unquoting reads Redis's escapes (\" \\ \n \r \t \a \b \xNN).
func splitQuoted(s string) []string {
	var args []string
	for s != "" {
		s = strings.TrimLeft(s, " ")
		if !strings.HasPrefix(s, `"`) {
			return args
		}
		end := 1
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(s) {
			return args
		}
		arg, err := strconv.Unquote(s[:end+1])
		if err != nil {
			return args
		}
		args = append(args, arg)
		s = s[end+1:]
	}
	return args
}

// Commands returns the commands recorded so far.
func (m *Monitor) Commands() [][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.cmds)
}

var (
	hexRun   = regexp.MustCompile(`[0-9a-f]{16,}`)
	digitRun = regexp.MustCompile(`[0-9]+`)
)

// KeyShapes reads the keys of every command in cmds as the servers name
// them (COMMAND GETKEYS) and returns their distinct shapes, hex digests as
// <hex> and numbers as <n> (e.g. "EVALSHA bff-partner:idem:buyer:<hex>"),
// and the commands whose keys hash to more than one slot (CLUSTER
// KEYSLOT), which Redis Cluster refuses (CROSSSLOT) unless hash tags
// ({...}) put their keys in one slot.
func (c *RedisCluster) KeyShapes(t testing.TB, cmds [][]string) (shapes, crossSlot []string) {
	t.Helper()
	var node *Redis
	for _, n := range c.Nodes {
		if n.cmd != nil {
			node = n
			break
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: node.Addr, DialTimeout: time.Second, ReadTimeout: 5 * time.Second, MaxRetries: -1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for _, cmd := range cmds {
		name := strings.ToUpper(cmd[0])
		if slices.Contains([]string{"MONITOR", "CLUSTER", "COMMAND", "INFO", "PING", "HELLO", "CLIENT", "WAIT", "KEYS", "SELECT", "READONLY"}, name) {
			continue
		}
		args := make([]any, 0, len(cmd)+2)
		args = append(args, "COMMAND", "GETKEYS")
		for _, a := range cmd {
			args = append(args, a)
		}
		keys, err := rdb.Do(ctx, args...).StringSlice()
		if err != nil || len(keys) == 0 {
			continue // a command without keys
		}
		slots := map[int64]bool{}
		for _, k := range keys {
			slot, err := rdb.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatalf("CLUSTER KEYSLOT %q: %v", k, err)
			}
			slots[slot] = true
		}
		if len(slots) > 1 {
			crossSlot = append(crossSlot, fmt.Sprintf("%s %q", name, keys))
		}
		shape := name
		for _, k := range keys {
			shape += " " + digitRun.ReplaceAllString(hexRun.ReplaceAllString(k, "<hex>"), "<n>")
		}
		seen[shape] = true
	}
	for s := range seen {
		shapes = append(shapes, s)
	}
	slices.Sort(shapes)
	return shapes, crossSlot
}
