package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  string // FAKES_ADDR; "" = unset
	}{
		{name: "ok, FAKES_ADDR", env: "addr"},
		{name: "ok, -addr flag wins", args: []string{"-addr", "addr"}, env: "127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := freeAddr(t)
			args := append([]string(nil), tt.args...)
			for i, a := range args {
				if a == "addr" {
					args[i] = addr
				}
			}
			env := tt.env
			if env == "addr" {
				env = addr
			}
			lookup := func(k string) (string, bool) {
				if k == "FAKES_ADDR" && env != "" {
					return env, true
				}
				return "", false
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- run(ctx, args, lookup) }()

			var resp *http.Response
			require.Eventually(t, func() bool {
				r, err := http.Get("http://" + addr + "/users/users/u-001")
				if err != nil {
					return false
				}
				resp = r
				return true
			}, 10*time.Second, 20*time.Millisecond)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)

			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err, "a signal stops it cleanly")
			case <-time.After(10 * time.Second):
				t.Fatal("run did not return after the signal")
			}
		})
	}
}

func TestRunBadAddress(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"-addr", "nonsense"}, func(string) (string, bool) { return "", false })
	assert.ErrorContains(t, err, "listening on nonsense")
}

// TestDownFaultThroughAccessLog boots the command's handler chain on a real
// listener: a `down` fault hijacks the connection through the access log's
// recorder (closing it without an answer, no abort) and the request still
// gets its access line, with status 0.
func TestDownFaultThroughAccessLog(t *testing.T) {
	t.Parallel()
	f, err := fakes.New(fakes.Options{})
	require.NoError(t, err)
	core, logs := observer.New(zap.InfoLevel)
	srv := httptest.NewUnstartedServer(handler(zap.New(core), f))
	// net/http reports neither a hijack nor an abort with
	// http.ErrAbortHandler, and the client sees EOF in both cases; only the
	// connection's state tells them apart.
	var mu sync.Mutex
	var states []http.ConnState
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, s)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	require.NoError(t, f.SetFault(domain.ServiceOrders, domain.Fault{Down: true}))

	// A fresh connection per request, so the client does not retry on a
	// reused one and exactly one request reaches the fakes.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(srv.URL + "/orders/orders/o-00001")
	if err == nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err, "no answer, the connection is closed")
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "%v", err)

	require.Eventually(t, func() bool { return logs.FilterMessage("request").Len() == 1 }, 10*time.Second, 5*time.Millisecond,
		"the dropped request has its access line")
	line := logs.FilterMessage("request").All()[0].ContextMap()
	assert.Equal(t, "/orders/orders/o-00001", line["path"])
	assert.Equal(t, int64(0), line["status"], "nothing was answered")

	require.NoError(t, f.SetFault(domain.ServiceOrders, domain.Fault{}))
	resp, err = client.Get(srv.URL + "/orders/orders/o-00001")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool { return logs.FilterMessage("request").Len() == 2 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, int64(200), logs.FilterMessage("request").All()[1].ContextMap()["status"])

	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, states, http.StateHijacked, "the down fault hijacked the connection instead of aborting")
}

// TestAccessLogAbortedHandler: a handler aborted with http.ErrAbortHandler
// (how a `down` fault ends an HTTP/2 stream, which cannot be hijacked) still
// leaves its access line.
func TestAccessLogAbortedHandler(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	srv := httptest.NewServer(accessLog(zap.New(core), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	})))
	t.Cleanup(srv.Close)

	resp, err := srv.Client().Get(srv.URL + "/recommendations/users/u-001/recommendations")
	if err == nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err, "the aborted request gets no answer")
	require.Eventually(t, func() bool { return logs.FilterMessage("request").Len() >= 1 }, 10*time.Second, 5*time.Millisecond)
	line := logs.FilterMessage("request").All()[0].ContextMap()
	assert.Equal(t, "/recommendations/users/u-001/recommendations", line["path"])
	assert.Equal(t, int64(0), line["status"])
}
