package identity_test

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/identity"
)

// newServer serves a handler that reports the headers it saw as JSON.
func newServer(t *testing.T, cfg identity.Config) *httptest.Server {
	t.Helper()
	e := echo.New()
	mw, err := cfg.ToMiddleware()
	require.NoError(t, err)
	e.Use(mw)
	e.GET("/seen", func(c echo.Context) error {
		return c.JSON(http.StatusOK, c.Request().Header)
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

// rawGet sends a hand-written HTTP/1.1 request so that header names reach
// the server exactly as written, duplicates and odd cases included.
func rawGet(t *testing.T, addr string, headerLines []string) http.Header {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	req := "GET /seen HTTP/1.1\r\nHost: shopfront.test\r\nConnection: close\r\n" +
		strings.Join(headerLines, "\r\n") + "\r\n\r\n"
	_, err = conn.Write([]byte(req))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var seen http.Header
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&seen))
	return seen
}

func hasIdentityHeader(h http.Header) []string {
	var found []string
	for k := range h {
		n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		switch n {
		case "x-user-id", "x-user-roles", "x-tenant-id", "x-partner-id", "x-client":
			found = append(found, k)
		}
	}
	return found
}

func TestStripOverRealListener(t *testing.T) {
	t.Parallel()
	srv := newServer(t, identity.Config{})
	addr := strings.TrimPrefix(srv.URL, "http://")

	tests := []struct {
		name   string
		given  []string
		expect map[string]string // headers that must survive
	}{
		{
			name:  "ok, lowercase and duplicated identity headers are all removed",
			given: []string{"x-user-id: admin", "X-USER-ID: root", "X-User-Id: alice", "x-user-roles: admin", "X-User-Roles: superuser"},
		},
		{
			name: "ok, every identity header in odd cases is removed",
			given: []string{"x-tenant-id: t1", "X-TENANT-ID: t2", "x-partner-id: acme", "X-Partner-ID: evil",
				"x-client: partner", "X-CLIENT: web"},
		},
		{
			name:  "ok, underscore spellings are removed too",
			given: []string{"x_user_id: admin", "X_Partner_Id: acme"},
		},
		{
			name:   "ok, other headers are kept",
			given:  []string{"X-User-Id: admin", "X-Request-Id: abc-123", "Accept: application/json", "X-User-Idx: kept"},
			expect: map[string]string{"X-Request-Id": "abc-123", "Accept": "application/json", "X-User-Idx": "kept"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seen := rawGet(t, addr, tt.given)
			assert.Empty(t, hasIdentityHeader(seen))
			for k, v := range tt.expect {
				assert.Equal(t, v, seen.Get(k), k)
			}
		})
	}
}

func TestStripNonCanonicalMapKeys(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"x-user-id":     {"admin"},
		"X-User-Id":     {"alice", "bob"},
		"X-USER-ROLES":  {"admin"},
		"x-tenant-id":   {"t"},
		"X-Partner-Id":  {"acme"},
		"x-client":      {"partner"},
		"Authorization": {"Bearer x"},
	}
	identity.Strip(h)
	assert.Empty(t, hasIdentityHeader(h))
	assert.Equal(t, "Bearer x", h.Get("Authorization"))
}

func TestStripSkipperAndExtra(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  identity.Config
		expect []string // identity-like headers that must remain
	}{
		{
			name:   "ok, skipper leaves headers alone",
			given:  identity.Config{Skipper: func(echo.Context) bool { return true }},
			expect: []string{"X-User-Id", "X-Internal"},
		},
		{
			name:   "ok, extra headers are stripped as well",
			given:  identity.Config{Extra: []string{"X-Internal"}},
			expect: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, tt.given)
			seen := rawGet(t, strings.TrimPrefix(srv.URL, "http://"), []string{"x-user-id: admin", "x-internal: yes"})
			var got []string
			for _, k := range []string{"X-User-Id", "X-Internal"} {
				if seen.Get(k) != "" {
					got = append(got, k)
				}
			}
			assert.Equal(t, tt.expect, got)
		})
	}
}
