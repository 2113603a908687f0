package edgetest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// only the goroutine it runs on, as the real one would end the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestRedisRestartFailsClearlyWhenThePortWasTaken(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	r.Stop()
	squatter, err := net.Listen("tcp", r.Addr)
	require.NoError(t, err, "the stopped server's port is free")
	t.Cleanup(func() { _ = squatter.Close() })

	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); r.Restart(rec) }()
	<-done

	assert.Contains(t, rec.msg, "was taken by another process meanwhile")
}

func TestRedisStartRefusesAnotherServersPort(t *testing.T) {
	t.Parallel()
	other := StartRedis(t)
	bin, err := exec.LookPath("redis-server")
	require.NoError(t, err)
	r := &Redis{Addr: other.Addr, port: other.port, dir: t.TempDir()}

	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); r.start(rec, bin) }()
	<-done

	assert.Contains(t, rec.msg, "did not come up", "a PONG from another test's server is not ours")
	assert.NoError(t, waitPing(other.Addr, time.Second, nil), "the other server is untouched")
}

// TestRedisDiesWithTheTestBinary runs a child test binary that starts a
// redis-server, kills the child with SIGKILL (no Cleanup runs), and expects
// the server to go with it.
func TestRedisDiesWithTheTestBinary(t *testing.T) {
	if os.Getenv("EDGETEST_REDIS_CHILD") == "1" {
		r := StartRedis(t)
		fmt.Println("redis-addr", r.Addr)
		time.Sleep(30 * time.Second) // Killed long before.
		return
	}
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux only")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server not on PATH (apt-get install -y redis-server)")
	}
	child := exec.Command(os.Args[0], "-test.run=^TestRedisDiesWithTheTestBinary$", "-test.v")
	child.Env = append(os.Environ(), "EDGETEST_REDIS_CHILD=1")
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })

	addr := ""
	sc := bufio.NewScanner(out)
	for addr == "" && sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "redis-addr "); ok {
			addr = a
		}
	}
	require.NotEmpty(t, addr, "the child started a redis-server")
	require.NoError(t, waitPing(addr, 5*time.Second, nil))

	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	assert.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	}, 5*time.Second, 50*time.Millisecond, "redis-server outlived the killed test binary")
}
