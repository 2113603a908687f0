package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/buildinfo"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/logging"
	"github.com/shopfront/shared/edge/server"
)

func adminDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func TestAdminVersion(t *testing.T) {
	t.Parallel()
	build := buildinfo.Info{Name: "bff-test", Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.8"}
	r := start(t, server.Config{}, server.Options{Build: &build}, nil)
	status, body := adminDo(t, http.MethodGet, r.adminURL("/version"), "")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"name":"bff-test","version":"v1.2.3","revision":"abc123","goVersion":"go1.26.8"}`, body)
	status, _ = adminDo(t, http.MethodGet, r.url("/version"), "")
	assert.Equal(t, http.StatusNotFound, status, "admin endpoints stay off the public listener")
}

// TestAdminLogLevel changes the level of a logging.New logger at run time
// and checks that the logger obeys.
func TestAdminLogLevel(t *testing.T) {
	t.Parallel()
	buf := &edgetest.Buffer{}
	log, err := logging.New("info", buf)
	require.NoError(t, err)
	r := start(t, server.Config{}, server.Options{Logger: log}, nil)

	status, body := adminDo(t, http.MethodGet, r.adminURL("/loglevel"), "")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"level":"info"}`, body)
	log.Debug("hidden")

	status, body = adminDo(t, http.MethodPut, r.adminURL("/loglevel"), `{"level":"debug"}`)
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"level":"debug"}`, body)
	log.With().Debug("shown")

	status, _ = adminDo(t, http.MethodPut, r.adminURL("/loglevel"), `{"level":"chatty"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	status, _ = adminDo(t, http.MethodPut, r.url("/loglevel"), `{"level":"debug"}`)
	assert.NotEqual(t, http.StatusOK, status, "not on the public listener")

	logs := buf.String()
	assert.NotContains(t, logs, "hidden")
	assert.Contains(t, logs, "shown")
}

func TestAdminPprof(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pprof  bool
		expect int
	}{
		{name: "ok, off by default", expect: http.StatusNotFound},
		{name: "ok, on with AdminPprof", pprof: true, expect: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := start(t, server.Config{AdminPprof: tt.pprof}, server.Options{}, nil)
			status, _ := adminDo(t, http.MethodGet, r.adminURL("/debug/pprof/goroutine?debug=1"), "")
			assert.Equal(t, tt.expect, status)
			status, _ = adminDo(t, http.MethodGet, r.url("/debug/pprof/goroutine?debug=1"), "")
			assert.Equal(t, http.StatusNotFound, status, "never on the public listener")
		})
	}
}
