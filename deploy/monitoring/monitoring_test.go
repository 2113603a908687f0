package monitoring_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/deploy/monitoring"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

var (
	alertsFile     = filepath.Join("..", "prometheus", "alerts.yaml")
	ruleFile       = filepath.Join("..", "k8s", "base", "prometheusrule.yaml")
	dashboardFile  = filepath.Join("..", "grafana", "shopfront.json")
	externalSeries = []string{
		"up",                    // Prometheus itself, per target
		"kube_pod_status_ready", // kube-state-metrics, Kubernetes only
	}
)

// TestPrometheusRuleMatchesAlerts keeps the PrometheusRule of the
// Kubernetes base and the rule file of docker compose the same rules.
func TestPrometheusRuleMatchesAlerts(t *testing.T) {
	t.Parallel()
	var file monitoringv1.PrometheusRuleSpec
	b, err := os.ReadFile(alertsFile)
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(b, &file))
	var rule monitoringv1.PrometheusRule
	b, err = os.ReadFile(ruleFile)
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(b, &rule))
	require.NotEmpty(t, file.Groups)
	assert.Equal(t, file, rule.Spec)
}

func TestRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string
		expectErr string
	}{
		{name: "ok, the shopfront rules", file: alertsFile},
		{name: "nok, unparsable expression", file: "bad-expr.yaml", expectErr: "unclosed left parenthesis"},
		{name: "nok, unknown field", file: "unknown-field.yaml", expectErr: "field fro not found"},
		{name: "nok, metric no gateway serves", file: "unknown-metric.yaml", expectErr: "metric shopfront_http_request_total is not served"},
		{name: "nok, selector without a metric", file: "no-metric-name.yaml", expectErr: "names no metric"},
	}
	served := map[string]bool{"shopfront_http_requests_total": true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.file
			if !strings.Contains(path, string(filepath.Separator)) {
				path = filepath.Join("..", "testdata", "monitoring", path)
			}
			_, exprs, err := monitoring.Rules(path)
			if err == nil && tt.expectErr != "" {
				err = monitoring.Missing(exprs, served, externalSeries)
			}
			if tt.expectErr == "" {
				require.NoError(t, err)
				assert.NotEmpty(t, exprs)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.expectErr)
		})
	}
}

func TestDashboardParses(t *testing.T) {
	t.Parallel()
	exprs, err := monitoring.DashboardExprs(dashboardFile)
	require.NoError(t, err)
	require.NotEmpty(t, exprs)
	for _, e := range exprs {
		_, err := monitoring.Metrics(e.Query)
		assert.NoError(t, err, "%s: %s", e.Source, e.Query)
	}
}

// TestMetricsExistOnGateways boots the three real gateway binaries against
// the fakes, sends each a request of every kind the dashboard and alerts
// watch (an aggregate with a failing optional source, a cache miss and hit,
// a partner read), scrapes their admin /metrics and checks that every
// metric the alerts and the dashboard use is among the samples.
func TestMetricsExistOnGateways(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	// Recommendations answer 503: mobile's home retries and degrades.
	require.NoError(t, f.SetFault(domain.ServiceRecommendations, domain.Fault{Status: http.StatusServiceUnavailable}))
	type request struct {
		path   string
		header http.Header
	}
	gateways := []struct {
		name     string
		env      []string
		requests []request
	}{
		// The concurrency limit, off by default, exports the metric
		// ShopfrontShedding watches.
		{name: "bff-mobile", env: []string{"BFF_OVERLOAD=adaptive"}, requests: []request{
			{path: "/v1/home", header: bearer(fakestest.UserToken(t, f, "u-001", "mobile"))},
			{path: "/v1/search?q=a"},
		}},
		{name: "bff-web", requests: []request{{path: "/v1/catalog"}, {path: "/v1/catalog"}}},
		{name: "bff-partner",
			env: []string{"BFF_PARTNER_KEYS_FILE=" + edgetest.TempFile(t, "keys.yaml", "partners: []\n")},
			requests: []request{
				{path: "/v2/products/p-0001", header: bearer(fakestest.PartnerToken(t, f, "acme", string(auth.ScopeCatalogRead)))},
			}},
	}
	var mu sync.Mutex
	served := map[string]bool{}
	t.Run("boot", func(t *testing.T) {
		for _, g := range gateways {
			t.Run(g.name, func(t *testing.T) {
				t.Parallel()
				bin := gatewaytest.Build(t, g.name, filepath.Join("..", "..", g.name, "cmd", g.name))
				p := gatewaytest.Start(t, bin, base, g.env...)
				for _, r := range g.requests {
					req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+p.Addr+r.path, nil)
					require.NoError(t, err)
					for k, v := range r.header {
						req.Header[k] = v
					}
					res, err := http.DefaultClient.Do(req)
					require.NoError(t, err)
					_, _ = io.Copy(io.Discard, res.Body)
					require.NoError(t, res.Body.Close())
					assert.Less(t, res.StatusCode, 500, "%s %s", g.name, r.path)
				}
				names := scrape(t, "http://"+p.AdminAddr+"/metrics")
				mu.Lock()
				defer mu.Unlock()
				for n := range names {
					served[n] = true
				}
			})
		}
	})
	_, rules, err := monitoring.Rules(alertsFile)
	require.NoError(t, err)
	panels, err := monitoring.DashboardExprs(dashboardFile)
	require.NoError(t, err)
	assert.NoError(t, monitoring.Missing(append(rules, panels...), served, externalSeries))
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// scrape returns the sample names of a Prometheus text exposition.
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	names := map[string]bool{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	require.NoError(t, sc.Err())
	return names
}
