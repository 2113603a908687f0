// Package edgetest holds the fakes and fixtures the tests of every module
// share: a real redis-server on a free port, a Chromium for browser tests,
// free and dead addresses.
package edgetest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Redis is a redis-server process started for one test.
type Redis struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string
	cmd  *exec.Cmd
	dir  string
	port int
}

// URL returns the BFF_REDIS_URL of the server.
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// StartRedis starts redis-server from PATH on a free loopback port and stops
// it when the test ends. Without redis-server the test is skipped locally and
// fails under CI (CI=true), where .ci/run installs it.
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
	r.cmd = exec.Command(bin, "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--loglevel", "warning")
	r.cmd.Stdout, r.cmd.Stderr = os.Stderr, os.Stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	if err := waitPing(r.Addr, 10*time.Second); err != nil {
		_ = r.cmd.Process.Kill()
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
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Restart starts the server again on the same port after Stop.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	r.start(t, bin)
}

func waitPing(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var err error
	for time.Now().Before(deadline) {
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

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
