package services_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"

	"github.com/shopfront/shared/edge/aggregate"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
)

// homeView is a small screen: the user is critical, recommendations are
// optional.
type homeView struct {
	User     *domain.User            `json:"user"`
	Recs     []domain.Recommendation `json:"recommendations"`
	Degraded []string                `json:"degraded"`
}

// startGateway serves GET /home over a real listener the way a gateway
// does: request id, a principal as the JWT middleware would set it, an
// aggregate over the typed clients, errors rendered by problem.Handler.
func startGateway(t *testing.T) (*fakes.Fakes, string) {
	t.Helper()
	f, base := fakestest.Start(t)
	clients, err := services.New(services.DefaultConfig(base), upstream.Options{})
	require.NoError(t, err)

	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	rid, err := requestid.Config{}.ToMiddleware()
	require.NoError(t, err)
	e.Use(rid, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			c.SetRequest(r.WithContext(auth.WithPrincipal(r.Context(), &auth.Principal{
				Subject: "u-001", Roles: []auth.Role{"customer"}, Tenant: "tenant-north", Client: auth.ClientMobile,
			})))
			return next(c)
		}
	})
	e.GET("/home", func(c echo.Context) error {
		var v homeView
		degraded, err := aggregate.Run(c.Request().Context(), 2500*time.Millisecond,
			aggregate.Critical(domain.ServiceUsers, func(ctx context.Context) error {
				u, err := clients.Users.Get(ctx, "u-001")
				v.User = &u
				return err
			}),
			aggregate.Optional(domain.ServiceRecommendations, func(ctx context.Context) (err error) {
				v.Recs, err = clients.Recommendations.ForUser(ctx, "u-001", 3)
				return err
			}),
		)
		if err != nil {
			return err
		}
		v.Degraded = degraded
		return c.JSON(http.StatusOK, v)
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func TestWiring_HomeScreenThroughAGateway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		givenFaults    map[string]domain.Fault
		expectStatus   int
		expectDegraded []string
		expectCode     string
	}{
		{name: "ok, every source answers", expectStatus: 200, expectDegraded: []string{}},
		{
			name:         "ok, failing recommendations degrade the screen",
			givenFaults:  map[string]domain.Fault{domain.ServiceRecommendations: {ErrorRate: 1, Status: 500}},
			expectStatus: 200, expectDegraded: []string{"recommendations"},
		},
		{
			name:         "nok, a crashed users service fails the screen with 502",
			givenFaults:  map[string]domain.Fault{domain.ServiceUsers: {Down: true}},
			expectStatus: 502, expectCode: problem.CodeUpstreamUnavailable,
		},
		{
			name:         "nok, users answering 500 fails the screen with 502 and no upstream body",
			givenFaults:  map[string]domain.Fault{domain.ServiceUsers: {ErrorRate: 1, Status: 500}},
			expectStatus: 502, expectCode: problem.CodeUpstreamUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, url := startGateway(t)
			for svc, fault := range tt.givenFaults {
				require.NoError(t, f.SetFault(svc, fault))
			}
			req, err := http.NewRequest(http.MethodGet, url+"/home", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer caller-token")
			req.Header.Set("Cookie", "sf_session=caller-cookie")
			req.Header.Set("X-API-Key", "caller-key")
			req.Header.Set("X-Request-Id", "home-1")

			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body struct {
				Error     string   `json:"error"`
				RequestID string   `json:"requestId"`
				Detail    string   `json:"detail"`
				Degraded  []string `json:"degraded"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))

			assert.Equal(t, tt.expectStatus, resp.StatusCode)
			if tt.expectCode != "" {
				assert.Equal(t, problem.ContentType, resp.Header.Get("Content-Type"))
				assert.Equal(t, tt.expectCode, body.Error)
				assert.Equal(t, "home-1", body.RequestID)
				assert.Equal(t, problem.ServerDetail(tt.expectCode), body.Detail, "no upstream detail on a 5xx")
			} else {
				assert.Equal(t, tt.expectDegraded, body.Degraded)
			}
			h := f.LastHeaders(domain.ServiceUsers)
			require.NotNil(t, h)
			assert.Equal(t, "u-001", h.Get("X-User-Id"))
			assert.Equal(t, "customer", h.Get("X-User-Roles"))
			assert.Equal(t, "tenant-north", h.Get("X-Tenant-Id"))
			assert.Equal(t, "mobile", h.Get("X-Client"))
			assert.Equal(t, "home-1", h.Get("X-Request-Id"))
			for _, name := range []string{"Authorization", "Cookie", "X-Api-Key"} {
				assert.Empty(t, h.Values(name), name)
			}
		})
	}
}
