package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/bff-mobile/internal/app"
	"github.com/shopfront/bff-mobile/internal/compress"
	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// longID is a valid request id of the longest kind a client may send: it
// takes every problem past the 256 bytes above which mobile gzips.
var longID = strings.Repeat("r", 128)

// TestMobileProblemsGzipped sends requests failing at every layer with a
// long request id and gzip accepted: each problem, larger than 256 bytes,
// arrives gzipped, and the access log and metrics record the status sent.
// A small problem is sent as it is.
func TestMobileProblemsGzipped(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, nil)))
	require.NoError(t, err)
	core, logs := observer.New(zap.InfoLevel)
	a, _ := gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.New(core)) })
	gatewaytest.WaitReady(t, a.AdminAddr())
	url := "http://" + a.Addr()
	tok := fakestest.UserToken(t, f, "u-020", "mobile")

	tests := []struct {
		name         string
		method, path string
		token, body  string
		id           string
		expectStatus int
		expectCode   string
		expectGzip   bool
	}{
		{name: "ok, missing token", method: http.MethodGet, path: "/v1/home", id: longID + "1",
			expectStatus: 401, expectCode: "unauthorized", expectGzip: true},
		{name: "ok, bad query", method: http.MethodGet, path: "/v1/search?q=", token: tok, id: longID + "2",
			expectStatus: 400, expectCode: "validation_failed", expectGzip: true},
		{name: "ok, bad body", method: http.MethodPut, path: "/v1/cart/items/p-0001", token: tok, body: `{"quantity":"2"}`, id: longID + "3",
			expectStatus: 400, expectCode: "validation_failed", expectGzip: true},
		{name: "ok, unknown product", method: http.MethodGet, path: "/v1/products/p-9999", token: tok, id: longID + "4",
			expectStatus: 404, expectCode: "not_found", expectGzip: true},
		{name: "ok, unknown route", method: http.MethodGet, path: "/v1/nothing", token: tok, id: longID + "5",
			expectStatus: 404, expectCode: "not_found", expectGzip: true},
		{name: "ok, wrong method", method: http.MethodPost, path: "/v1/home", token: tok, id: longID + "6",
			expectStatus: 405, expectCode: "method_not_allowed", expectGzip: true},
		{name: "nok, small problem is sent as it is", method: http.MethodGet, path: "/v1/orders/o-99999", token: tok, id: "short-7",
			expectStatus: 404, expectCode: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Sequential: the log lines are read per request.
			id := strings.TrimPrefix(tt.id, longID)
			if len(tt.id) > 128 {
				id = tt.id[:128-len(id)] + id
			}
			r := call(t, tt.method, url+tt.path, tt.token, tt.body, map[string]string{"Accept-Encoding": "gzip", "X-Request-Id": id})
			assert.Equal(t, tt.expectStatus, r.StatusCode, string(r.body))
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
			assert.Equal(t, id, r.Header.Get("X-Request-Id"))
			assert.Contains(t, r.Header.Values("Vary"), "Accept-Encoding")
			if tt.expectGzip {
				assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
				assert.Greater(t, len(r.body), 256)
				assert.Less(t, r.wire, len(r.body))
			} else {
				assert.Empty(t, r.Header.Get("Content-Encoding"))
				assert.LessOrEqual(t, len(r.body), 256)
			}
			var p map[string]any
			require.NoError(t, json.Unmarshal(r.body, &p))
			assert.Equal(t, tt.expectCode, p["error"])
			assert.Equal(t, id, p["requestId"])

			lines := logs.FilterMessage("request").FilterField(zap.String("requestId", id)).All()
			require.Len(t, lines, 1, "one access line")
			assert.EqualValues(t, tt.expectStatus, lines[0].ContextMap()["status"])
			assert.Equal(t, tt.expectCode, lines[0].ContextMap()["error"])
		})
	}

	res, err := http.Get("http://" + a.AdminAddr() + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Regexp(t, `shopfront_http_requests_total\{[^}]*route="/v1/home"[^}]*status="401"[^}]*\} 1`, string(b))
	assert.Regexp(t, `shopfront_http_requests_total\{[^}]*route="/v1/search"[^}]*status="400"[^}]*\} 1`, string(b))
}

