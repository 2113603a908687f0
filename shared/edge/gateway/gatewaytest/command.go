package gatewaytest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/identity"
)

// Command checks, on the real binary, what a gateway's main must do:
// bad configuration stops start-up with one line per
// problem and exit code 2; --version and --check-config answer without
// serving; the OpenTelemetry variables shape the exported spans; SIGTERM
// turns /readyz 503, lets an in-flight request finish with its full
// answer, and exits 0; and, with Attacks set, the attack corpus is
// withstood by the process itself.
type Command struct {
	// Name is the binary's name and the prefix of its problem lines, e.g.
	// "bff-mobile". Required.
	Name string
	// Dir is the command's package directory relative to the test's.
	// Optional. Default "." (the test sits beside main.go).
	Dir string
	// Env holds extra NAME=value variables of every run that starts.
	// Optional. Default none.
	Env []string
	// InFlight is the request that is in flight when SIGTERM arrives.
	// Required.
	InFlight InFlight
	// Attacks describes the running binary for the attack corpus, given
	// its public address and the fakes behind it: the corpus then runs
	// against the real process too, as built and configured by main, over
	// real sockets. Optional. Default nil: the corpus runs in-process only.
	Attacks func(t testing.TB, addr string, f *fakes.Fakes) Target
}

// InFlight is a request a gateway answers 200 after calling the catalog
// service, which the test slows down so that the request is still in
// flight when SIGTERM arrives.
type InFlight struct {
	// Path is the route with its query, e.g. "/v1/search?q=a". Required.
	Path string
	// Credentials returns the headers that authenticate the request, given
	// the fakes to mint tokens with. Optional. Default none.
	Credentials func(t testing.TB, f *fakes.Fakes) http.Header
	// Identity holds the identity headers the catalog service must see for
	// these credentials; those not in it must be absent. Forged identity
	// headers sent by the caller never arrive. Optional. Default none.
	Identity http.Header
}

// checkedIdentity are the identity headers the drain test forges and
// checks upstream.
var checkedIdentity = []string{identity.HeaderUserID, identity.HeaderPartnerID, identity.HeaderClient}

// UserBearer returns Credentials of a user's JWT as issued to client
// ("mobile" or "web") by the fake identity service.
func UserBearer(id, client string) func(testing.TB, *fakes.Fakes) http.Header {
	return func(t testing.TB, f *fakes.Fakes) http.Header {
		return http.Header{"Authorization": {"Bearer " + fakestest.UserToken(t, f, id, client)}}
	}
}

// PartnerBearer returns Credentials of a partner's client-credentials JWT.
func PartnerBearer(partner string, scopes ...string) func(testing.TB, *fakes.Fakes) http.Header {
	return func(t testing.TB, f *fakes.Fakes) http.Header {
		return http.Header{"Authorization": {"Bearer " + fakestest.PartnerToken(t, f, partner, scopes...)}}
	}
}

// Test builds the binary once and runs every check as a parallel subtest.
func (c Command) Test(t *testing.T) {
	t.Helper()
	require.NotEmpty(t, c.Name, "Command.Name")
	require.NotEmpty(t, c.InFlight.Path, "Command.InFlight.Path")
	dir := c.Dir
	if dir == "" {
		dir = "."
	}
	bin := Build(t, c.Name, dir)
	t.Run("bad config", func(t *testing.T) {
		t.Parallel()
		c.testBadConfig(t, bin)
	})
	t.Run("flags", func(t *testing.T) {
		t.Parallel()
		c.testFlags(t, bin)
	})
	t.Run("tracing", func(t *testing.T) {
		t.Parallel()
		c.testTracing(t, bin)
	})
	t.Run("ok, SIGTERM exits 0", func(t *testing.T) {
		t.Parallel()
		_, base := fakestest.Start(t)
		p := Start(t, bin, base, c.Env...)
		p.Signal(t, syscall.SIGTERM)
		assert.Equal(t, gateway.ExitOK, p.Wait(t), "output:\n%s", p.Output())
		// The port is free again: binding it proves the gateway's listener
		// is gone. A GET would fail this test whenever a parallel test
		// reused the port (and leaked the answer's body). When the bind
		// fails the port was reused; the gateway itself has exited (Wait
		// above), so none of its sockets can be what holds it.
		if l, err := net.Listen("tcp", p.Addr); err == nil {
			assert.NoError(t, l.Close())
		} else {
			t.Logf("port of %s reused after exit (%v); the exit status is the proof", p.Addr, err)
		}
	})
	t.Run("ok, SIGTERM drains in-flight requests", func(t *testing.T) {
		t.Parallel()
		c.testDrain(t, bin)
	})
	t.Run("ok, access lines are all written by exit", func(t *testing.T) {
		t.Parallel()
		c.testAccessLinesAtExit(t, bin)
	})
	if c.Attacks != nil {
		t.Run("attack corpus", func(t *testing.T) {
			t.Parallel()
			f, base := fakestest.Start(t)
			p := Start(t, bin, base, c.Env...)
			Attacks(t, c.Attacks(t, p.Addr, f))
		})
	}
}

