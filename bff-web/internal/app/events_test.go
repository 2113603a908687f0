package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
)

// sse is one open event stream read line by line.
type sse struct {
	res   *http.Response
	lines chan string
}

// openSSE opens GET /v1/events with header (name, value pairs) and fails
// the test unless it is a 200 event stream.
func openSSE(t *testing.T, url string, header ...string) *sse {
	t.Helper()
	res := getEvents(t, url, header...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	s := &sse{res: res, lines: make(chan string, 1024)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { res.Body.Close() })
	return s
}

func getEvents(t *testing.T, url string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/v1/events", nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return res
}

// next returns the next block (lines up to a blank line), or fails after
// within.
func (s *sse) next(t *testing.T, within time.Duration) []string {
	t.Helper()
	var block []string
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				require.Fail(t, "stream ended", "after %q", block)
			}
			if l == "" {
				return block
			}
			block = append(block, l)
		case <-timeout:
			require.Fail(t, "no event in time", "got %q", block)
		}
	}
}

// ended reports whether the stream ends within d.
func (s *sse) ended(d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case _, ok := <-s.lines:
			if !ok {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

func bearer(t *testing.T, f *fakes.Fakes, user string) []string {
	return []string{"Authorization", "Bearer " + fakestest.UserToken(t, f, user, "web")}
}

func publish(t *testing.T, f *fakes.Fakes, user, title string) domain.Event {
	t.Helper()
	ev, err := f.Publish(user, domain.EventNotification, domain.NotificationEvent{ID: "n-" + title, Title: title, Unread: 1})
	require.NoError(t, err)
	return ev
}

func TestEventsRelaySSE(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	s := openSSE(t, w.url, bearer(t, w.fakes, "u-003")...)
	assert.Equal(t, "text/event-stream", s.res.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", s.res.Header.Get("Cache-Control"))
	assert.Equal(t, "no", s.res.Header.Get("X-Accel-Buffering"))
	assert.Empty(t, s.res.Header.Get("Content-Encoding"))
	assert.Equal(t, []string{"retry: 3000"}, s.next(t, 5*time.Second), "the first thing sent")

	first := publish(t, w.fakes, "u-003", "hello")
	publish(t, w.fakes, "u-004", "not yours")
	second := publish(t, w.fakes, "u-003", "again")
	assert.Equal(t, []string{"id: " + first.ID, "event: notification", `data: {"id":"n-hello","title":"hello","unread":1}`}, s.next(t, 5*time.Second))
	assert.Equal(t, []string{"id: " + second.ID, "event: notification", `data: {"id":"n-again","title":"again","unread":1}`}, s.next(t, 5*time.Second))

	// An order placed through the gateway reaches the stream.
	req, _ := http.NewRequest(http.MethodPost, w.url+"/v1/orders", strings.NewReader(`{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", bearer(t, w.fakes, "u-003")[1])
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	block := s.next(t, 5*time.Second)
	require.Len(t, block, 3)
	assert.Equal(t, "event: order_status", block[1])
	assert.Contains(t, block[2], `"status":"pending"`)
}

func TestEventsHeartbeatAndCompression(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{env: map[string]string{"BFF_WEB_EVENTS_HEARTBEAT": "200ms"}})
	s := openSSE(t, w.url, append(bearer(t, w.fakes, "u-005"), "Accept-Encoding", "br, gzip")...)
	assert.Empty(t, s.res.Header.Get("Content-Encoding"), "streams are never compressed")
	assert.Equal(t, []string{"retry: 3000"}, s.next(t, 5*time.Second))
	assert.Equal(t, []string{": ping"}, s.next(t, 5*time.Second), "a quiet stream gets a heartbeat")
}

func TestEventsResumeWithLastEventID(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	seen := publish(t, w.fakes, "u-006", "seen")
	missed := publish(t, w.fakes, "u-006", "missed")
	// The browser reconnects with the id of the last event it saw.
	s := openSSE(t, w.url, append(bearer(t, w.fakes, "u-006"), "Last-Event-ID", seen.ID)...)
	assert.Equal(t, []string{"retry: 3000"}, s.next(t, 5*time.Second))
	assert.Equal(t, "id: "+missed.ID, s.next(t, 5*time.Second)[0], "only what it missed")
	assert.Equal(t, seen.ID, w.fakes.LastHeaders(domain.ServiceNotifications).Get("Last-Event-ID"))
}

func TestEventsReauthAtExpiry(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	claims := w.fakes.UserClaims("u-007", "web")
	claims["exp"] = jwt.NewNumericDate(time.Now().Add(time.Second)).Unix()
	tok := fakestest.Token(t, w.fakes, claims)
	s := openSSE(t, w.url, "Authorization", "Bearer "+tok)
	assert.Equal(t, []string{"retry: 3000"}, s.next(t, 5*time.Second))
	assert.Equal(t, []string{"event: reauth", "data: {}"}, s.next(t, 10*time.Second))
	assert.True(t, s.ended(5*time.Second), "the stream ends after reauth")
}

func TestEventsUpstreamFailuresBeforeFirstByte(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	w := bootWeb(t, webOptions{fakes: f, base: base, env: map[string]string{"BFF_UPSTREAM_TIMEOUT": "300ms"}})
	doc := newContract(t)
	for _, tc := range []struct {
		name   string
		fault  domain.Fault
		status int
		code   string
	}{
		{"nok, 5xx", domain.Fault{Status: 500}, http.StatusBadGateway, "upstream_unavailable"},
		{"nok, reset", domain.Fault{Down: true}, http.StatusBadGateway, "upstream_unavailable"},
		{"nok, timeout", domain.Fault{LatencyMs: 2000}, http.StatusGatewayTimeout, "upstream_timeout"},
	} {
		require.NoError(t, f.SetFault(domain.ServiceNotifications, tc.fault))
		res := getEvents(t, w.url, bearer(t, f, "u-008")...)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err, tc.name)
		res.Body.Close()
		doc.check(t, res.Request, res, body)
		var p struct{ Error string }
		require.NoError(t, json.Unmarshal(body, &p), tc.name)
		assert.Equal(t, tc.status, res.StatusCode, tc.name)
		assert.Equal(t, tc.code, p.Error, tc.name)
		assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), tc.name)
	}
	f.ClearFaults()
}

func TestEventsUpstreamRefused(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	w := bootWeb(t, webOptions{fakes: f, base: base, env: map[string]string{"BFF_UPSTREAM_NOTIFICATIONS_URL": "http://" + edgetest.DeadAddr(t)}})
	res := getEvents(t, w.url, bearer(t, f, "u-008")...)
	res.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
}

func TestEventsReconnectAfterUpstreamDrop(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	s := openSSE(t, w.url, bearer(t, w.fakes, "u-009")...)
	assert.Equal(t, []string{"retry: 3000"}, s.next(t, 5*time.Second))
	first := publish(t, w.fakes, "u-009", "before")
	assert.Equal(t, "id: "+first.ID, s.next(t, 5*time.Second)[0])

	w.fakes.DropStreams()
	// Published while the gateway is reconnecting: the reconnection asks
	// for everything after the last relayed id, so nothing is lost.
	during := publish(t, w.fakes, "u-009", "during")
	assert.Equal(t, "id: "+during.ID, s.next(t, 5*time.Second)[0], "relayed after the transparent reconnect")
	assert.Equal(t, first.ID, w.fakes.LastHeaders(domain.ServiceNotifications).Get("Last-Event-ID"))

	// An upstream that stays away ends the stream after the reconnect window.
	require.NoError(t, w.fakes.SetFault(domain.ServiceNotifications, domain.Fault{Down: true}))
	w.fakes.DropStreams()
	assert.True(t, s.ended(20*time.Second), "the stream ends once the upstream stayed away")
}

func TestEventsStreamCapAcrossInstances(t *testing.T) {
	t.Parallel()
	rdb := edgetest.StartRedis(t)
	f, base := fakestest.Start(t)
	env := map[string]string{"BFF_REDIS_URL": rdb.URL()}
	a := bootWeb(t, webOptions{fakes: f, base: base, env: env})
	b := bootWeb(t, webOptions{fakes: f, base: base, env: env})
	cred := bearer(t, f, "u-010")
	var open []*sse
	for i := range 5 {
		url := a.url
		if i%2 == 1 {
			url = b.url
		}
		open = append(open, openSSE(t, url, cred...))
	}
	doc := newContract(t)
	for _, url := range []string{a.url, b.url} {
		res := getEvents(t, url, cred...)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		res.Body.Close()
		doc.check(t, res.Request, res, body)
		var p struct{ Error string }
		require.NoError(t, json.Unmarshal(body, &p))
		assert.Equal(t, http.StatusTooManyRequests, res.StatusCode, "the sixth stream, on either instance")
		assert.Equal(t, "rate_limited", p.Error)
	}
	// Another user is not affected.
	openSSE(t, b.url, bearer(t, f, "u-011")...)

	// Closing one frees its slot.
	open[0].res.Body.Close()
	require.Eventually(t, func() bool {
		res := getEvents(t, a.url, cred...)
		defer res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 5*time.Second, 50*time.Millisecond)
}

func TestEventsWebSocket(t *testing.T) {
	t.Parallel()
	allowed := "http://app.example"
	w := bootWeb(t, webOptions{env: map[string]string{"BFF_CORS_ORIGINS": allowed}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(origin string) (*websocket.Conn, *http.Response, error) {
		h := http.Header{"Authorization": {bearer(t, w.fakes, "u-012")[1]}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return websocket.Dial(ctx, "ws"+strings.TrimPrefix(w.url, "http")+"/v1/events", &websocket.DialOptions{HTTPHeader: h})
	}
	_, res, err := dial("http://evil.example")
	require.Error(t, err)
	require.NotNil(t, res)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "another site's page cannot open it")

	conn, _, err := dial(allowed)
	require.NoError(t, err)
	defer conn.CloseNow()
	ev := publish(t, w.fakes, "u-012", "ws")
	_, msg, err := conn.Read(ctx)
	require.NoError(t, err)
	assert.JSONEq(t, `{"event":"notification","id":"`+ev.ID+`","data":{"id":"n-ws","title":"ws","unread":1}}`, string(msg))
}

// TestEventsNoGoroutineGrowth opens and closes 1000 streams and checks the
// gateway is back to the goroutines it had.
func TestEventsNoGoroutineGrowth(t *testing.T) {
	w := bootWeb(t, webOptions{env: map[string]string{"BFF_WEB_EVENTS_MAX_PER_USER": "1000"}})
	cred := bearer(t, w.fakes, "u-013")
	// Warm up the pools, then count.
	s := openSSE(t, w.url, cred...)
	s.next(t, 5*time.Second)
	s.res.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	before := runtime.NumGoroutine()

	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for range 1000 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res := getEvents(t, w.url, cred...)
			r := bufio.NewReader(res.Body)
			_, _ = r.ReadString('\n')
			res.Body.Close()
		})
	}
	wg.Wait()
	http.DefaultClient.CloseIdleConnections()
	assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+5 }, 15*time.Second, 100*time.Millisecond,
		"goroutines back to %d", before)
}

// TestEventsTakeNoOverloadSlot runs bff-web with the adaptive concurrency
// limit at one request: two open event streams hold no slot of it, so a
// catalog page is still served beside them.
func TestEventsTakeNoOverloadSlot(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{env: map[string]string{"BFF_OVERLOAD": "adaptive", "BFF_CONFIG": edgetest.TempFile(t, "overload.yaml",
		"overload: {min_limit: 1, max_limit: 1, initial_limit: 1}\n")}})
	for _, user := range []string{"u-003", "u-004"} {
		s := openSSE(t, w.url, bearer(t, w.fakes, user)...)
		assert.Equal(t, []string{"retry: 3000"}, s.next(t, 5*time.Second), "the stream is open")
	}
	res, err := http.Get(w.url + "/v1/catalog")
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode, "the one slot is free")
	assert.Contains(t, edgetest.ScrapeFamilies(t, strings.TrimPrefix(w.admin, "http://")), "shopfront_overload_in_flight",
		"the limit is installed")
}
