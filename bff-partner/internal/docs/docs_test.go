package docs_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-partner/internal/docs"
	"github.com/shopfront/contracts/public"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/route"
)

func newServer(t *testing.T) (*httptest.Server, *docs.Docs) {
	t.Helper()
	d, err := docs.New(docs.Config{Document: public.Partner(), Title: "Shopfront Partner API"})
	require.NoError(t, err)
	e := echo.New()
	require.NoError(t, route.Register(e, nil, d.Routes()))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv, d
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, b
}

// TestOpenAPIJSONIsValidOpenAPI31 loads what /openapi.json serves, not the
// embedded YAML, into kin-openapi and validates it with the 3.1 rules.
func TestOpenAPIJSONIsValidOpenAPI31(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	res, body := get(t, srv.URL+"/openapi.json")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, echo.MIMEApplicationJSON, res.Header.Get("Content-Type"))
	require.True(t, json.Valid(body))
	assert.True(t, strings.HasPrefix(string(body), `{"openapi":"3.1.0"`), "key order of the YAML is kept")

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	require.NoError(t, err)
	assert.True(t, doc.IsOpenAPI31OrLater())
	require.NoError(t, doc.Validate(loader.Context, openapi3.EnableExamplesValidation()))
	assert.True(t, doc.Paths.Value("/v1/products").Get.Deprecated)
	assert.Equal(t, "X-API-Key", doc.Components.SecuritySchemes["apiKey"].Value.Name)
	assert.Len(t, doc.Components.SecuritySchemes["oauth2"].Value.Flows.ClientCredentials.Scopes, 4)

	res, _ = get(t, srv.URL+"/openapi.json", "If-None-Match", res.Header.Get("ETag"))
	assert.Equal(t, http.StatusNotModified, res.StatusCode)
}

// TestTokenURL checks that the served document sends OAuth clients to the
// configured token endpoint, and keeps the document's own by default.
func TestTokenURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		given     docs.Config
		expect    string
		expectErr string
	}{
		{name: "ok, configured token URL", given: docs.Config{Document: public.Partner(), Title: "T",
			TokenURL: "https://auth.shopfront.example/oauth/token"}, expect: "https://auth.shopfront.example/oauth/token"},
		{name: "ok, the document's own by default", given: docs.Config{Document: public.Partner(), Title: "T"},
			expect: "http://127.0.0.1:9000/identity/oauth/token"},
		{name: "nok, document without a client-credentials flow", given: docs.Config{Title: "T", TokenURL: "https://a.example/token",
			Document: []byte("openapi: 3.1.0\ninfo: {title: T, version: '1'}\npaths: {}\n")},
			expectErr: "no OAuth 2.0 clientCredentials flow"},
		{name: "nok, no document", given: docs.Config{Title: "T"}, expectErr: "Document and Title are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := docs.New(tt.given)
			if tt.expectErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.expectErr)
				return
			}
			require.NoError(t, err)
			e := echo.New()
			require.NoError(t, route.Register(e, nil, d.Routes()))
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)
			res, body := get(t, srv.URL+"/openapi.json")
			require.Equal(t, http.StatusOK, res.StatusCode)
			assert.True(t, strings.HasPrefix(string(body), `{"openapi":"3.1.0"`), "key order of the YAML is kept")
			loader := openapi3.NewLoader()
			doc, err := loader.LoadFromData(body)
			require.NoError(t, err)
			require.NoError(t, doc.Validate(loader.Context))
			assert.Equal(t, tt.expect, doc.Components.SecuritySchemes["oauth2"].Value.Flows.ClientCredentials.TokenURL)
		})
	}
}

// TestPageAssetsAreServedByTheBinary checks that every script, style and
// link the page refers to is relative and served here.
func TestPageAssetsAreServedByTheBinary(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	res, page := get(t, srv.URL+"/docs")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'")
	refs := regexp.MustCompile(`(?:src|href|spec-url)="([^"]*)"`).FindAllStringSubmatch(string(page), -1)
	require.Len(t, refs, 2, "the page refers to the bundle and the document")
	for _, m := range refs {
		ref := m[1]
		assert.NotContains(t, ref, "//", "no absolute or protocol-relative URL: %s", ref)
		res, body := get(t, srv.URL+"/"+ref)
		assert.Equal(t, http.StatusOK, res.StatusCode, ref)
		assert.NotEmpty(t, body, ref)
	}
	res, js := get(t, srv.URL+docs.AssetPath)
	assert.Equal(t, "application/javascript; charset=UTF-8", res.Header.Get("Content-Type"))
	assert.Greater(t, len(js), 500_000, "the full Redoc bundle is embedded")
}

// TestPageRendersOffline opens /docs in headless Chromium with every request
// to another origin failed, and waits for Redoc to render the operations.
func TestPageRendersOffline(t *testing.T) {
	t.Parallel()
	browser := edgetest.Chromium(t)
	srv, _ := newServer(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true),
		// Anything that is not loopback goes to a dead proxy: no network.
		chromedp.ProxyServer("http://127.0.0.1:9"),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	var blocked, served []string
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{})
	require.NoError(t, err)
	go func() {
		for e, err := range paused {
			if err != nil {
				return
			}
			url := e.Request.URL
			local := strings.HasPrefix(url, srv.URL+"/") || strings.HasPrefix(url, "blob:") || strings.HasPrefix(url, "data:")
			mu.Lock()
			if local {
				served = append(served, url)
			} else {
				blocked = append(blocked, url)
			}
			mu.Unlock()
			if local {
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
				continue
			}
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: e.RequestID,
				ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}()

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/docs"),
		chromedp.WaitVisible(chromedp.CSS("h2")),
	))
	title, err := chromedp.Run(ctx, chromedp.Title())
	require.NoError(t, err)
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	assert.Equal(t, "Shopfront Partner API", title)
	for _, op := range []string{"List products with prices", "Get one product with its price", "Get the stock of one product",
		"Place an order", "Get one of your orders", "List products (deprecated)"} {
		assert.Contains(t, text, op)
	}
	// The anchors that problems (docs) and the v1 Link header point at.
	anchors, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](
		`["section/Authentication", "tag/Deprecated-v1"].map(id => document.getElementById(id) !== null)`))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true}, anchors)
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, blocked, "the page loads nothing from another origin")
	assert.Contains(t, served, srv.URL+docs.AssetPath)
	assert.Contains(t, served, srv.URL+"/openapi.json")
}
