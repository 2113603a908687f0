package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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
		{{Scenario: "direct", RPS: 1000}, {Scenario: "gw", RPS: 500}}, // 0.5
		{{Scenario: "gw", RPS: 100}, {Scenario: "direct", RPS: 400}},  // 0.25: a slow round for both
		{{Scenario: "direct", RPS: 1000}, {Scenario: "gw", RPS: 600}}, // 0.6
	}
	rows := summarise(sc, rounds).rows()
	require.Len(t, rows, 2)
	require.NotNil(t, rows[1].VsDirect)
	assert.InDelta(t, 0.5, *rows[1].VsDirect, 1e-9)
	assert.Nil(t, rows[1].VsProxy, "no proxy ran")
	assert.InDelta(t, 500, rows[1].RPS, 1e-9, "median of the rounds")
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
