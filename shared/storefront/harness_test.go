package storefront_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/degraded"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
	"github.com/shopfront/shared/storefront"
)

// shop is the storefront routes behind request ids and real JWT
// verification (keys from the fakes' JWKS) on a loopback socket, in front
// of fresh fakes of the domain services.
type shop struct {
	fakes    *fakes.Fakes
	clients  *services.Clients
	url      string
	logs     *observer.ObservedLogs
	degraded *prometheus.CounterVec
}

// boot serves the routes configured by cfg; Clients, Logger and Degraded
// are filled in when cfg leaves them empty.
func boot(t *testing.T, cfg storefront.Config) *shop {
	t.Helper()
	f, base := fakestest.Start(t)
	core, logs := observer.New(zap.WarnLevel)
	// The clients log to the routes' logger, as in a gateway, so tests see
	// every line one failure makes.
	clients, err := services.New(services.DefaultConfig(base), upstream.Options{Logger: zap.New(core)})
	require.NoError(t, err)
	if cfg.Clients == nil {
		cfg.Clients = clients
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.New(core)
	}
	if cfg.Degraded == nil {
		cfg.Degraded = degraded.Sections()
	}
	routes, err := storefront.New(cfg)
	require.NoError(t, err)

	verifier, err := jwtauth.NewVerifier(t.Context(), jwtauth.VerifierConfig{
		JWKSURL: base + "/identity/.well-known/jwks.json", Issuer: "shopfront-identity",
		Audience: "shopfront-web", Client: auth.ClientWeb,
	})
	require.NoError(t, err)
	built := func(mw echo.MiddlewareFunc, err error) echo.MiddlewareFunc {
		require.NoError(t, err)
		return mw
	}
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{})
	e.Use(built(requestid.Config{}.ToMiddleware()))
	require.NoError(t, route.Register(e, route.Chains{"personal": {built(jwtauth.Config{Verifier: verifier}.ToMiddleware())}},
		routes.Routes("personal")))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &shop{fakes: f, clients: clients, url: srv.URL, logs: logs, degraded: cfg.Degraded}
}

// answer is one response, its body read.
type answer struct {
	status int
	header http.Header
	body   string
}

// object decodes the body as a JSON object.
func (a answer) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(a.body), &m), a.body)
	return m
}

// request is one call to the shop: as user (a fakes user id, "" for no
// token), with an optional JSON body, extra headers and Idempotency-Key
// values (each one a field of its own).
type request struct {
	method, path, user, body string
	header                   map[string]string
	keys                     []string
}

func (s *shop) call(t *testing.T, r request) answer {
	t.Helper()
	req, err := http.NewRequest(r.method, s.url+r.path, strings.NewReader(r.body))
	require.NoError(t, err)
	if r.user != "" {
		req.Header.Set("Authorization", "Bearer "+fakestest.UserToken(t, s.fakes, r.user, "web"))
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	for _, k := range r.keys {
		req.Header.Add("Idempotency-Key", k)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// cartLine returns the line of productID in a cart answer, or nil.
func cartLine(t *testing.T, cart map[string]any, productID string) map[string]any {
	t.Helper()
	items, ok := cart["items"].([]any)
	require.True(t, ok, "items is a list: %v", cart)
	for _, it := range items {
		if l := it.(map[string]any); l["productId"] == productID {
			return l
		}
	}
	return nil
}
