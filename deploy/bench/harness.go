package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopfront/contracts/domain"
)

// options of one harness run; every one has a BENCH_ variable.
type options struct {
	rounds      int
	duration    time.Duration
	only        *regexp.Regexp
	profile     bool
	results     string // results directory
	markdown    string // BENCHMARKS.md to write
	root        string // repository root
	passClients int
	aggClients  []int
	delay       time.Duration
	command     string
	note        string
	// overloadYAML is added to the YAML of the overload scenario's
	// adaptive instance: the limit's settings under test.
	overloadYAML string
}

func parseOptions(args []string) (options, error) {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	root, err := repoRoot()
	if err != nil {
		return options{}, err
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	rounds := fs.Int("rounds", atoiOr(env("BENCH_ROUNDS", "5"), -1), "rounds; each runs every configuration once (BENCH_ROUNDS)")
	duration := fs.String("duration", env("BENCH_DURATION", "5s"), "length of one measurement, whole seconds (BENCH_DURATION)")
	only := fs.String("only", env("BENCH_ONLY", ""), "regular expression of the scenario names to run (BENCH_ONLY); empty: all")
	profile := fs.Bool("profile", env("BENCH_PROFILE", "") == "1", "save a CPU profile of each gateway scenario (BENCH_PROFILE=1)")
	results := fs.String("results", env("BENCH_RESULTS", filepath.Join(root, "deploy", "bench", "results", "latest")), "results directory (BENCH_RESULTS)")
	md := fs.String("markdown", env("BENCH_MARKDOWN", filepath.Join(root, "BENCHMARKS.md")), "report to write (BENCH_MARKDOWN)")
	clients := fs.Int("clients", atoiOr(env("BENCH_CLIENTS", "32"), -1), "connections of the pass-through scenarios (BENCH_CLIENTS)")
	note := fs.String("note", env("BENCH_NOTE", ""), "a line printed under the title of the report (BENCH_NOTE)")
	overloadYAML := fs.String("overload-yaml", env("BENCH_OVERLOAD_YAML", ""), "YAML added to the config of overload-adaptive's gateway, e.g. 'overload: {min_limit: 8}' (BENCH_OVERLOAD_YAML)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o := options{rounds: *rounds, profile: *profile, results: *results, markdown: *md, root: root,
		passClients: *clients, aggClients: []int{1, 16, 128}, delay: 20 * time.Millisecond, note: *note, overloadYAML: *overloadYAML}
	var errs []error
	if o.rounds < 1 || o.rounds > 50 {
		errs = append(errs, fmt.Errorf("BENCH_ROUNDS: want 1..50"))
	}
	o.duration, err = time.ParseDuration(*duration)
	if err != nil || o.duration < time.Second || o.duration > 5*time.Minute || o.duration%time.Second != 0 {
		errs = append(errs, fmt.Errorf("BENCH_DURATION %q: want whole seconds from 1s to 5m (wrk counts seconds)", *duration))
	}
	if o.only, err = regexp.Compile(*only); err != nil {
		errs = append(errs, fmt.Errorf("BENCH_ONLY: %w", err))
	}
	if o.passClients < 1 || o.passClients > 4096 {
		errs = append(errs, fmt.Errorf("BENCH_CLIENTS: want 1..4096"))
	}
	o.command = env("BENCH_COMMAND", strings.TrimSpace("cd deploy && go run ./bench "+strings.Join(args, " ")))
	return o, errors.Join(errs...)
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// repoRoot is the directory holding go.work, looked for upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work above %s: run the harness inside the repository", dir)
		}
	}
}

// scenario is one configuration measured once per round.
type scenario struct {
	Name    string `json:"name"`
	Group   string `json:"group"`
	Clients int    `json:"clients"`
	// vsDirect, vsProxy and vsRef name the scenarios of the same round
	// whose throughput this one is divided by.
	vsDirect, vsProxy, vsRef string
	url                      string
	headers                  []string
	tokens                   []string
	proc                     *proc
	gateway                  bool
}

