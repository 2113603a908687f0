package idempotency_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/idempotency"
	"github.com/shopfront/shared/edge/problem"
)

// TestOutcomesAreCounted shows an operator what became of keyed requests:
// a first order, its replay and a reused key each move their own series,
// and every series exists from the start, so alerts on them never see an
// absent metric.
func TestOutcomesAreCounted(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	require.NoError(t, err)
	mw, err := idempotency.Config{
		Store:    store,
		Scope:    func(echo.Context) (string, error) { return "acme", nil },
		Registry: reg,
	}.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.POST("/v2/orders", func(c echo.Context) error { return c.JSON(http.StatusCreated, map[string]string{"id": "o-1"}) }, mw)
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	srv := ts.URL

	count := func(result string) float64 {
		n, err := testutil.GatherAndCount(reg, "shopfront_idempotency_requests_total")
		require.NoError(t, err)
		require.Equal(t, len(idempotency.Outcomes()), n, "every result is exported from the start")
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
		return -1
	}
	assert.Zero(t, count("new"))
	require.Equal(t, http.StatusCreated, post(t, srv, "acme", "k-1", order).status)
	require.Equal(t, http.StatusCreated, post(t, srv, "acme", "k-1", order).status)
	require.Equal(t, http.StatusUnprocessableEntity,
		post(t, srv, "acme", "k-1", `{"items":[{"productId":"p-1","quantity":3}],"currency":"USD"}`).status)
	assert.Equal(t, 1.0, count("new"))
	assert.Equal(t, 1.0, count("replayed"))
	assert.Equal(t, 1.0, count("reused"))
	assert.Zero(t, count("store_unavailable"))
}