// TestMobileETagPerCoding revalidates a screen through the whole gateway:
// the gzipped and the identity body carry different strong tags, and either
// tag answers 304 with the tag the client named.
func TestMobileETagPerCoding(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	tok := fakestest.UserToken(t, s.fakes, "u-005", "mobile")
	gz := call(t, http.MethodGet, s.url+"/v1/home", tok, "", map[string]string{"Accept-Encoding": "gzip"})
	plain := call(t, http.MethodGet, s.url+"/v1/home", tok, "", nil)
	require.Equal(t, http.StatusOK, gz.StatusCode)
	require.Equal(t, http.StatusOK, plain.StatusCode)
	require.Equal(t, "gzip", gz.Header.Get("Content-Encoding"))
	require.Equal(t, string(plain.body), string(gz.body), "one content")
	gzTag, plainTag := gz.Header.Get("ETag"), plain.Header.Get("ETag")
	assert.Regexp(t, `^"[^"]+"$`, plainTag, "a strong tag")
	assert.Equal(t, strings.TrimSuffix(plainTag, `"`)+compress.ETagSuffix+`"`, gzTag, "strong tags differ per coding")

	for _, tt := range []struct {
		name, given, acceptEncoding string
	}{
		{name: "ok, gzip tag from a gzip client", given: gzTag, acceptEncoding: "gzip"},
		{name: "ok, identity tag from a gzip client", given: plainTag, acceptEncoding: "gzip"},
		{name: "ok, gzip tag from an identity client", given: gzTag},
		{name: "ok, identity tag from an identity client", given: plainTag},
	} {
		hdr := map[string]string{"If-None-Match": tt.given}
		if tt.acceptEncoding != "" {
			hdr["Accept-Encoding"] = tt.acceptEncoding
		}
		r := call(t, http.MethodGet, s.url+"/v1/home", tok, "", hdr)
		assert.Equal(t, http.StatusNotModified, r.StatusCode, tt.name)
		assert.Empty(t, r.body, tt.name)
		assert.Equal(t, tt.given, r.Header.Get("ETag"), tt.name)
		assert.Equal(t, "private, max-age=60", r.Header.Get("Cache-Control"), tt.name)
	}
}

// TestMobileDegradedNotRevalidated: a degraded screen is no-store, so it
// carries no ETag and is answered in full even to If-None-Match: * or the
// tag of the healthy screen.
func TestMobileDegradedNotRevalidated(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	tok := fakestest.UserToken(t, s.fakes, "u-006", "mobile")
	healthy := call(t, http.MethodGet, s.url+"/v1/home", tok, "", map[string]string{"Accept-Encoding": "gzip"})
	require.Equal(t, http.StatusOK, healthy.StatusCode)
	require.NotEmpty(t, healthy.Header.Get("ETag"))

	require.NoError(t, s.fakes.SetFault(domain.ServiceRecommendations, domain.Fault{ErrorRate: 1}))
	for _, inm := range []string{"", "*", healthy.Header.Get("ETag")} {
		hdr := map[string]string{"Accept-Encoding": "gzip"}
		if inm != "" {
			hdr["If-None-Match"] = inm
		}
		r := call(t, http.MethodGet, s.url+"/v1/home", tok, "", hdr)
		require.Equal(t, http.StatusOK, r.StatusCode, "If-None-Match %s", inm)
		assert.Contains(t, string(r.body), `"degraded":["recommendations"]`)
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		assert.Empty(t, r.Header.Get("ETag"), "a degraded screen is never revalidated")
	}
}