// measurement is one scenario in one round.
type measurement struct {
	Scenario   string    `json:"scenario"`
	Round      int       `json:"round"`
	Requests   int64     `json:"requests"`
	RPS        float64   `json:"rps"`
	P50us      int64     `json:"p50us"`
	P99us      int64     `json:"p99us"`
	Errors     int64     `json:"errors"`
	CPUusPerRq float64   `json:"cpuUsPerRequest"`
	Wrk        wrkResult `json:"wrk"`
}

// harness holds one run's processes and figures.
type harness struct {
	o        options
	out      io.Writer
	l        *launcher
	genCPU   string
	pinNote  string
	bins     map[string]string
	tmp      string
	upstream *proc
}

func runHarness(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	return run(ctx, o, out)
}

func run(ctx context.Context, o options, out io.Writer) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (apt-get install wrk)")
	}
	if err := os.RemoveAll(o.results); err != nil {
		return err
	}
	logs := filepath.Join(o.results, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "shopfront-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	h := &harness{o: o, out: out, l: &launcher{logs: logs}, tmp: tmp}
	defer h.l.stopAll()
	h.pin()
	h.say("%s; GOMAXPROCS=1 for every server", h.pinNote)

	if err := h.build(ctx); err != nil {
		return err
	}
	scenarios, overload, err := h.setUp(ctx)
	if err != nil {
		return err
	}
	if len(scenarios) == 0 && overload == nil {
		return fmt.Errorf("BENCH_ONLY %q selects no scenario", o.only)
	}
	h.say("warming up %d configurations", len(scenarios))
	for _, s := range scenarios {
		if _, err := runWrk(ctx, h.genCPU, tmp, s.Name, s.url, s.headers, s.tokens, s.Clients, time.Second); err != nil {
			return err
		}
	}
	var rounds [][]measurement
	for k := range o.rounds {
		order := rotate(scenarios, k)
		var ms []measurement
		for i, s := range order {
			h.say("round %d/%d  %2d/%d  %-24s c=%d", k+1, o.rounds, i+1, len(order), s.Name, s.Clients)
			m, err := h.measure(ctx, s, k)
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
		rounds = append(rounds, ms)
		if err := writeJSON(filepath.Join(o.results, fmt.Sprintf("round-%d.json", k+1)), ms); err != nil {
			return err
		}
	}
	if o.profile {
		if err := h.profile(ctx, scenarios); err != nil {
			return err
		}
	}
	var ov *overloadReport
	if overload != nil {
		if ov, err = h.overload(ctx, overload); err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(o.results, "overload.json"), ov); err != nil {
			return err
		}
	}
	sum := summarise(scenarios, rounds)
	for _, s := range scenarios {
		sum.rss[s.Name] = peakRSS(s.proc.pids())
	}
	if err := writeJSON(filepath.Join(o.results, "summary.json"), sum.rows()); err != nil {
		return err
	}
	bad := 0
	for _, r := range sum.rows() {
		bad += int(r.Errors)
	}
	if err := h.report(sum, ov); err != nil {
		return err
	}
	h.say("wrote %s and %s", o.markdown, o.results)
	if bad > 0 {
		return fmt.Errorf("%d requests failed (non-2xx/3xx answers or socket errors); see the errors column of %s", bad, o.markdown)
	}
	return nil
}

func (h *harness) say(format string, args ...any) {
	fmt.Fprintf(h.out, "bench: "+format+"\n", args...)
}

// pin puts the load generator on the first core and the servers on the
// second, when taskset and two cores are there.
func (h *harness) pin() {
	_, err := exec.LookPath("taskset")
	switch {
	case err != nil:
		h.pinNote = "taskset (util-linux) is not installed: load generator and servers share every core"
	case runtime.NumCPU() < 2:
		h.pinNote = "one core only: load generator and servers share it"
	default:
		h.genCPU, h.l.serverCPU = "0", "1"
		h.pinNote = "load generator pinned to core 0, servers to core 1 (taskset)"
	}
}

