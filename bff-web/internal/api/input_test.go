package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-web/internal/api"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
)

// TestCatalogQueryErrors checks that each bad catalog parameter is listed
// under `errors` as {in: query, path: <name>, message}, before any call to
// the domain services.
func TestCatalogQueryErrors(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	clients, err := services.New(services.DefaultConfig(base), upstream.Options{})
	require.NoError(t, err)
	a, err := api.New(api.Config{Clients: clients})
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	require.NoError(t, route.Register(e, route.Chains{api.CatalogPolicy: nil, api.ProductPolicy: nil, api.PersonalPolicy: nil}, a.Routes()))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tests := []struct {
		name         string
		query        string
		expectErrors string
	}{
		{name: "nok, page zero", query: "page=0",
			expectErrors: `[{"in":"query","path":"page","message":"must be an integer within 1..1000"}]`},
		{name: "nok, page size above the cap", query: "pageSize=500",
			expectErrors: `[{"in":"query","path":"pageSize","message":"must be an integer within 1..50"}]`},
		{name: "nok, category with a slash", query: "category=a/b",
			expectErrors: `[{"in":"query","path":"category","message":"must be 1-64 characters of A-Z a-z 0-9 . _ -"}]`},
		{name: "nok, query too long", query: "q=" + strings.Repeat("a", 201),
			expectErrors: `[{"in":"query","path":"q","message":"must be at most 200 characters of text"}]`},
		{name: "nok, parameter given twice and another bad one", query: "page=1&page=2&pageSize=0",
			expectErrors: `[{"in":"query","path":"page","message":"must be given at most once"},{"in":"query","path":"pageSize","message":"must be an integer within 1..50"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := http.Get(srv.URL + "/v1/catalog?" + tt.query)
			require.NoError(t, err)
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusBadRequest, res.StatusCode, string(b))
			var p struct {
				Error  string          `json:"error"`
				Errors json.RawMessage `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(b, &p))
			assert.Equal(t, "validation_failed", p.Error)
			assert.JSONEq(t, tt.expectErrors, string(p.Errors))
		})
	}
	t.Cleanup(func() { assert.Zero(t, f.Requests(domain.ServiceCatalog), "bad input never reaches the catalog") })
}
