//go:build cluster

package cluster_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/deploy/cluster"
	"github.com/shopfront/deploy/internal/binaries"
	"github.com/shopfront/deploy/internal/pace"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

const (
	// defaultDrainDelay and defaultKeepalive are the settings
	// docs/cluster.md documents: nginx lets go of its idle connections to
	// an instance before that instance, draining, stops.
	// ROLLING_DRAIN_DELAY and ROLLING_NGINX_KEEPALIVE change them, to
	// measure what other settings lose.
	defaultDrainDelay = 3 * time.Second
	defaultKeepalive  = time.Second
	requestTimeout    = 15 * time.Second
	// settle is the pause between two restarts. Siblings are three
	// restarts apart, and a draining instance serves for its whole drain
	// delay, which outlasts nginx's fail_timeout (2 s) of the sibling
	// restarted before it: nginx never finds both instances failed.
	settle = time.Second
)

var users = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}

// instance is one gateway process that can be stopped and started again on
// the same ports.
type instance struct {
	name, bin   string
	addr, admin string
	dir         string
	env         []string
	log         *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (in *instance) start(t *testing.T) {
	t.Helper()
	require.NoError(t, in.run())
}

// run starts the process and waits until it is ready; it does not touch t,
// so it may run on any goroutine.
func (in *instance) run() error {
	cmd := exec.Command(in.bin)
	cmd.Dir = in.dir
	cmd.Env = append(cleanEnv(), in.env...)
	cmd.Env = append(cmd.Env, "BFF_ADDR="+in.addr, "BFF_ADMIN_ADDR="+in.admin)
	cmd.Stdout, cmd.Stderr = in.log, in.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	done := make(chan struct{})
	in.mu.Lock()
	in.cmd, in.done = cmd, done
	in.mu.Unlock()
	go func() {
		err := cmd.Wait()
		in.mu.Lock()
		in.err = err
		in.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(gatewaytest.ReadyTimeout)
	for !gatewaytest.Ready(in.admin) {
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready; output:\n%s", in.name, in.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never got ready; output:\n%s", in.name, in.output())
		}
	}
	return nil
}

// stop sends SIGTERM and returns the exit code once the process is gone.
func (in *instance) stop(t *testing.T) int {
	t.Helper()
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.mu.Unlock()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		t.Fatalf("%s did not exit 40 s after SIGTERM; output:\n%s", in.name, in.output())
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	var exit *exec.ExitError
	if errors.As(in.err, &exit) {
		return exit.ExitCode()
	}
	require.NoError(t, in.err)
	return 0
}

func (in *instance) kill() {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-done
	}
}

func (in *instance) output() string {
	b, _ := os.ReadFile(in.log.Name())
	return string(b)
}

// cleanEnv is this process's environment without Shopfront's or
// OpenTelemetry's variables, so the caller's shell cannot change the run.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BFF_") && !strings.HasPrefix(kv, "OTEL_") {
			out = append(out, kv)
		}
	}
	return out
}

func freeAddr(t *testing.T) string { return "127.0.0.1:" + strconv.Itoa(edgetest.FreePort(t)) }

// localCluster is the cluster of run.sh started from Go on free ports.
type localCluster struct {
	fakes     string
	instances []*instance // mobile-1, web-1, partner-1, mobile-2, web-2, partner-2
	client    map[string]string
	auditDirs []string
	nginxLog  string
}

// settings are the drain and keep-alive settings of a run.
type settings struct{ drainDelay, keepalive time.Duration }