// build compiles this harness and the gateways once, into the temporary
// directory, with the toolchain running the harness.
func (h *harness) build(ctx context.Context) error {
	h.bins = map[string]string{}
	targets := map[string]string{"bench": filepath.Join(h.o.root, "deploy", "bench")}
	// Only the gateways the selected scenarios run: a short run of the
	// pass-through builds one.
	for g, prefixes := range map[string][]string{
		"bff-mobile":  {"mobile-", "overload-"},
		"bff-web":     {"web-"},
		"bff-partner": {"partner-"},
	} {
		for _, name := range scenarioNames(h.o.aggClients) {
			if h.o.only.MatchString(name) && slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
				targets[g] = filepath.Join(h.o.root, g, "cmd", g)
			}
		}
	}
	h.say("building %d binaries", len(targets))
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	var wg sync.WaitGroup
	errs := make(chan error, len(targets))
	for name, dir := range targets {
		bin := filepath.Join(h.tmp, name)
		h.bins[name] = bin
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("go build %s: %w: %s", name, err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(slices.Collect(chanSeq(errs))...)
}

func chanSeq[T any](c <-chan T) func(func(T) bool) {
	return func(yield func(T) bool) {
		for v := range c {
			if !yield(v) {
				return
			}
		}
	}
}

// scenarioNames are the names BENCH_ONLY chooses from.
func scenarioNames(aggClients []int) []string {
	names := []string{"direct", "proxy", "nginx", "mobile-orders", "partner-inventory", "partner-products"}
	for _, c := range aggClients {
		sfx := "-c" + strconv.Itoa(c)
		names = append(names, "fanout-home"+sfx, "mobile-home"+sfx, "fanout-product"+sfx, "web-product"+sfx)
	}
	return append(names, "overload-off", "overload-adaptive")
}

// services are the domain services a gateway's upstream URLs name.
var services = []string{
	domain.ServiceCatalog, domain.ServiceInventory, domain.ServicePricing, domain.ServiceReviews,
	domain.ServiceRecommendations, domain.ServiceUsers, domain.ServiceOrders, domain.ServiceCart,
	domain.ServicePayments, domain.ServiceNotifications, domain.ServiceIdentity, domain.ServiceMedia,
}

// gatewayEnv points every upstream at base, with delay on all but
// identity (the key set), and turns tracing on without an exporter.
func (h *harness) gatewayEnv(base string, delay time.Duration) []string {
	env := []string{"OTEL_TRACES_SAMPLER=always_on", "BFF_LOG_LEVEL=info"}
	for _, s := range services {
		u := base + "/" + s
		if delay > 0 && s != domain.ServiceIdentity {
			u = base + "/d/" + delay.String() + "/" + s
		}
		env = append(env, "BFF_UPSTREAM_"+strings.ToUpper(s)+"_URL="+u)
	}
	if h.o.profile {
		env = append(env, "BFF_ADMIN_PPROF=true")
	}
	return env
}

// highLimits are the rate limits of the measured users and partner: on,
// and far above what one core serves.
const highLimits = "{per_minute: 100000000, burst: 1000000}"

// setUp starts what the selected scenarios need and returns them in their
// order of the first round.
func (h *harness) setUp(ctx context.Context) ([]*scenario, *overloadSetup, error) {
	want := func(name string) bool { return h.o.only.MatchString(name) }
	up, err := h.l.startListener(ctx, "upstream", h.bins["bench"], "upstream", "-addr", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	h.upstream = up
	base := "http://" + up.addr
	orderID, err := firstOrder(base, "u-001")
	if err != nil {
		return nil, nil, err
	}
	mobileToken, err := mint(base, "client=mobile&sub=u-001")
	if err != nil {
		return nil, nil, err
	}
	mobileYAML := filepath.Join(h.tmp, "mobile.yaml")
	if err := os.WriteFile(mobileYAML, []byte("mobile:\n  rate_limit: "+highLimits+"\n"), 0o600); err != nil {
		return nil, nil, err
	}
	keys, err := h.partnerKeys()
	if err != nil {
		return nil, nil, err
	}
	const partnerKey = "X-API-Key: sf_dev_acme_3vQ8kT2mW9xR4pLz"
	mobileAuth := "Authorization: Bearer " + mobileToken
	ordersPath := "/v1/orders/" + orderID

	var out []*scenario
	pc := h.o.passClients
	passGroup := "pass-through, " + clientsText(pc)
	add := func(s *scenario) { out = append(out, s) }
	if want("direct") {
		add(&scenario{Name: "direct", Group: passGroup, Clients: pc, url: base + "/orders/orders/" + orderID, proc: up})
	}
	if want("proxy") {
		p, err := h.l.startListener(ctx, "proxy", h.bins["bench"], "proxy", "-addr", "127.0.0.1:0", "-to", base)
		if err != nil {
			return nil, nil, err
		}
		add(&scenario{Name: "proxy", Group: passGroup, Clients: pc, vsDirect: "direct", url: "http://" + p.addr + "/orders/orders/" + orderID, proc: p})
	}
	if want("nginx") {
		if _, err := exec.LookPath("nginx"); err != nil {
			h.say("nginx is not installed: its scenario is left out")
		} else {
			p, err := h.l.startNginx(ctx, up.addr)
			if err != nil {
				return nil, nil, err
			}
			add(&scenario{Name: "nginx", Group: passGroup, Clients: pc, vsDirect: "direct", vsProxy: "proxy", url: "http://" + p.addr + "/orders/orders/" + orderID, proc: p})
		}
	}
	mobileEnv := append(h.gatewayEnv(base, 0), "BFF_CONFIG="+mobileYAML)
	if want("mobile-orders") {
		p, err := h.l.startGateway(ctx, "bff-mobile", h.bins["bff-mobile"], mobileEnv)
		if err != nil {
			return nil, nil, err
		}
		add(&scenario{Name: "mobile-orders", Group: passGroup, Clients: pc, vsDirect: "direct", vsProxy: "proxy", gateway: true,
			url: "http://" + p.addr + ordersPath, headers: []string{mobileAuth}, proc: p})
	}
	if want("partner-inventory") || want("partner-products") {
		p, err := h.l.startGateway(ctx, "bff-partner", h.bins["bff-partner"], append(h.gatewayEnv(base, 0),
			"BFF_PARTNER_KEYS_FILE="+keys, "BFF_AUDIT_DIR="+filepath.Join(h.tmp, "audit")))
		if err != nil {
			return nil, nil, err
		}
		if want("partner-inventory") {
			add(&scenario{Name: "partner-inventory", Group: passGroup, Clients: pc, vsDirect: "direct", vsProxy: "proxy", gateway: true,
				url: "http://" + p.addr + "/v2/inventory/p-0001", headers: []string{partnerKey}, proc: p})
		}
		if want("partner-products") {
			add(&scenario{Name: "partner-products", Group: passGroup, Clients: pc, vsDirect: "direct", vsProxy: "proxy", gateway: true,
				url: "http://" + p.addr + "/v2/products/p-0001", headers: []string{partnerKey}, proc: p})
		}
	}

	// Aggregates: every source delayed, the gateway beside a fan-out of
	// the same shape on the same upstream.
	delayed := base + "/d/" + h.o.delay.String()
	var mobileAgg, webAgg, refHome, refProduct *proc
	var webTokens []string
	for _, c := range h.o.aggClients {
		sfx := "-c" + strconv.Itoa(c)
		if want("mobile-home"+sfx) || want("fanout-home"+sfx) {
			if refHome == nil {
				if refHome, err = h.l.startListener(ctx, "fanout-home", h.bins["bench"], "fanout", "-addr", "127.0.0.1:0", "-upstream", delayed, "-shape", "home"); err != nil {
					return nil, nil, err
				}
				if mobileAgg, err = h.l.startGateway(ctx, "bff-mobile-aggregate", h.bins["bff-mobile"],
					append(h.gatewayEnv(base, h.o.delay), "BFF_CONFIG="+mobileYAML)); err != nil {
					return nil, nil, err
				}
			}
			group := fmt.Sprintf("bff-mobile GET /v1/home, %s: 5 then 2 calls of %s", clientsText(c), h.o.delay)
			add(&scenario{Name: "fanout-home" + sfx, Group: group, Clients: c, url: "http://" + refHome.addr + "/", proc: refHome})
			add(&scenario{Name: "mobile-home" + sfx, Group: group, Clients: c, vsRef: "fanout-home" + sfx, gateway: true,
				url: "http://" + mobileAgg.addr + "/v1/home", headers: []string{mobileAuth}, proc: mobileAgg})
		}
		if want("web-product"+sfx) || want("fanout-product"+sfx) {
			if refProduct == nil {
				if refProduct, err = h.l.startListener(ctx, "fanout-product", h.bins["bench"], "fanout", "-addr", "127.0.0.1:0", "-upstream", delayed, "-shape", "product"); err != nil {
					return nil, nil, err
				}
				if webAgg, err = h.l.startGateway(ctx, "bff-web-aggregate", h.bins["bff-web"], h.gatewayEnv(base, h.o.delay)); err != nil {
					return nil, nil, err
				}
				// bff-web's per-user limit (600/min) has no setting: the
				// load is spread over enough users to stay under it.
				for i := range webUsers {
					tok, err := mint(base, fmt.Sprintf("client=web&sub=bench-%04d", i+1))
					if err != nil {
						return nil, nil, err
					}
					webTokens = append(webTokens, tok)
				}
			}
			group := fmt.Sprintf("bff-web GET /v1/pages/product/{id}, %s: 5 then 2 calls of %s", clientsText(c), h.o.delay)
			add(&scenario{Name: "fanout-product" + sfx, Group: group, Clients: c, url: "http://" + refProduct.addr + "/", proc: refProduct})
			add(&scenario{Name: "web-product" + sfx, Group: group, Clients: c, vsRef: "fanout-product" + sfx, gateway: true,
				url: "http://" + webAgg.addr + "/v1/pages/product/p-0001", tokens: webTokens, proc: webAgg})
		}
	}

	var ov *overloadSetup
	if want("overload-off") || want("overload-adaptive") {
		ov = &overloadSetup{path: ordersPath, header: mobileAuth}
		adaptiveYAML := filepath.Join(h.tmp, "mobile-overload.yaml")
		if err := os.WriteFile(adaptiveYAML, []byte("mobile:\n  rate_limit: "+highLimits+"\n"+h.o.overloadYAML+"\n"), 0o600); err != nil {
			return nil, nil, err
		}
		for _, mode := range []string{"off", "adaptive"} {
			env := append(slices.Clone(mobileEnv), "BFF_OVERLOAD="+mode)
			if mode == "adaptive" {
				env = append(env, "BFF_CONFIG="+adaptiveYAML)
			}
			p, err := h.l.startGateway(ctx, "bff-mobile-overload-"+mode, h.bins["bff-mobile"], env)
			if err != nil {
				return nil, nil, err
			}
			ov.procs = append(ov.procs, p)
			ov.modes = append(ov.modes, mode)
		}
	}
	return out, ov, nil
}

func clientsText(n int) string {
	if n == 1 {
		return "1 client"
	}
	return strconv.Itoa(n) + " clients"
}

// webUsers is how many users share bff-web's load: 500 users at 600/min
// each allow 5000 requests a second beyond their bursts.
const webUsers = 500

// partnerKeys writes a copy of the development keys file whose partner
// acme has a plan far above what one core serves: the limit stays on.
func (h *harness) partnerKeys() (string, error) {
	raw, err := os.ReadFile(filepath.Join(h.o.root, "deploy", "dev", "partner-keys.yaml"))
	if err != nil {
		return "", err
	}
	s := strings.Replace(string(raw), "plan: {per_minute: 100, burst: 20}", "plan: "+highLimits, 1)
	if s == string(raw) {
		return "", errors.New("deploy/dev/partner-keys.yaml: acme's plan line changed; update the harness")
	}
	p := filepath.Join(h.tmp, "partner-keys.yaml")
	return p, os.WriteFile(p, []byte(s), 0o600)
}

// firstOrder is the id of user's latest order, as the upstream serves it.
func firstOrder(base, user string) (string, error) {
	var l domain.OrderList
	if err := getJSON(base+"/orders/users/"+user+"/orders?limit=1", &l); err != nil {
		return "", err
	}
	if len(l.Items) == 0 {
		return "", fmt.Errorf("user %s has no order", user)
	}
	return l.Items[0].ID, nil
}

func mint(base, query string) (string, error) {
	var t struct{ Token string }
	err := getJSON(base+"/__bench/token?"+query, &t)
	return t.Token, err
}

func getJSON(url string, v any) error {
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, res.StatusCode)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// rotate is round k's order: the list started at its k-th element, so
// that no configuration always runs first (on a cold cache) or last.
func rotate[T any](s []T, k int) []T {
	if len(s) == 0 {
		return nil
	}
	k %= len(s)
	return append(slices.Clone(s[k:]), s[:k]...)
}

// measure runs one scenario once, with the CPU of its process read
// around the run.
func (h *harness) measure(ctx context.Context, s *scenario, round int) (measurement, error) {
	pids := s.proc.pids()
	before, err := cpuTicks(pids)
	if err != nil {
		return measurement{}, fmt.Errorf("%s: %w", s.Name, err)
	}
	r, err := runWrk(ctx, h.genCPU, h.tmp, s.Name, s.url, s.headers, s.tokens, s.Clients, h.o.duration)
	if err != nil {
		return measurement{}, err
	}
	after, err := cpuTicks(pids)
	if err != nil {
		return measurement{}, fmt.Errorf("%s: %w", s.Name, err)
	}
	if !s.proc.alive() {
		return measurement{}, fmt.Errorf("%s exited; see %s", s.proc.name, s.proc.log)
	}
	m := measurement{Scenario: s.Name, Round: round + 1, Requests: r.Requests, P50us: r.P50us, P99us: r.P99us, Errors: r.errors(), Wrk: r}
	if r.DurationUs > 0 {
		m.RPS = float64(r.Requests) / (float64(r.DurationUs) / 1e6)
	}
	if r.Requests > 0 {
		m.CPUusPerRq = float64(after-before) * (1e6 / clockTick) / float64(r.Requests)
	}
	if m.Errors > 0 {
		h.say("  %s: %d errors (connect %d, read %d, write %d, status %d, timeout %d)", s.Name, m.Errors, r.Connect, r.Read, r.Write, r.Status, r.Timeout)
	}
	return m, nil
}

// profile runs each gateway scenario once more, for 5 s under the same
// load, and saves a CPU profile of it taken meanwhile, and a heap profile
// taken 4 s in, under full load. The run is not measured: profiling costs
// CPU the figures must not include.
func (h *harness) profile(ctx context.Context, scenarios []*scenario) error {
	const secs = 5
	for _, s := range scenarios {
		if !s.gateway {
			continue
		}
		h.say("profile %s (%d s)", s.Name, secs)
		var wg sync.WaitGroup
		wg.Go(func() {
			h.saveProfile(ctx, s.proc, s.Name, fmt.Sprintf("profile?seconds=%d", secs), ".pb.gz", secs)
		})
		wg.Go(func() {
			select {
			case <-time.After((secs - 1) * time.Second):
				h.saveProfile(ctx, s.proc, s.Name, "heap", ".heap.pb.gz", 0)
			case <-ctx.Done():
			}
		})
		_, err := runWrk(ctx, h.genCPU, h.tmp, s.Name, s.url, s.headers, s.tokens, s.Clients, secs*time.Second)
		wg.Wait()
		if err != nil {
			return err
		}
	}
	return nil
}

// saveProfile saves the profile /debug/pprof/<which> of the gateway p,
// which takes secs seconds, as pprof/<name><suffix>.
func (h *harness) saveProfile(ctx context.Context, p *proc, name, which, suffix string, secs int) {
	url := fmt.Sprintf("http://%s/debug/pprof/%s", p.admin, which)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	res, err := (&http.Client{Timeout: time.Duration(secs+10) * time.Second}).Do(req)
	if err != nil {
		h.say("  profile of %s: %v", name, err)
		return
	}
	defer res.Body.Close()
	dir := filepath.Join(h.o.results, "pprof")
	_ = os.MkdirAll(dir, 0o755)
	f, err := os.Create(filepath.Join(dir, name+suffix))
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, res.Body)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
