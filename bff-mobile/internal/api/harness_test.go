package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/api"
	"github.com/shopfront/bff-mobile/internal/compress"
	"github.com/shopfront/bff-mobile/internal/conditional"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/contracts/public"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
)

// gateway is the mobile API behind its route middleware (request id,
// compression, JWT, revalidation) on a real socket, in front of fresh fakes.
type gateway struct {
	fakes *fakes.Fakes
	base  string // the fakes' base URL
	url   string // the gateway's base URL
}

func start(t testing.TB) *gateway {
	t.Helper()
	f, base := fakestest.Start(t)
	return startWith(t, f, base, services.DefaultConfig(base))
}

func startWith(t testing.TB, f *fakes.Fakes, base string, cfg services.Config) *gateway {
	t.Helper()
	return startLogged(t, f, base, cfg, zap.NewNop())
}

func startLogged(t testing.TB, f *fakes.Fakes, base string, cfg services.Config, log *zap.Logger) *gateway {
	t.Helper()
	clients, err := services.New(cfg, upstream.Options{})
	require.NoError(t, err)
	a, err := api.New(api.Config{Clients: clients, Logger: log})
	require.NoError(t, err)
	v, err := jwtauth.NewVerifier(t.Context(), jwtauth.VerifierConfig{
		JWKSURL: base + "/identity/.well-known/jwks.json", Issuer: "shopfront-identity",
		Audience: "shopfront-mobile", Client: auth.ClientMobile,
	})
	require.NoError(t, err)
	rid, err := requestid.Config{}.ToMiddleware()
	require.NoError(t, err)
	gz, err := compress.Config{}.ToMiddleware()
	require.NoError(t, err)
	authn, err := jwtauth.Config{Verifier: v}.ToMiddleware()
	require.NoError(t, err)
	cond, err := conditional.Config{}.ToMiddleware()
	require.NoError(t, err)

	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{})
	e.Use(rid)
	require.NoError(t, route.Register(e, route.Chains{api.AuthenticatedPolicy: {gz, authn, cond}}, a.Routes()))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &gateway{fakes: f, base: base, url: srv.URL}
}

func (g *gateway) token(t testing.TB, user string) string {
	t.Helper()
	return fakestest.UserToken(t, g.fakes, user, "mobile")
}

// reply is a response with its body read and, when gzipped, decoded.
type reply struct {
	*http.Response
	body []byte // as decoded
	wire int    // bytes on the wire
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (g *gateway) do(t testing.TB, method, path, token string, body string, hdr map[string]string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.url+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := reply{Response: res, body: raw, wire: len(raw)}
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		out.body, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	validate(t, req, out)
	return out
}

var router = func() routers.Router {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(public.Mobile())
	if err != nil {
		panic(err)
	}
	// The document's server is relative ("/"); the router matches any host
	// without one.
	doc.Servers = nil
	r, err := legacy.NewRouter(doc)
	if err != nil {
		panic(err)
	}
	return r
}()

// validate checks the response against contracts/public/mobile.yaml: status
// declared, headers and body matching their schemas.
func validate(t testing.TB, req *http.Request, r reply) {
	t.Helper()
	route, params, err := router.FindRoute(req)
	require.NoError(t, err, "%s %s is not in mobile.yaml", req.Method, req.URL.Path)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  r.StatusCode,
		Header:  r.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.body)
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), in), "%s %s -> %d %s", req.Method, req.URL, r.StatusCode, r.body)
}