func (c Command) testBadConfig(t *testing.T, bin string) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{name: "nok, BFF_ADDR nonsense", env: []string{"BFF_ADDR=nonsense"},
			want: []string{`BFF_ADDR: "nonsense" is not a host:port address`}},
		{name: "nok, malformed upstream URL", env: []string{"BFF_UPSTREAM_CATALOG_URL=::bad"},
			want: []string{`BFF_UPSTREAM_CATALOG_URL: "::bad" is not an absolute http(s) URL`}},
		{name: "nok, two problems, two lines", env: []string{"BFF_ADMIN_ADDR=:99999", "BFF_LOG_LEVEL=chatty"},
			want: []string{
				`BFF_ADMIN_ADDR: ":99999" has a port outside 0-65535`,
				`BFF_LOG_LEVEL: "chatty" is not one of debug, info, warn, error`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			assert.Equal(t, gateway.ExitUsage, exit.ExitCode())
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = c.Name + ": " + w
			}
			assert.Equal(t, want, strings.Split(strings.TrimSpace(stderr.String()), "\n"))
			assert.Empty(t, stdout.String(), "nothing starts")
		})
	}
}

// testFlags runs --version and --check-config. A valid configuration is
// checked with BFF_ADDR on a port this test holds: had the binary tried to
// serve, binding it would have failed with ExitFailed.
func (c Command) testFlags(t *testing.T, bin string) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = held.Close() })
	tests := []struct {
		name       string
		args       []string
		env        []string
		wantCode   int
		wantStdout string
		wantStderr []string
	}{
		{name: "ok, --version", args: []string{"--version"}, wantStdout: c.Name + " "},
		{name: "ok, --check-config of a valid configuration serves nothing", args: []string{"--check-config"},
			env:        []string{"BFF_ADDR=" + held.Addr().String(), "OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.5"},
			wantStdout: c.Name + ": configuration is valid"},
		{name: "nok, --check-config reports every problem", args: []string{"--check-config"},
			env:      []string{"BFF_LOG_LEVEL=chatty", "OTEL_TRACES_SAMPLER=sometimes"},
			wantCode: gateway.ExitUsage,
			wantStderr: []string{
				`BFF_LOG_LEVEL: "chatty" is not one of debug, info, warn, error`,
				`OTEL_TRACES_SAMPLER: "sometimes" is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio`,
			}},
		{name: "nok, unknown flag", args: []string{"--serve-forever"}, wantCode: gateway.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin, tt.args...)
			cmd.Dir = t.TempDir()
			cmd.Env = append(append(os.Environ(), c.Env...), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			assert.True(t, strings.HasPrefix(stdout.String(), tt.wantStdout), "stdout %q", stdout.String())
			if tt.wantStderr != nil {
				want := make([]string, len(tt.wantStderr))
				for i, w := range tt.wantStderr {
					want[i] = c.Name + ": " + w
				}
				assert.Equal(t, want, strings.Split(strings.TrimSpace(stderr.String()), "\n"))
			}
		})
	}
}

// testDrain sends a real SIGTERM (then a SIGINT) while the request waits
// on a slow upstream: /readyz turns 503, the request still gets its full
// answer, and the process exits 0. The request also forges identity headers, which
// must not reach the upstream.
func (c Command) testDrain(t *testing.T, bin string) {
	f, base := fakestest.Start(t)
	// The upstream is slow but within budget, so the answer is a full 200;
	// 2.5 s leaves a loaded machine ample time to act on SIGTERM meanwhile.
	p := Start(t, bin, base, append([]string{"BFF_UPSTREAM_TIMEOUT=5s", "BFF_ROUTE_BUDGET=6s"}, c.Env...)...)
	require.NoError(t, f.SetFault(domain.ServiceCatalog, domain.Fault{LatencyMs: 2500}))

	req, err := http.NewRequest(http.MethodGet, "http://"+p.Addr+c.InFlight.Path, nil)
	require.NoError(t, err)
	if c.InFlight.Credentials != nil {
		for k, vs := range c.InFlight.Credentials(t, f) {
			req.Header[k] = vs
		}
	}
	req.Header["x-user-id"] = []string{"admin"}
	req.Header.Add(identity.HeaderUserID, "root")
	req.Header.Set(identity.HeaderPartnerID, "forged-partner")
	req.Header.Set(identity.HeaderClient, "forged-client")

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	before := f.Requests(domain.ServiceCatalog)
	go func() {
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

	p.Signal(t, syscall.SIGTERM)
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + p.AdminAddr + "/readyz")
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
	// A second signal, as a Ctrl-C under make run delivers, does not cut
	// the drain short.
	p.Signal(t, syscall.SIGINT)

	r := <-got
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	// The forged identity never reached the upstream; the verified one did.
	h := f.LastHeaders(domain.ServiceCatalog)
	for _, name := range checkedIdentity {
		assert.Equal(t, c.InFlight.Identity.Values(name), h.Values(name), name)
	}
	assert.Empty(t, h.Get("Authorization"), "credentials are not forwarded")
	assert.Equal(t, gateway.ExitOK, p.Wait(t), "output:\n%s", p.Output())
}

// testAccessLinesAtExit checks that the access lines, which wait in memory
// for a moment, all reach standard output by the time the process exits on
// SIGTERM.
func (c Command) testAccessLinesAtExit(t *testing.T, bin string) {
	_, base := fakestest.Start(t)
	p := Start(t, bin, base, c.Env...)
	const requests = 20
	for i := range requests {
		res, err := http.Get("http://" + p.Addr + "/no/such/path/" + strconv.Itoa(i))
		require.NoError(t, err)
		_ = res.Body.Close()
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	}
	p.Signal(t, syscall.SIGTERM)
	require.Equal(t, gateway.ExitOK, p.Wait(t), "output:\n%s", p.Output())
	out := p.Output()
	for i := range requests {
		assert.Contains(t, out, `"path":"/no/such/path/`+strconv.Itoa(i)+`"`, "every access line is written by exit")
	}
}
