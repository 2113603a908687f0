package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// closed records the order in which owned resources were closed.
type closed struct {
	mu    sync.Mutex
	names []string
}

func (c *closed) closer(name string) func(context.Context) error {
	return func(context.Context) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.names = append(c.names, name)
		return nil
	}
}

func (c *closed) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names...)
}

// TestCloseReleasesOwned is a composition root whose wiring fails after it
// opened two resources: Close releases both, last opened first, each once,
// with the listeners and the process's Redis client.
func TestCloseReleasesOwned(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	cfg := common(t, base, map[string]string{config.VarRedisURL: edgetest.StartRedis(t).URL()})
	g, err := gateway.New(t.Context(), cfg, gateway.Options{Name: "bff-test", Client: auth.ClientMobile})
	require.NoError(t, err)
	var c closed
	g.Own("audit log", c.closer("audit log"))
	g.Own("keys watcher", c.closer("keys watcher"))
	require.NoError(t, g.Redis.Ping(t.Context()).Err())
	addrs := []string{g.Addr(), g.AdminAddr()}

	require.NoError(t, g.Close(t.Context()))
	require.NoError(t, g.Close(t.Context()), "a second Close closes nothing twice")

	assert.Equal(t, []string{"keys watcher", "audit log"}, c.get())
	assert.ErrorIs(t, g.Redis.Ping(t.Context()).Err(), redis.ErrClosed)
	assertFree(t, addrs...)
}

// TestShutdownClosesOwnedAfterHooks: at shutdown the owned resources close
// after the in-flight requests and after the gateway's own shutdown hooks
// (which may still use them: the response cache's refreshes use Redis).
func TestShutdownClosesOwnedAfterHooks(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	cfg := common(t, base, map[string]string{config.VarRedisURL: edgetest.StartRedis(t).URL()})
	var c closed
	var redisOpenInHook error
	g, stop := gatewaytest.Serve(t, func(ctx context.Context) (*gateway.Gateway, error) {
		g, err := gateway.New(ctx, cfg, gateway.Options{Name: "bff-test", Client: auth.ClientMobile, Logger: zap.NewNop()})
		if err != nil {
			return nil, err
		}
		g.Own("audit log", c.closer("audit log"))
		g.OnShutdown(func(ctx context.Context) error {
			redisOpenInHook = g.Redis.Ping(ctx).Err()
			return c.closer("hook")(ctx)
		})
		return g, nil
	})
	stop()
	assert.Equal(t, []string{"hook", "audit log"}, c.get())
	assert.NoError(t, redisOpenInHook, "Redis is open while the hooks run")
	assert.ErrorIs(t, g.Redis.Ping(context.Background()).Err(), redis.ErrClosed, "and closed after them")
}

// TestRedisCallsEndAtTheirDeadline: against a peer that accepts and never
// answers, a call on the shared client ends with a timeout (its context's
// deadline), not a retry or a wait for an answer that never comes.
func TestRedisCallsEndAtTheirDeadline(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = silent.Close() })
	go func() {
		var conns []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range conns {
					_ = c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	rdb, err := gateway.NewRedis("redis://" + silent.Addr().String() + "/0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()

	err = rdb.Ping(ctx).Err()

	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) {
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout(), "a timeout, got %v", err)
	}

	_, err = gateway.NewRedis("http://nope")
	assert.ErrorContains(t, err, "BFF_REDIS_URL")
}

// TestReloadRunsReloaders: Reload runs what was registered, in order, and
// reports their errors joined.
func TestReloadRunsReloaders(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	g := serve(t, common(t, base, nil))
	var c closed
	g.OnReload(c.closer("keys"))
	g.OnReload(func(context.Context) error { return errors.New("bad file") })
	g.OnReload(c.closer("certificates"))

	err := g.Reload(t.Context())

	assert.ErrorContains(t, err, "bad file")
	assert.Equal(t, []string{"keys", "certificates"}, c.get())
}

