package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/server"
)

// overloadGateway serves a gateway whose concurrency limit, with env's
// BFF_OVERLOAD, admits one request at a time, with two open routes that
// hold their request until release is closed: GET /slow and the
// long-lived GET /stream. entered gets a value as each handler starts.
func overloadGateway(t *testing.T, env map[string]string) (g *gateway.Gateway, entered chan string, release func()) {
	t.Helper()
	_, base := fakestest.Start(t)
	cfg := common(t, base, env)
	cfg.Overload.MinLimit, cfg.Overload.MaxLimit, cfg.Overload.InitialLimit = 1, 1, 1
	entered = make(chan string, 4)
	unblock := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	hold := func(c echo.Context) error {
		entered <- c.Path()
		<-unblock
		return c.NoContent(http.StatusNoContent)
	}
	g, _ = gatewaytest.Serve(t, func(ctx context.Context) (*gateway.Gateway, error) {
		g, err := gateway.New(ctx, cfg, gateway.Options{Name: "bff-test", Client: auth.ClientMobile, Logger: zap.NewNop()})
		if err != nil {
			return nil, err
		}
		return g, g.Register(route.Chains{}, []route.Route{
			{Method: http.MethodGet, Path: "/slow", Handler: hold, Policy: route.Open},
			{Method: http.MethodGet, Path: "/stream", Handler: hold, Policy: route.Open, LongLived: true},
		})
	})
	gatewaytest.WaitReady(t, g.AdminAddr())
	return g, entered, release
}

// send sends a request in the background; its status arrives on the
// channel (0 when it got no answer).
func send(method, url string) <-chan int {
	done := make(chan int, 1)
	go func() {
		status := 0
		if req, err := http.NewRequest(method, url, nil); err == nil {
			if res, err := http.DefaultClient.Do(req); err == nil {
				_ = res.Body.Close()
				status = res.StatusCode
			}
		}
		done <- status
	}()
	return done
}

// TestOverloadInstalled boots the gateway core with BFF_OVERLOAD=adaptive:
// the limit sits first in the Outer slot; with its one slot taken the next
// request is shed with 503 overloaded and Retry-After as problem+json,
// while a long-lived route and the admin listener still answer, and the
// metrics the operations guide lists move.
func TestOverloadInstalled(t *testing.T) {
	t.Parallel()
	g, entered, release := overloadGateway(t, map[string]string{"BFF_OVERLOAD": "adaptive"})
	pub := "http://" + g.Addr()

	layers := g.Layers()
	admission := slices.IndexFunc(layers, func(l server.SlotLayer) bool { return l.Slot == server.SlotAdmission })
	require.GreaterOrEqual(t, admission, 0)
	assert.Equal(t, "concurrency limit (503 overloaded)", layers[admission].Name, "first in the Admission slot")
	firstAfterRouting := slices.IndexFunc(layers, func(l server.SlotLayer) bool { return !l.Pre })
	assert.Equal(t, firstAfterRouting, admission, "ahead of every layer after routing: request id, tracing, metrics, access log")

	slow := send(http.MethodGet, pub+"/slow")
	assert.Equal(t, "/slow", <-entered)

	req, err := http.NewRequest(http.MethodGet, pub+"/slow", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "client-chosen-1")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var p problem.Problem
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	_ = res.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Equal(t, "1", res.Header.Get("Retry-After"))
	assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	assert.Equal(t, problem.CodeOverloaded, p.Code)
	assert.Equal(t, "client-chosen-1", res.Header.Get("X-Request-Id"), "a shed keeps the client's valid request id")
	assert.Equal(t, "client-chosen-1", p.RequestID)
	for _, bad := range []string{"", "has space", strings.Repeat("x", 129)} {
		req.Header.Set("X-Request-Id", bad)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
		id := res.Header.Get("X-Request-Id")
		assert.True(t, requestid.Valid(id) && id != bad, "a shed replaces the request id %q with a valid one, got %q", bad, id)
	}
	select {
	case path := <-entered:
		t.Fatalf("the shed request reached a handler: %s", path)
	default:
	}

	stream := send(http.MethodGet, pub+"/stream")
	assert.Equal(t, "/stream", <-entered, "a long-lived route is admitted at the limit")
	headStream := send(http.MethodHead, pub+"/stream")
	select {
	case path := <-entered:
		assert.Equal(t, "/stream", path, "so is a HEAD of it, which is served as the GET")
	case status := <-headStream:
		t.Fatalf("a HEAD of the long-lived route was answered %d at the limit, not admitted", status)
	}

	for _, path := range []string{"/healthz", "/metrics"} {
		res, err := http.Get("http://" + g.AdminAddr() + path)
		require.NoError(t, err)
		_ = res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, "the admin listener is never shed: %s", path)
	}
	metrics := edgetest.ScrapeFamilies(t, g.AdminAddr())
	for _, name := range []string{"shopfront_overload_limit", "shopfront_overload_in_flight", "shopfront_overload_shed_total"} {
		assert.Contains(t, metrics, name)
		assert.Contains(t, edgetest.Doc(t, "operations.md"), "`"+name+"`", "the operations guide lists it")
	}
	assert.Equal(t, 1, g.Overload().InFlight(), "the streams hold no slot")

	release()
	assert.Equal(t, http.StatusNoContent, <-slow)
	assert.Equal(t, http.StatusNoContent, <-stream)
	assert.Equal(t, http.StatusNoContent, <-headStream)
	assert.Eventually(t, func() bool { return g.Overload().InFlight() == 0 }, 5*time.Second, time.Millisecond)
}

// TestOverloadOff boots the gateway core with BFF_OVERLOAD=off, and with
// it unset (the default): no limit is installed or exported, and requests
// beyond the limit configured are admitted.
func TestOverloadOff(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{{"BFF_OVERLOAD": "off"}, nil} {
		g, entered, release := overloadGateway(t, env)
		pub := "http://" + g.Addr()
		assert.Nil(t, g.Overload())
		for _, l := range g.Layers() {
			assert.NotContains(t, l.Name, "concurrency limit")
		}
		first, second := send(http.MethodGet, pub+"/slow"), send(http.MethodGet, pub+"/slow")
		assert.Equal(t, "/slow", <-entered)
		assert.Equal(t, "/slow", <-entered, "a second request is admitted beside the first")
		assert.NotContains(t, edgetest.ScrapeFamilies(t, g.AdminAddr()), "shopfront_overload_limit")
		release()
		assert.Equal(t, http.StatusNoContent, <-first)
		assert.Equal(t, http.StatusNoContent, <-second)
	}
}
