package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
)

// TestHarnessEndToEnd runs the harness as make bench does, briefly: one
// round of one second on the upstream directly, the plain proxy and
// bff-mobile's pass-through, with the real processes and wrk. It checks
// that every configuration served requests without one error and that
// the report holds a well-formed table.
func TestHarnessEndToEnd(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	o := options{
		rounds: 1, duration: time.Second, only: regexp.MustCompile(`^(direct|proxy|mobile-orders)$`),
		results: filepath.Join(dir, "results"), markdown: filepath.Join(dir, "BENCHMARKS.md"), root: root,
		passClients: 4, aggClients: []int{1, 16, 128}, delay: 20 * time.Millisecond, command: "go test",
	}
	var progress bytes.Buffer
	require.NoError(t, run(t.Context(), o, &progress), "progress:\n%s", progress.String())

	raw, err := os.ReadFile(filepath.Join(o.results, "summary.json"))
	require.NoError(t, err)
	var rows []row
	require.NoError(t, json.Unmarshal(raw, &rows))
	require.Len(t, rows, 3)
	for _, r := range rows {
		assert.Positive(t, r.Requests, "%s served no request", r.Scenario)
		assert.Positive(t, r.RPS, r.Scenario)
		assert.Zero(t, r.Errors, r.Scenario)
		assert.Positive(t, r.PeakRSS, r.Scenario)
		assert.Positive(t, r.P99us, r.Scenario)
	}
	assert.NotNil(t, rows[2].VsDirect, "mobile-orders has its ratio to direct")
	assert.NotNil(t, rows[2].VsProxy, "mobile-orders has its ratio to the proxy")

	md, err := os.ReadFile(o.markdown)
	require.NoError(t, err)
	text := string(md)
	assert.Contains(t, text, "GOMAXPROCS=1 for every server")
	assert.Contains(t, text, "![requests per second](BENCHMARKS.svg)")
	var table []string
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, " | ") {
			table = append(table, strings.TrimSpace(line))
		}
	}
	require.Len(t, table, 1+3, "header and one line per scenario:\n%s", text)
	cols := strings.Count(table[0], "|")
	for i, line := range table {
		assert.Equal(t, cols, strings.Count(line, "|"), "line %d of the table: %s", i, line)
	}
	for _, name := range []string{"direct", "proxy", "mobile-orders"} {
		assert.Contains(t, text, "| "+name+" | ")
	}
	svg, err := os.ReadFile(filepath.Join(dir, "BENCHMARKS.svg"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(svg, []byte("<svg ")), "the chart is an SVG")
	_, err = os.Stat(filepath.Join(o.results, "round-1.json"))
	assert.NoError(t, err)
}

func TestSplitDelay(t *testing.T) {
	tests := []struct {
		name, path, want string
		delay            time.Duration
		wantErr          bool
	}{
		{name: "ok, no delay", path: "/users/users/u-001", want: "/users/users/u-001"},
		{name: "ok, 20ms", path: "/d/20ms/users/users/u-001", want: "/users/users/u-001", delay: 20 * time.Millisecond},
		{name: "nok, not a duration", path: "/d/soon/users", wantErr: true},
		{name: "nok, negative", path: "/d/-1s/users", wantErr: true},
		{name: "nok, beyond the bound", path: "/d/1h/users", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, d, err := splitDelay(tt.path)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.delay, d)
		})
	}
}

// TestRatiosArePerRoundMedians checks that a ratio is the median of the
// ratios within each round, so that a slow round moves both sides, and
// that a baseline which did not run gives no ratio.
func TestRatiosArePerRoundMedians(t *testing.T) {
	sc := []*scenario{{Name: "direct"}, {Name: "gw", vsDirect: "direct", vsProxy: "proxy"}}
	rounds := [][]measurement{
		{{Scenario: "direct", RPS: 1000, CPUusPerRq: 10}, {Scenario: "gw", RPS: 500, CPUusPerRq: 20}}, // 0.5, CPU 2
		{{Scenario: "gw", RPS: 100, CPUusPerRq: 90}, {Scenario: "direct", RPS: 400, CPUusPerRq: 30}},  // 0.25, CPU 3: a slow round for both
		{{Scenario: "direct", RPS: 1000, CPUusPerRq: 10}, {Scenario: "gw", RPS: 600, CPUusPerRq: 15}}, // 0.6, CPU 1.5
	}
	rows := summarise(sc, rounds).rows()
	require.Len(t, rows, 2)
	require.NotNil(t, rows[1].VsDirect)
	assert.InDelta(t, 0.5, *rows[1].VsDirect, 1e-9)
	assert.Nil(t, rows[1].VsProxy, "no proxy ran")
	assert.Nil(t, rows[1].CPUVsProxy, "no proxy ran")
	assert.InDelta(t, 500, rows[1].RPS, 1e-9, "median of the rounds")
	assert.InDelta(t, 20, rows[1].CPUusPerRq, 1e-9, "median of the rounds")

	sc[1].vsProxy = "direct" // the CPU ratio to a baseline that ran
	rows = summarise(sc, rounds).rows()
	require.NotNil(t, rows[1].CPUVsProxy)
	assert.InDelta(t, 2, *rows[1].CPUVsProxy, 1e-9, "median of 2, 3 and 1.5")
}