func startCluster(t *testing.T, partnerKey string, set settings) *localCluster {
	t.Helper()
	bins := binaries.Build(t, filepath.Join("..", ".."))
	work := t.TempDir()
	c := &localCluster{client: map[string]string{}}
	redis := edgetest.StartRedis(t)
	c.fakes = binaries.StartFakes(t, bins.Fakes)

	// A partner of its own with a plan the load stays far below, so the
	// orders are answered by the order service, not the rate limit.
	sum := sha256.Sum256([]byte(partnerKey))
	keys := edgetest.TempFile(t, "partner-keys.yaml", "partners:\n  - id: rolling\n    name: Rolling Restart\n"+
		"    plan: {per_minute: 60000, burst: 2000}\n    keys:\n      - id: rolling-1\n        sha256: "+hex.EncodeToString(sum[:])+
		"\n        scopes: [catalog:read, inventory:read, orders:read, orders:write]\n")
	routing := edgetest.TempFile(t, "bff.yaml", "routing:\n  catalog:\n    sticky: user\n    variants:\n"+
		"      - {name: stable, weight: 90}\n      - {name: canary, weight: 10, url: \""+c.fakes+"/catalog\"}\n")

	common := []string{"BFF_REDIS_URL=" + redis.URL(), "BFF_TRUSTED_PROXIES=127.0.0.1/32",
		"BFF_DRAIN_DELAY=" + set.drainDelay.String(), "BFF_CONFIG=" + routing}
	for _, s := range domain.ServiceNames() {
		common = append(common, "BFF_UPSTREAM_"+strings.ToUpper(s)+"_URL="+c.fakes+"/"+s)
	}
	upstreams := map[string][2]int{}
	byGateway := map[string][]*instance{}
	for _, n := range []int{1, 2} {
		for gi, g := range cluster.Gateways {
			name := g + "-" + strconv.Itoa(n)
			in := &instance{name: name, bin: [...]string{bins.Mobile, bins.Web, bins.Partner}[gi], addr: freeAddr(t), admin: freeAddr(t), dir: filepath.Join(work, name)}
			require.NoError(t, os.MkdirAll(in.dir, 0o755))
			var err error
			in.log, err = os.Create(filepath.Join(work, name+".log"))
			require.NoError(t, err)
			in.env = slices.Clone(common)
			if g == "partner" {
				audit := filepath.Join(work, name+"-audit")
				c.auditDirs = append(c.auditDirs, audit)
				in.env = append(in.env, "BFF_PARTNER_KEYS_FILE="+keys, "BFF_AUDIT_DIR="+audit)
			}
			c.instances = append(c.instances, in)
			byGateway[g] = append(byGateway[g], in)
		}
	}
	t.Cleanup(func() {
		for _, in := range c.instances {
			in.kill()
		}
	})
	var wg sync.WaitGroup
	// Free ports can be taken by another test between being picked and
	// bound: such an instance gets new ones, before nginx is told them.
	errs := make([]error, len(c.instances))
	for i, in := range c.instances {
		wg.Go(func() {
			for range 3 {
				if errs[i] = in.run(); errs[i] == nil || !strings.Contains(errs[i].Error(), "address already in use") {
					return
				}
				in.addr, in.admin = freeAddr(t), freeAddr(t)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	listen := map[string]int{}
	for _, g := range cluster.Gateways {
		port := func(addr string) int {
			_, p, _ := net.SplitHostPort(addr)
			n, _ := strconv.Atoi(p)
			return n
		}
		upstreams[g] = [2]int{port(byGateway[g][0].addr), port(byGateway[g][1].addr)}
		listen[g] = edgetest.FreePort(t)
		c.client[g] = "http://127.0.0.1:" + strconv.Itoa(listen[g])
	}
	conf, err := cluster.Nginx{Dir: work, Listen: listen, Upstreams: upstreams, KeepaliveTimeout: set.keepalive}.Render()
	require.NoError(t, err)
	confPath := filepath.Join(work, "nginx.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/nginx")
	}
	require.NoError(t, err, "nginx is needed: sudo apt-get install -y nginx")
	nginx := exec.Command(bin, "-p", work, "-e", "stderr", "-c", confPath)
	c.nginxLog = filepath.Join(work, "nginx.log")
	nginxLog, err := os.Create(c.nginxLog)
	require.NoError(t, err)
	nginx.Stdout, nginx.Stderr = nginxLog, nginxLog
	require.NoError(t, nginx.Start())
	nginxDone := make(chan struct{})
	go func() { _ = nginx.Wait(); close(nginxDone) }()
	t.Cleanup(func() {
		_ = nginx.Process.Signal(syscall.SIGTERM)
		select {
		case <-nginxDone:
		case <-time.After(10 * time.Second):
			_ = nginx.Process.Kill()
			<-nginxDone
		}
	})
	for _, g := range cluster.Gateways {
		addr := strings.TrimPrefix(c.client[g], "http://")
		require.Eventually(t, func() bool {
			conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				_ = conn.Close()
			}
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "nginx never listened on %s:\n%s", addr, readFile(c.nginxLog))
	}
	return c
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// call is one request of the load and what came of it.
type call struct {
	route  string
	id     string
	status int
	err    error
}

// TestRollingRestart keeps a steady mixed load on the cluster through nginx
// while every instance in turn gets SIGTERM, exits, starts again and gets
// ready. Every request must get an answer that is not a 5xx, and the
// partner audit files of both instances must hold exactly one line for
// each partner request that was answered, none for any other.
func TestRollingRestart(t *testing.T) {
	duration := 30 * time.Second
	if v := os.Getenv("ROLLING_DURATION"); v != "" {
		var err error
		duration, err = time.ParseDuration(v)
		require.NoError(t, err, "ROLLING_DURATION")
	}
	rate := 40
	if v := os.Getenv("ROLLING_RATE"); v != "" {
		var err error
		rate, err = strconv.Atoi(v)
		require.NoError(t, err, "ROLLING_RATE")
		require.Positive(t, rate, "ROLLING_RATE")
	}
	set := settings{drainDelay: defaultDrainDelay, keepalive: defaultKeepalive}
	for name, d := range map[string]*time.Duration{"ROLLING_DRAIN_DELAY": &set.drainDelay, "ROLLING_NGINX_KEEPALIVE": &set.keepalive} {
		if v := os.Getenv(name); v != "" {
			var err error
			*d, err = time.ParseDuration(v)
			require.NoError(t, err, name)
		}
	}
	partnerKey := "sf_rolling_" + rand.Text()
	c := startCluster(t, partnerKey, set)

	mobileTokens := make([]string, len(users))
	webTokens := make([]string, len(users))
	for i, u := range users {
		mobileTokens[i] = binaries.PasswordToken(t, c.fakes, u, "mobile")
		webTokens[i] = binaries.PasswordToken(t, c.fakes, u, "web")
	}
	type route struct {
		name    string
		gateway string
		method  string
		path    string
		prepare func(r *http.Request, n int)
	}
	bearer := func(tokens []string) func(*http.Request, int) {
		return func(r *http.Request, n int) { r.Header.Set("Authorization", "Bearer "+tokens[n%len(tokens)]) }
	}
	order := `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`
	routes := []route{
		{"GET mobile /v1/home", "mobile", http.MethodGet, "/v1/home", bearer(mobileTokens)},
		{"GET web /v1/catalog", "web", http.MethodGet, "/v1/catalog?q=lamp", bearer(webTokens)},
		{"GET partner /v2/products/p-0003", "partner", http.MethodGet, "/v2/products/p-0003",
			func(r *http.Request, _ int) { r.Header.Set("X-API-Key", partnerKey) }},
		{"POST partner /v2/orders", "partner", http.MethodPost, "/v2/orders", func(r *http.Request, _ int) {
			r.Header.Set("X-API-Key", partnerKey)
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Idempotency-Key", rand.Text())
		}},
	}

	client := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	var (
		mu    sync.Mutex
		calls []call
	)
	do := func(r route, n int) {
		cl := call{route: r.name, id: fmt.Sprintf("rolling-%07d", n)}
		var body io.Reader
		if r.method == http.MethodPost {
			body = strings.NewReader(order)
		}
		req, err := http.NewRequest(r.method, c.client[r.gateway]+r.path, body)
		if err == nil {
			req.Header.Set("X-Request-Id", cl.id)
			r.prepare(req, n/len(routes))
			var res *http.Response
			if res, err = client.Do(req); err == nil {
				_, err = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				cl.status = res.StatusCode
			}
		}
		cl.err = err
		mu.Lock()
		calls = append(calls, cl)
		mu.Unlock()
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	load := pace.Start(ctx, rate, func(n int) { do(routes[n%len(routes)], n) })

	began := time.Now()
	time.Sleep(settle)
	restarts := 0
	for _, in := range c.instances {
		stopAt := time.Now()
		code := in.stop(t)
		assert.Zero(t, code, "%s exit status after SIGTERM; output:\n%s", in.name, in.output())
		exited := time.Since(stopAt)
		in.start(t)
		restarts++
		t.Logf("%s: exited %.1fs after SIGTERM, ready again %.1fs after", in.name, exited.Seconds(), time.Since(stopAt).Seconds())
		time.Sleep(settle)
	}
	if rest := duration - time.Since(began); rest > 0 {
		time.Sleep(rest)
	}
	cancel()
	sent := load.Wait()
	// The last audit lines are written by the time each partner instance
	// has exited: a drain loses none.
	for _, in := range c.instances {
		if strings.HasPrefix(in.name, "partner") {
			assert.Zero(t, in.stop(t), "%s exit status", in.name)
		}
	}

	report(t, calls, sent, restarts, time.Since(began), rate, set, c)
}

func report(t *testing.T, calls []call, sent, restarts int, took time.Duration, rate int, set settings, c *localCluster) {
	t.Helper()
	byRoute := map[string]map[int]int{}
	answered, bad5xx, transport := 0, 0, 0
	var firstErrs []string
	partnerAnswered := map[string]bool{}
	for _, cl := range calls {
		if cl.err != nil {
			transport++
			if len(firstErrs) < 5 {
				firstErrs = append(firstErrs, cl.route+" "+cl.id+": "+cl.err.Error())
			}
			continue
		}
		answered++
		if byRoute[cl.route] == nil {
			byRoute[cl.route] = map[int]int{}
		}
		byRoute[cl.route][cl.status]++
		if cl.status >= 500 {
			bad5xx++
		}
		if strings.Contains(cl.route, "partner") {
			partnerAnswered[cl.id] = true
		}
	}

	// Audit lines by request id, across both partner instances.
	lines := map[string]int{}
	total := 0
	for _, dir := range c.auditDirs {
		files, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
		require.NoError(t, err)
		for _, f := range files {
			fh, err := os.Open(f)
			require.NoError(t, err)
			sc := bufio.NewScanner(fh)
			sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
			for sc.Scan() {
				var line struct {
					RequestID string `json:"requestId"`
				}
				require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "%s: %s", f, sc.Text())
				lines[line.RequestID]++
				total++
			}
			require.NoError(t, sc.Err())
			_ = fh.Close()
		}
	}
	missing, doubled, stray := 0, 0, 0
	for id := range partnerAnswered {
		switch n := lines[id]; {
		case n == 0:
			missing++
		case n > 1:
			doubled++
		}
	}
	for id := range lines {
		if !partnerAnswered[id] {
			stray++
		}
	}
	// nginx names every instance it tried: "a, b" is a retry on the other.
	// Its error log says why: a refused connect sent nothing and is safe
	// to retry for any method; a request cut on an open connection was
	// (maybe) sent, and would have been a 502 had it been a POST.
	nginxLog := readFile(c.nginxLog)
	retries := strings.Count(nginxLog, ", 127.0.0.1:")
	refused := strings.Count(nginxLog, "(111: Connection refused)")
	cut := strings.Count(nginxLog, "prematurely closed connection") + strings.Count(nginxLog, "(104: Connection reset by peer)") +
		strings.Count(nginxLog, "(32: Broken pipe)")

	var b strings.Builder
	fmt.Fprintf(&b, "rolling restart: %d instances restarted one at a time over %s at %d req/s through nginx (drain delay %s, nginx keepalive_timeout %s)\n",
		restarts, took.Round(100*time.Millisecond), rate, set.drainDelay, set.keepalive)
	for _, r := range slices.Sorted(maps.Keys(byRoute)) {
		var parts []string
		for _, s := range slices.Sorted(maps.Keys(byRoute[r])) {
			parts = append(parts, fmt.Sprintf("%d×%d", s, byRoute[r][s]))
		}
		fmt.Fprintf(&b, "  %-34s %s\n", r, strings.Join(parts, " "))
	}
	fmt.Fprintf(&b, "sent %d, answered %d, 5xx %d, transport errors %d; nginx retried %d on the other instance: %d refused connects, %d requests cut on an open connection\n",
		sent, answered, bad5xx, transport, retries, refused, cut)
	fmt.Fprintf(&b, "partner requests answered %d, audit lines %d (missing %d, doubled %d, without an answered request %d)\n",
		len(partnerAnswered), total, missing, doubled, stray)
	for _, line := range strings.Split(nginxLog, "\n") {
		if strings.Contains(line, "[error]") {
			fmt.Fprintf(&b, "nginx: %s\n", line)
		}
	}
	fmt.Print(b.String())

	assert.Equal(t, sent, len(calls), "every request sent was finished")
	assert.Zero(t, transport, "requests without an answer, first: %s", strings.Join(firstErrs, "; "))
	assert.Zero(t, bad5xx, "5xx answers")
	assert.Zero(t, missing, "answered partner requests without an audit line")
	assert.Zero(t, doubled, "partner requests with more than one audit line")
	assert.Zero(t, stray, "audit lines of no answered request")
	assert.Equal(t, len(partnerAnswered), total, "one audit line per answered partner request")
}
