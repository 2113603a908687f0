package main_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
)

const name = "bff-mobile"

// build compiles this command into a temp dir, as `make build` does.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func TestBadConfigStopsStartup(t *testing.T) {
	t.Parallel()
	bin := build(t)
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{name: "nok, BFF_ADDR nonsense", env: []string{"BFF_ADDR=nonsense"},
			want: []string{name + `: BFF_ADDR: "nonsense" is not a host:port address`}},
		{name: "nok, malformed upstream URL", env: []string{"BFF_UPSTREAM_CATALOG_URL=::bad"},
			want: []string{name + `: BFF_UPSTREAM_CATALOG_URL: "::bad" is not an absolute http(s) URL`}},
		{name: "nok, two problems, two lines", env: []string{"BFF_ADMIN_ADDR=:99999", "BFF_LOG_LEVEL=chatty"},
			want: []string{
				name + `: BFF_ADMIN_ADDR: ":99999" has a port outside 0-65535`,
				name + `: BFF_LOG_LEVEL: "chatty" is not one of debug, info, warn, error`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			assert.Equal(t, 2, exit.ExitCode())
			assert.Equal(t, tt.want, strings.Split(strings.TrimSpace(stderr.String()), "\n"))
			assert.Empty(t, stdout.String(), "nothing starts")
		})
	}
}

// gateway is a running binary against fakes.
type gateway struct {
	cmd    *exec.Cmd
	addr   string
	admin  string
	stdout *bytes.Buffer
	done   chan error
}

func startGateway(t *testing.T, bin, upstreamBase string, env ...string) *gateway {
	t.Helper()
	g := &gateway{
		addr:   "127.0.0.1:" + strconv.Itoa(edgetest.FreePort(t)),
		admin:  "127.0.0.1:" + strconv.Itoa(edgetest.FreePort(t)),
		stdout: &bytes.Buffer{},
		done:   make(chan error, 1),
	}
	g.cmd = exec.Command(bin)
	g.cmd.Env = append(os.Environ(), "BFF_ADDR="+g.addr, "BFF_ADMIN_ADDR="+g.admin, "BFF_AUDIT_DIR="+t.TempDir())
	for _, s := range domain.ServiceNames() {
		g.cmd.Env = append(g.cmd.Env, edgeconfig.UpstreamVar(s)+"="+upstreamBase+"/"+s)
	}
	g.cmd.Env = append(g.cmd.Env, env...)
	g.cmd.Stdout, g.cmd.Stderr = g.stdout, g.stdout
	require.NoError(t, g.cmd.Start())
	go func() { g.done <- g.cmd.Wait() }()
	t.Cleanup(func() {
		_ = g.cmd.Process.Kill()
		<-g.done
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "gateway never got ready")
	return g
}

// wait returns the exit code after a signal.
func (g *gateway) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-g.done:
		g.done <- err
		var exit *exec.ExitError
		if err != nil {
			require.ErrorAs(t, err, &exit)
			return exit.ExitCode()
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("gateway did not exit; output:\n%s", g.stdout)
		return -1
	}
}

func TestSIGTERMExitsZero(t *testing.T) {
	t.Parallel()
	bin := build(t)
	_, base := fakestest.Start(t)
	g := startGateway(t, bin, base)

	require.NoError(t, g.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, g.wait(t))
	_, err := http.Get("http://" + g.addr + "/")
	assert.Error(t, err, "nothing listens after exit")
}

// TestSIGTERMDrainsInFlight sends a real SIGTERM to the built binary while a
// request waits on a slow upstream: /readyz turns 503, the request still
// gets its full answer, and the process exits 0. The request also forges
// identity headers, which must not reach the upstream.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	t.Parallel()
	bin := build(t)
	f, base := fakestest.Start(t)
	// The upstream is slow but within budget, so the answer is a full 200;
	// 2.5 s leaves a loaded machine ample time to act on SIGTERM meanwhile.
	g := startGateway(t, bin, base, "BFF_UPSTREAM_TIMEOUT=5s", "BFF_ROUTE_BUDGET=6s")
	require.NoError(t, f.SetFault(domain.ServiceCatalog, domain.Fault{LatencyMs: 2500}))
	token := fakestest.UserToken(t, f, "u-001", "mobile")

	before := f.Requests(domain.ServiceCatalog)
	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		req, err := http.NewRequest(http.MethodGet, "http://"+g.addr+"/v1/search?q=a", nil)
		if err != nil {
			got <- result{err: err}
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header["x-user-id"] = []string{"admin"}
		req.Header.Add("X-User-Id", "root")
		req.Header.Set("X-Partner-Id", "acme")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()
	require.Eventually(t, func() bool { return f.Requests(domain.ServiceCatalog) > before },
		5*time.Second, 5*time.Millisecond, "the request reached the slow upstream")

	require.NoError(t, g.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 2*time.Second, 5*time.Millisecond, "readyz turns 503 while draining")
	select {
	case <-got:
		t.Fatal("the request finished before the drain was observed; the test proves nothing")
	default:
	}

	r := <-got
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	assert.Contains(t, r.body, `"items"`)
	// The forged identity never reached the upstream; the verified one did.
	h := f.LastHeaders(domain.ServiceCatalog)
	assert.Equal(t, []string{"u-001"}, h.Values("X-User-Id"))
	assert.Empty(t, h.Values("X-Partner-Id"))
	assert.Empty(t, h.Get("Authorization"), "credentials are not forwarded")
	assert.Equal(t, 0, g.wait(t), "output:\n%s", g.stdout)
}
