package buildinfo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/buildinfo"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		given         debug.BuildInfo
		expect        buildinfo.Info
		expectService string
	}{
		{name: "ok, a tagged build",
			given:         debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "1a2b"}}},
			expect:        buildinfo.Info{Name: "bff-web", Version: "v1.4.0", Revision: "1a2b", GoVersion: "go1.26.8"},
			expectService: "v1.4.0"},
		{name: "ok, a work tree with changes",
			given: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "1a2b"}, {Key: "vcs.modified", Value: "true"}}},
			expect:        buildinfo.Info{Name: "bff-web", Version: "(devel)", Revision: "1a2b-dirty", GoVersion: "go1.26.8"},
			expectService: "1a2b-dirty"},
		{name: "nok, built without VCS stamping",
			given:         debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			expect:        buildinfo.Info{Name: "bff-web", Version: "(devel)", Revision: buildinfo.Unknown, GoVersion: "go1.26.8"},
			expectService: "(devel)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := buildinfo.FromBuildInfo("bff-web", &tt.given)
			assert.Equal(t, tt.expect, got)
			assert.Equal(t, tt.expectService, got.ServiceVersion())
		})
	}
}

func TestCollectorAndHandler(t *testing.T) {
	t.Parallel()
	info := buildinfo.Info{Name: "bff-web", Version: "v1.4.0", Revision: "1a2b", GoVersion: "go1.26.8"}
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(info.Collector()))
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP shopfront_build_info The running build: version, VCS revision and Go version; always 1.
# TYPE shopfront_build_info gauge
shopfront_build_info{goversion="go1.26.8",revision="1a2b",version="v1.4.0"} 1
`), "shopfront_build_info"))

	rec := httptest.NewRecorder()
	info.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/version", nil))
	body, _ := io.ReadAll(rec.Body)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"name":"bff-web","version":"v1.4.0","revision":"1a2b","goVersion":"go1.26.8"}`, string(body))
}
