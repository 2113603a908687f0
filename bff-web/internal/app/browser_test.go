package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
)

// spaPage is a minimal single-page app: run(gateway) signs in with
// credentials:'include', reads the account page, edits the cart with the
// CSRF header taken from document.cookie, and reports what it saw.
const spaPage = `<!doctype html><html><head><meta charset="utf-8"><title>Shopfront</title></head><body><script>
async function signInAndRead(gw) {
  const out = {};
  const login = await fetch(gw + '/v1/session', {method: 'POST', credentials: 'include',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({username: 'alice', password: 'shopfront'})});
  out.login = login.status;
  out.cookies = document.cookie;
  const csrf = (document.cookie.split('; ').find(c => c.startsWith('sf_csrf=')) || '').slice(8);
  const account = await fetch(gw + '/v1/pages/account', {credentials: 'include'});
  out.account = account.status;
  out.accountBody = await account.json();
  const forged = await fetch(gw + '/v1/cart/items/p-0005', {method: 'PUT', credentials: 'include',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({quantity: 1})});
  out.withoutCSRF = forged.status;
  const cart = await fetch(gw + '/v1/cart/items/p-0005', {method: 'PUT', credentials: 'include',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify({quantity: 1})});
  out.withCSRF = cart.status;
  out.requestId = account.headers.get('X-Request-Id');
  return JSON.stringify(out);
}
async function tryRead(gw) {
  const out = {};
  for (const [name, init] of [
    ['catalog', {credentials: 'include'}],
    ['account', {credentials: 'include'}],
    ['login', {method: 'POST', credentials: 'include', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({username: 'alice', password: 'shopfront'})}],
  ]) {
    const path = {catalog: '/v1/catalog', account: '/v1/pages/account', login: '/v1/session'}[name];
    try {
      const r = await fetch(gw + path, init);
      out[name] = 'read ' + r.status + ' ' + (await r.text()).slice(0, 40);
    } catch (e) {
      out[name] = 'rejected ' + e.name;
    }
  }
  return JSON.stringify(out);
}
</script></body></html>`

func servePage(t *testing.T) string {
	t.Helper()
	return serveHTML(t, spaPage)
}

// serveHTML serves page at every path of a new origin and returns it.
func serveHTML(t *testing.T, page string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := edgetest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	// The first run starts the browser, which lives as long as bctx.
	require.NoError(t, chromedp.Do(bctx), "starting chromium")
	return bctx
}

// visit opens url and returns the string the async expression resolves to.
func visit(t *testing.T, ctx context.Context, url, expr string) string {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url)))
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	return out
}

// TestBrowser drives headless Chromium: a page on an allowed origin signs in
// with credentials:'include' and reads the account page; a page on another
// origin cannot read any response. Both pages and the gateway are on
// 127.0.0.1, different ports: cross-origin but same-site, so the SameSite=Lax
// cookies travel with the allowed page's requests.
func TestBrowser(t *testing.T) {
	allowed, other := servePage(t), servePage(t)
	w := bootWeb(t, webOptions{env: map[string]string{"BFF_CORS_ORIGINS": allowed, "BFF_TRUSTED_PROXIES": ""}})
	ctx := newBrowser(t)

	raw := visit(t, ctx, allowed, fmt.Sprintf("signInAndRead(%q)", w.url))
	var got struct {
		Login       int      `json:"login"`
		Cookies     string   `json:"cookies"`
		Account     int      `json:"account"`
		AccountBody *webPage `json:"accountBody"`
		WithoutCSRF int      `json:"withoutCSRF"`
		WithCSRF    int      `json:"withCSRF"`
		RequestID   string   `json:"requestId"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &got), raw)
	assert.Equal(t, http.StatusNoContent, got.Login)
	assert.Contains(t, got.Cookies, "sf_csrf=", "scripts read the CSRF cookie")
	assert.NotContains(t, got.Cookies, "sf_session", "scripts never see the session token")
	assert.Equal(t, http.StatusOK, got.Account)
	require.NotNil(t, got.AccountBody)
	assert.Equal(t, "u-001", got.AccountBody.User.ID)
	assert.Equal(t, http.StatusForbidden, got.WithoutCSRF)
	assert.Equal(t, http.StatusOK, got.WithCSRF)
	assert.NotEmpty(t, got.RequestID, "exposed headers are readable")

	// Another origin: the browser refuses every response to the script,
	// though the same cookies exist in the browser.
	raw = visit(t, ctx, other, fmt.Sprintf("tryRead(%q)", w.url))
	var refused map[string]string
	require.NoError(t, json.Unmarshal([]byte(raw), &refused), raw)
	assert.Equal(t, map[string]string{"catalog": "rejected TypeError", "account": "rejected TypeError", "login": "rejected TypeError"}, refused)
}