// reloadable is a built gateway of Command that counts its reloads.
type reloadable struct {
	reloaded chan struct{}
}

func (r reloadable) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (r reloadable) Reload(context.Context) error {
	r.reloaded <- struct{}{}
	return nil
}

// TestCommandHandsReloadsToTheGateway: each value on Command.Reloads (what
// Main sends on SIGHUP) reaches the built gateway's Reload while it serves.
func TestCommandHandsReloadsToTheGateway(t *testing.T) {
	t.Parallel()
	reloads := make(chan struct{})
	r := reloadable{reloaded: make(chan struct{})}
	cmd := gateway.Command[testConfig, reloadable]{
		Name:    "bff-test",
		Load:    func(config.Lookup) (testConfig, error) { return testConfig{}, nil },
		New:     func(context.Context, testConfig, *zap.Logger) (reloadable, error) { return r, nil },
		Reloads: reloads,
	}
	ctx, cancel := context.WithCancel(t.Context())
	code := make(chan int, 1)
	go func() {
		var out bytes.Buffer
		code <- cmd.Run(ctx, config.MapLookup(nil), &out, &out)
	}()
	for range 2 {
		reloads <- struct{}{}
		<-r.reloaded
	}
	cancel()
	assert.Equal(t, gateway.ExitOK, <-code)
}

// TestDrainTimeoutKeepsOwnedOpenForRunningHandlers: a handler still
// running when the drain times out keeps Redis open; what the gateway owns
// is closed once it returned, or, if it outlives the hooks' time, not at
// all (the process exits anyway).
func TestDrainTimeoutKeepsOwnedOpenForRunningHandlers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		returnEarly bool
		expectClose []string
	}{
		{name: "ok, the handler returns during the hooks: closed after it", returnEarly: true, expectClose: []string{"audit log"}},
		{name: "ok, the handler outlives the hooks: left open", returnEarly: false, expectClose: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, base := fakestest.Start(t)
			cfg := common(t, base, map[string]string{config.VarRedisURL: edgetest.StartRedis(t).URL(), config.VarShutdownTimeout: "50ms"})
			var c closed
			entered, release := make(chan struct{}), make(chan struct{})
			handlerRedis := make(chan error, 1)
			hooksStarted := make(chan struct{})
			g, stop := gatewaytest.Serve(t, func(ctx context.Context) (*gateway.Gateway, error) {
				g, err := gateway.New(ctx, cfg, gateway.Options{Name: "bff-test", Client: auth.ClientMobile,
					Logger: zap.NewNop(), HookTimeout: 300 * time.Millisecond})
				if err != nil {
					return nil, err
				}
				g.Own("audit log", c.closer("audit log"))
				g.OnShutdown(func(context.Context) error { close(hooksStarted); return nil })
				g.Echo().GET("/slow", func(ec echo.Context) error {
					close(entered)
					<-release
					// The drain timed out long ago; Redis must still answer.
					handlerRedis <- g.Redis.Ping(context.WithoutCancel(ec.Request().Context())).Err()
					return ec.NoContent(http.StatusNoContent)
				})
				return g, nil
			})
			go func() {
				res, err := http.Get("http://" + g.Addr() + "/slow")
				if err == nil {
					res.Body.Close()
				}
			}()
			<-entered
			stopped := make(chan struct{})
			go func() { stop(); close(stopped) }()
			<-hooksStarted // the drain has timed out and the hooks run
			if tt.returnEarly {
				close(release)
				assert.NoError(t, <-handlerRedis, "Redis is open for the handler that outlived the drain")
			}
			<-stopped
			assert.Equal(t, tt.expectClose, c.get())
			if !tt.returnEarly {
				assert.NoError(t, g.Redis.Ping(context.Background()).Err(), "left open for the handler still running")
				close(release)
				assert.NoError(t, <-handlerRedis)
				_ = g.Redis.Close()
			}
		})
	}
}
