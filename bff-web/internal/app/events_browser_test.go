package app_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	edgeconfig "github.com/shopfront/shared/edge/config"
)

// eventsPage is the SPA's live events: listen(gw) signs in with
// credentials:'include' and opens an EventSource on the gateway; every
// notification lands in window.got, and window.opens and window.errors
// count the EventSource's open and error events. tryWebSocket(gw) opens
// the WebSocket form and reports what the page saw of it.
const eventsPage = `<!doctype html><html><head><meta charset="utf-8"><title>Shopfront</title></head><body><script>
window.got = []; window.opens = 0; window.errors = 0;
async function listen(gw) {
  const login = await fetch(gw + '/v1/session', {method: 'POST', credentials: 'include',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({username: 'alice', password: 'shopfront'})});
  if (login.status !== 204) return 'sign-in answered ' + login.status;
  const es = new EventSource(gw + '/v1/events', {withCredentials: true});
  window.events = es;
  es.onopen = () => { window.opens++; };
  es.onerror = () => { window.errors++; };
  es.addEventListener('notification', e => window.got.push({id: e.lastEventId, title: JSON.parse(e.data).title}));
  return 'listening';
}
function tryWebSocket(gw) {
  return new Promise(resolve => {
    const seen = [];
    const ws = new WebSocket(gw.replace(/^http/, 'ws') + '/v1/events');
    ws.onopen = () => { seen.push('open'); ws.close(1000); };
    ws.onerror = () => seen.push('error');
    ws.onclose = e => { seen.push('close'); resolve(JSON.stringify(seen)); };
  });
}
</script></body></html>`

// TestBrowserEvents drives headless Chromium through the SPA's live events:
// a page on an allowed origin signs in and opens an EventSource with
// credentials, receives an event published at the notifications service,
// and, when the gateway restarts on the same address, reconnects by itself
// with Last-Event-ID and receives what it missed and what follows, each
// once. Its WebSocket opens; a page on another origin, with the same
// cookies, never gets one open.
func TestBrowserEvents(t *testing.T) {
	allowed, other := serveHTML(t, eventsPage), serveHTML(t, eventsPage)
	env := map[string]string{"BFF_CORS_ORIGINS": allowed, "BFF_TRUSTED_PROXIES": ""}
	w := bootWeb(t, webOptions{env: env})
	ctx := newBrowser(t)

	require.Equal(t, "listening", visit(t, ctx, allowed, fmt.Sprintf("listen(%q)", w.url)))
	// alice of the identity fake is u-001.
	const user = "u-001"
	// waitFor polls the page until expr is true: the page's own events
	// decide, no fixed sleep.
	waitFor := func(expr, what string) {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
		require.NoError(t, err, "waiting until %s", what)
	}
	// The stream is open once the browser saw its headers; the gateway
	// subscribed upstream before sending them.
	waitFor("window.opens === 1", "the EventSource is open")
	first := publish(t, w.fakes, user, "first")
	waitFor("window.got.length === 1", "the first event arrived")

	// Restart: the old instance drains (its streams end with retry: 1000),
	// an event is published while no gateway listens, and a new instance
	// takes the same address.
	w.stop()
	missed := publish(t, w.fakes, user, "missed")
	addr, err := url.Parse(w.url)
	require.NoError(t, err)
	restartEnv := map[string]string{edgeconfig.VarAddr: addr.Host}
	for k, v := range env {
		restartEnv[k] = v
	}
	w2 := bootWeb(t, webOptions{fakes: w.fakes, base: w.base, env: restartEnv})
	require.Equal(t, w.url, w2.url, "the new instance listens where the old one did")

	waitFor("window.opens === 2", "the EventSource reconnected by itself")
	assert.Equal(t, first.ID, w.fakes.LastHeaders(domain.ServiceNotifications).Get("Last-Event-ID"),
		"the reconnection resumed after the last event the page saw")
	after := publish(t, w.fakes, user, "after")
	// Events arrive in order: a duplicate of anything earlier would arrive
	// before the last one.
	waitFor("window.got.some(e => e.title === 'after')", "the event published after the restart arrived")
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string]("JSON.stringify(window.got)"))
	require.NoError(t, err)
	want, _ := json.Marshal([]map[string]string{
		{"id": first.ID, "title": "first"}, {"id": missed.ID, "title": "missed"}, {"id": after.ID, "title": "after"},
	})
	assert.JSONEq(t, string(want), got, "each event once, in order, the missed one included")
	state, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.events.readyState"))
	require.NoError(t, err)
	assert.Equal(t, 1, state, "the EventSource is OPEN")

	// The allowed page's WebSocket opens...
	ws, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("tryWebSocket(%q)", w2.url), chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	assert.Equal(t, `["open","close"]`, ws)
	// ...another origin's never does, though the browser sends it the same
	// session cookie.
	ws = visit(t, ctx, other, fmt.Sprintf("tryWebSocket(%q)", w2.url))
	assert.Equal(t, `["error","close"]`, ws)
}