func TestRotate(t *testing.T) {
	s := []string{"a", "b", "c"}
	assert.Equal(t, []string{"a", "b", "c"}, rotate(s, 0))
	assert.Equal(t, []string{"b", "c", "a"}, rotate(s, 1))
	assert.Equal(t, []string{"c", "a", "b"}, rotate(s, 5))
	assert.Equal(t, []string{"a", "b", "c"}, s, "the input is left alone")
}

// TestUpstreamReplays checks the upstream's answers: the fakes' body for
// a known path, the same bytes again and delayed, the fakes' not-found
// for an unknown id, and refusals of a bad delay and of anything but GET.
func TestUpstreamReplays(t *testing.T) {
	u, err := newUpstream()
	require.NoError(t, err)
	get := func(path string) *httptest.ResponseRecorder { return serveOnce(u, http.MethodGet, path) }
	first := get("/catalog/products/p-0001")
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	var p domain.Product
	require.NoError(t, json.Unmarshal(first.Body.Bytes(), &p))
	assert.Equal(t, "p-0001", p.ID)
	assert.Equal(t, first.Body.String(), get("/catalog/products/p-0001").Body.String())
	assert.Equal(t, first.Body.String(), get("/d/1ms/catalog/products/p-0001").Body.String())
	assert.Equal(t, http.StatusNotFound, get("/catalog/products/p-9999").Code)
	assert.Equal(t, http.StatusBadRequest, get("/d/forever/catalog/products/p-0001").Code)
	assert.Equal(t, http.StatusMethodNotAllowed, serveOnce(u, http.MethodPost, "/orders/orders").Code)
}

