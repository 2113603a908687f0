package server_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/server"
)

// TestShutdownDrainsInFlight cancels Run's context (what SIGTERM does in
// main) while a slow request is being served: /readyz turns 503 at once, the
// slow request still completes, new connections are refused, the hooks run
// and Run returns nil.
func TestShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	var hookRan atomic.Bool
	s := start(t, server.Config{DrainDelay: 300 * time.Millisecond}, server.Options{}, func(e *echo.Echo) {
		e.GET("/slow", func(c echo.Context) error {
			close(entered)
			<-release
			return c.String(http.StatusOK, "finished")
		})
	})
	s.OnShutdown(func(context.Context) error { hookRan.Store(true); return nil })

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.url("/slow"))
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-entered

	s.cancel()
	// During the drain delay the public listener still accepts but /readyz
	// already says 503, so load balancers move away first.
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.adminURL("/readyz"))
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 10*time.Second, 5*time.Millisecond)
	resp, err := http.Get(s.adminURL("/healthz"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "liveness holds while draining")

	// After the delay the listener closes although a request is in flight.
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err != nil {
			return true
		}
		_ = conn.Close()
		return false
	}, 10*time.Second, 10*time.Millisecond, "public listener stops accepting")
	select {
	case <-s.done:
		t.Fatal("Run returned while a request was in flight")
	default:
	}
	assert.False(t, hookRan.Load(), "hooks run after the drain")

	close(release)
	r := <-got
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "finished", r.body)

	select {
	case err := <-s.done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	s.done <- nil // for the cleanup
	assert.True(t, hookRan.Load())
	_, err = net.DialTimeout("tcp", s.AdminAddr(), 100*time.Millisecond)
	assert.Error(t, err, "admin closes last")
}

// TestShutdownTimeoutCutsOff proves a stuck request cannot hold the process
// past ShutdownTimeout; Run still returns nil (exit 0). The server runs on
// real sockets, which a synctest bubble cannot fake, so a wall-clock bound
// stays; it is coarse on purpose: 25 times the 200 ms configured and a fifth
// of the 25 s default, so only an ignored ShutdownTimeout can break it.
func TestShutdownTimeoutCutsOff(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	s := start(t, server.Config{ShutdownTimeout: 200 * time.Millisecond}, server.Options{}, func(e *echo.Echo) {
		e.GET("/stuck", func(c echo.Context) error {
			close(entered)
			<-c.Request().Context().Done()
			return c.Request().Context().Err()
		})
	})
	go func() {
		resp, err := http.Get(s.url("/stuck"))
		if err == nil {
			_ = resp.Body.Close()
		}
	}()
	<-entered
	began := time.Now()
	assert.NoError(t, s.stop(t))
	s.done <- nil
	assert.Less(t, time.Since(began), server.DefaultShutdownTimeout/5)
}

func TestRunTwiceFails(t *testing.T) {
	t.Parallel()
	s := start(t, server.Config{}, server.Options{}, nil)
	assert.Error(t, s.Run(context.Background()))
}

// TestDrainClosesKeepAliveConnections keeps one keep-alive connection, as a
// proxy's upstream pool does, across the start of a drain: before it the
// answer keeps the connection open; during the drain delay the next answer
// on the same connection is whole, says Connection: close and the server
// closes the connection, so the proxy never has an idle connection here
// that the end of the drain could cut under a request it is sending.
func TestDrainClosesKeepAliveConnections(t *testing.T) {
	t.Parallel()
	s := start(t, server.Config{DrainDelay: 3 * time.Second}, server.Options{}, func(e *echo.Echo) {
		e.GET("/ping", func(c echo.Context) error { return c.String(http.StatusOK, "pong") })
	})
	conn, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	br := bufio.NewReader(conn)
	ask := func() *http.Response {
		t.Helper()
		_, err := io.WriteString(conn, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "pong", string(body))
		return resp
	}

	assert.False(t, ask().Close, "before the drain the connection stays open")

	s.cancel()
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.adminURL("/readyz"))
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 2*time.Second, 5*time.Millisecond)

	resp := ask()
	assert.True(t, resp.Close, "during the drain the answer closes the connection")
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "the server closed the connection after the answer")
}
