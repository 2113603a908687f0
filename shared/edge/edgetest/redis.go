// Package edgetest holds the fakes and fixtures the tests of every module
// share: a real redis-server on a free port, a real Redis Cluster
// (StartRedisCluster) and Sentinel deployment (StartRedisSentinel) with
// their failovers and a MONITOR of what the code sent, a Chromium for browser tests,
// a Redis that accepts connections and never answers (StartSilentRedis),
// free and dead addresses, JWT signing keys, a throwaway PKI for TLS, an in-memory HTTP
// transport for clients on a testing/synctest fake clock, and readers of the repository's docs/ (Doc, Anchors, DocConfigReference,
// DocMetrics) with which each module's tests hold the documents to the code.
package edgetest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a redis-server process started for one test.
type Redis struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr   string
	cmd    *exec.Cmd
	exited chan struct{} // Closed once cmd has been waited for.
	dir    string
	port   int
	args   []string // Extra redis-server arguments, kept for Restart.
	conf   string   // A sentinel's configuration file, "" for a server.
}

// URL returns the BFF_REDIS_URL of the server.
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// StartRedis starts redis-server from PATH on a free loopback port and stops
// it when the test ends. Without redis-server the test is skipped locally and
// fails under CI (CI=true), where .ci/run installs it. On Linux the server
// is killed with the test binary too (see setDeathSignal), so a test binary
// killed by a timeout leaves no redis-server behind.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server not on PATH (apt-get install -y redis-server)")
	}
	r := &Redis{dir: t.TempDir(), port: FreePort(t)}
	r.Addr = fmt.Sprintf("127.0.0.1:%d", r.port)
	r.start(t, bin)
	t.Cleanup(r.Stop)
	return r
}

func (r *Redis) start(t testing.TB, bin string) {
	t.Helper()
	args := append([]string{"--port", fmt.Sprint(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--loglevel", "warning"}, r.args...)
	if r.conf != "" {
		// A sentinel rewrites its file with what it learns; it takes no
		// persistence options.
		args = append([]string{r.conf, "--sentinel", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1",
			"--dir", r.dir, "--loglevel", "warning"}, r.args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.cmd, r.exited = cmd, exited
	err := waitPing(r.Addr, 10*time.Second, exited)
	if err == nil {
		// A PONG may come from another process that took the port
		// meanwhile (another test's redis-server): only ours will do.
		err = ownsPort(r.Addr, cmd.Process.Pid)
	}
	if err != nil {
		r.Stop()
		t.Fatalf("redis-server did not come up on %s: %v", r.Addr, err)
	}
}

// Stop kills the server (SIGKILL, as a crash would) and waits for it to exit.
// It is safe to call twice.
func (r *Redis) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// Restart starts the server again on the same port after Stop. It fails the
// test, saying so, when another process took the port in between (ports are
// only free "a moment ago", and parallel tests start servers of their own).
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", r.Addr)
	if err != nil {
		t.Fatalf("restarting redis-server: port %d was taken by another process meanwhile: %v", r.port, err)
	}
	_ = l.Close()
	r.start(t, bin)
}

// ownsPort checks, with INFO server, that the redis-server answering on addr
// is the process pid.
func ownsPort(addr string, pid int) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("INFO server\r\n")); err != nil {
		return err
	}
	br := bufio.NewReader(conn)
	head, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if err != nil {
		return fmt.Errorf("reading INFO reply %q: %w", head, err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return err
	}
	want := fmt.Sprintf("process_id:%d", pid)
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.TrimSpace(line) == want {
			return nil
		}
	}
	return fmt.Errorf("port taken by another process, not the redis-server started (pid %d)", pid)
}

func waitPing(addr string, within time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(within)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("redis-server exited (is the port taken?)")
		default:
		}
		var conn net.Conn
		conn, err = net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			_, err = conn.Write([]byte("PING\r\n"))
			if err == nil {
				var line string
				line, err = bufio.NewReader(conn).ReadString('\n')
				if err == nil && strings.HasPrefix(line, "+PONG") {
					_ = conn.Close()
					return nil
				}
			}
			_ = conn.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// DeadAddr returns a loopback address nothing listens on, for connection
// refused cases.
func DeadAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// TempFile writes content to a file in a test's temp dir and returns its path.
func TempFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
