package main

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