func serveOnce(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

// TestFanoutMakesTheGatewaysCalls checks that the fan-out reference asks
// the upstream what the gateways ask: the same first stage, then one
// catalog call for every product of the orders and recommendations (home)
// or of the similar products (product page) and one pricing call for the
// recommended or similar ones, with the query the gateways' clients encode.
func TestFanoutMakesTheGatewaysCalls(t *testing.T) {
	u, err := newUpstream()
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		asked []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RequestURI())
		mu.Unlock()
		u.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	get := func(path string, out any) {
		t.Helper()
		require.NoError(t, json.Unmarshal(serveOnce(u, http.MethodGet, path).Body.Bytes(), out))
	}

	var orders domain.OrderList
	get("/orders/users/u-001/orders?limit=5", &orders)
	var recs, similar domain.RecommendationList
	get("/recommendations/users/u-001/recommendations?limit=10", &recs)
	get("/recommendations/products/p-0001/similar?limit=8", &similar)
	var homeProducts, recIDs, similarIDs []string
	for _, o := range orders.Items {
		for _, it := range o.Items {
			homeProducts = appendNew(homeProducts, it.ProductID)
		}
	}
	for _, r := range recs.Items {
		recIDs = append(recIDs, r.ProductID)
		homeProducts = appendNew(homeProducts, r.ProductID)
	}
	for _, r := range similar.Items {
		similarIDs = append(similarIDs, r.ProductID)
	}
	require.Len(t, orders.Items, 5)
	require.Len(t, recIDs, 10)
	require.Len(t, similarIDs, 8)

	tests := []struct {
		shape string
		want  []string
	}{
		{shape: "home", want: []string{
			"/users/users/u-001", "/notifications/users/u-001/unread-count", "/payments/users/u-001/balance",
			"/orders/users/u-001/orders?limit=5", "/recommendations/users/u-001/recommendations?limit=10",
			"/catalog/products?ids=" + strings.Join(homeProducts, "%2C"),
			"/pricing/prices?currency=USD&ids=" + strings.Join(recIDs, "%2C"),
		}},
		{shape: "product", want: []string{
			"/catalog/products/p-0001", "/pricing/prices/p-0001?currency=USD", "/inventory/stock/p-0001",
			"/reviews/products/p-0001/reviews?limit=10&page=1", "/recommendations/products/p-0001/similar?limit=8",
			"/catalog/products?ids=" + strings.Join(similarIDs, "%2C"),
			"/pricing/prices?currency=USD&ids=" + strings.Join(similarIDs, "%2C"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.shape, func(t *testing.T) {
			mu.Lock()
			asked = nil
			mu.Unlock()
			f := &fanout{base: srv.URL, shape: shapes[tt.shape], client: srv.Client()}
			w := serveOnce(f, http.MethodGet, "/")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			mu.Lock()
			defer mu.Unlock()
			assert.ElementsMatch(t, tt.want, asked)
		})
	}
}

// TestLoadSortsAnswers runs the open-loop generator against a real server
// that serves every other request, sheds the rest with 503 and
// Retry-After, and never answers one path: every arrival is counted once,
// in the class its answer falls in.
func TestLoadSortsAnswers(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stuck" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		if n.Add(1)%2 == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	spec := loadSpec{header: http.Header{"X-Test": {"1"}}, rate: 200, duration: 300 * time.Millisecond,
		timeout: 5 * time.Second, maxInFlight: 1000, connections: 4}

	spec.url = srv.URL + "/"
	r := load(t.Context(), spec)
	assert.Positive(t, r.Arrivals)
	assert.Equal(t, r.Arrivals, r.Sent, "every arrival was sent")
	assert.Equal(t, r.Sent, r.Admitted+r.Shed, "every answer is a 200 or a 503:\n%+v", r)
	assert.InDelta(t, r.Admitted, r.Shed, 1, "every other request is shed")
	assert.True(t, r.RetryAfter, "the sheds carried Retry-After")
	assert.Zero(t, r.Timeouts+r.Unsent+r.Transport)

	// One connection that never answers: the first arrival times out
	// on it, and the others time out waiting for it (or are unsent once
	// the queue is full) without being sent.
	spec.url, spec.connections, spec.maxInFlight, spec.timeout = srv.URL+"/stuck", 1, 10, 50*time.Millisecond
	r = load(t.Context(), spec)
	assert.Zero(t, r.Admitted+r.Shed)
	assert.Positive(t, r.Timeouts)
	assert.Equal(t, r.Arrivals, r.Timeouts+r.Unsent, "every arrival timed out or found the queue full:\n%+v", r)
}

// TestOverloadSummary checks one mode's row of the overload report:
// medians of the rounds, the p99 ratio taken within each round, counts
// summed, and a table whose rows have as many cells as its header.
func TestOverloadSummary(t *testing.T) {
	round := func(sat float64, unP99, p99 float64, admitted, shed, timeouts int) overloadRound {
		return overloadRound{SaturatingRPS: sat, Rate: int(2 * sat),
			Pass:       wrkResult{Requests: 1000, DurationUs: 1e6, P99us: 5000},
			Unloaded:   loadResult{Seconds: 1, Admitted: 100, P99us: unP99},
			Overloaded: loadResult{Seconds: 1, Admitted: admitted, Shed: shed, Timeouts: timeouts, P99us: p99, ShedP99us: 900, RetryAfter: true}}
	}
	m := summariseOverload("adaptive", []overloadRound{
		round(1000, 1000, 2000, 500, 1500, 0), // 2x
		round(500, 4000, 4000, 200, 800, 3),   // 1x: a slow round for both
		round(1000, 1000, 3000, 600, 1400, 0), // 3x
	})
	assert.InDelta(t, 2, m.Ratio, 1e-9, "the median of per-round ratios")
	assert.InDelta(t, 1000, m.UnloadedP99us, 1e-9)
	assert.InDelta(t, 500, m.AdmittedRPS, 1e-9)
	assert.InDelta(t, 0.5, m.AdmittedShare, 1e-9)
	assert.Equal(t, 3700, m.Shed)
	assert.Equal(t, 3, m.Timeouts)
	assert.True(t, m.RetryAfter)

	var b bytes.Buffer
	writeOverload(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, &overloadReport{SaturatingRPS: 1000, Rate: 2000, PassClients: 32,
		Modes: []overloadMode{summariseOverload("off", []overloadRound{round(1000, 1000, 90000, 900, 0, 4000)}), m}})
	var tables [][]string
	for block := range strings.SplitSeq(b.String(), "\n\n") {
		if strings.HasPrefix(block, "| ") {
			tables = append(tables, strings.Split(strings.TrimSpace(block), "\n"))
		}
	}
	require.Len(t, tables, 2, b.String())
	for _, table := range tables {
		require.Len(t, table, 4, "header, rule, off and adaptive")
		for _, line := range table {
			assert.Equal(t, strings.Count(table[0], "|"), strings.Count(line, "|"), line)
		}
	}
	assert.Contains(t, tables[0][3], "| adaptive | 1.00 ms | 0 | 500 | 50 % |")
}
