// Package gatewaytest holds the test helpers every gateway shares: booting
// its app in-process against the domain-service fakes (Env, Serve,
// WaitReady), and building its real binary and driving it with signals
// (Build, Start, Command) to check what its main must do.
package gatewaytest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway"
)

// ReadyTimeout bounds the wait for /readyz to answer 200: a cold binary on
// a loaded machine fetches its JWKS within it.
const ReadyTimeout = 20 * time.Second

// Env returns the configuration of a gateway under test: both listeners on
// free loopback ports (port 0), every domain service at base/<service> (the
// layout of fakestest.Start), then extra, which wins.
func Env(base string, extra map[string]string) map[string]string {
	vars := map[string]string{config.VarAddr: "127.0.0.1:0", config.VarAdminAddr: "127.0.0.1:0"}
	for _, s := range domain.ServiceNames() {
		vars[config.UpstreamVar(s)] = base + "/" + s
	}
	for k, v := range extra {
		vars[k] = v
	}
	return vars
}

// Serve builds an app with build and runs it until the test ends, then
// cancels its context and asserts that Run returned nil (a clean drain).
// stop does the same earlier; calling it twice is harmless.
func Serve[A gateway.Runner](t testing.TB, build func(ctx context.Context) (A, error)) (a A, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := build(ctx)
	if err != nil {
		cancel()
		require.NoError(t, err, "building the gateway")
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			assert.NoError(t, <-done, "Run after a cancelled context")
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// Ready reports whether admin (host:port) answers /readyz with 200.
func Ready(admin string) bool {
	res, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// WaitReady waits until admin (host:port) answers /readyz with 200, i.e.
// the JWKS was fetched, and fails the test after ReadyTimeout.
func WaitReady(t testing.TB, admin string) {
	t.Helper()
	require.Eventually(t, func() bool { return Ready(admin) }, ReadyTimeout, 20*time.Millisecond,
		"the gateway at %s never got ready", admin)
}

// Build compiles the command in dir (a package directory relative to the
// test's, "." for the command's own tests) into a temporary directory, as
// make build does, and returns the binary's path.
func Build(t testing.TB, name, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, dir).CombinedOutput()
	require.NoError(t, err, "go build %s: %s", dir, out)
	return bin
}

// Process is a gateway binary running for one test.
type Process struct {
	// Addr and AdminAddr are the public and admin listeners (host:port).
	Addr, AdminAddr string

	cmd  *exec.Cmd
	out  string // file of stdout and stderr
	done chan struct{}
	err  error
}

// Start runs bin in a temporary working directory (so relative defaults
// such as bff-partner's audit directory stay there) with both listeners on
// free loopback ports, every domain service at base/<service> and env
// (NAME=value, which wins), waits until it is ready and kills it when the
// test ends.
func Start(t testing.TB, bin, base string, env ...string) *Process {
	t.Helper()
	p := &Process{
		Addr:      "127.0.0.1:" + strconv.Itoa(edgetest.FreePort(t)),
		AdminAddr: "127.0.0.1:" + strconv.Itoa(edgetest.FreePort(t)),
		out:       filepath.Join(t.TempDir(), "output"),
		done:      make(chan struct{}),
	}
	vars := Env(base, map[string]string{config.VarAddr: p.Addr, config.VarAdminAddr: p.AdminAddr})
	p.cmd = exec.Command(bin)
	p.cmd.Dir = t.TempDir()
	p.cmd.Env = os.Environ()
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	// A file, not a buffer: the process writes it directly, and the test
	// may read it at any time without racing a copying goroutine.
	out, err := os.Create(p.out)
	require.NoError(t, err)
	defer out.Close()
	p.cmd.Stdout, p.cmd.Stderr = out, out
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	if !assert.Eventually(t, func() bool { return Ready(p.AdminAddr) }, ReadyTimeout, 20*time.Millisecond) {
		t.Fatalf("%s never got ready; output:\n%s", bin, p.Output())
	}
	return p
}

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
}

// Wait returns the process's exit code, failing the test when it has not
// exited within 30 s (the drain takes at most 25 s).
func (p *Process) Wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the gateway did not exit; output:\n%s", p.Output())
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

// Output is what the process wrote to stdout and stderr so far.
func (p *Process) Output() string {
	b, err := os.ReadFile(p.out)
	if err != nil {
		return "reading the output: " + err.Error()
	}
	return string(b)
}
