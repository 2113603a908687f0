package session_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-web/internal/session"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
)

// start serves the session routes and a cookie-protected PUT against the
// real identity fake.
func start(t *testing.T, insecure bool) string {
	t.Helper()
	_, base := fakestest.Start(t)
	clients, err := services.New(services.DefaultConfig(base), upstream.Options{})
	require.NoError(t, err)
	s, err := session.New(session.Config{Issuer: clients.Identity, Insecure: insecure})
	require.NoError(t, err)
	csrf, err := session.CSRFConfig{}.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.POST("/v1/session", s.Create)
	e.DELETE("/v1/session", s.Delete, csrf)
	e.PUT("/v1/cart/items/:id", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, csrf)
	e.GET("/v1/cart", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, csrf)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

func do(t *testing.T, method, url, contentType, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func cookies(res *http.Response) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range res.Cookies() {
		out[c.Name] = c
	}
	return out
}

func TestLogin(t *testing.T) {
	t.Parallel()
	url := start(t, false)

	res, body := do(t, http.MethodPost, url+"/v1/session", "application/json", `{"username":"alice","password":"shopfront"}`, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode, body)
	ck := cookies(res)
	require.Contains(t, ck, session.CookieSession)
	require.Contains(t, ck, session.CookieCSRF)
	sess, csrf := ck[session.CookieSession], ck[session.CookieCSRF]
	assert.Equal(t, 3, strings.Count(sess.Value, ".")+1, "the session cookie holds the JWT")
	assert.True(t, sess.HttpOnly)
	assert.True(t, sess.Secure)
	assert.Equal(t, http.SameSiteLaxMode, sess.SameSite)
	assert.Equal(t, "/", sess.Path)
	assert.Positive(t, sess.MaxAge)
	assert.False(t, csrf.HttpOnly, "scripts read sf_csrf")
	assert.True(t, csrf.Secure)
	assert.Equal(t, http.SameSiteLaxMode, csrf.SameSite)
	assert.Equal(t, "/", csrf.Path)
	assert.Equal(t, sess.MaxAge, csrf.MaxAge)
	assert.Len(t, csrf.Value, 43, "256 bits in base64url")
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))

	// A second login gets another CSRF token.
	res2, _ := do(t, http.MethodPost, url+"/v1/session", "application/json", `{"username":"alice","password":"shopfront"}`, nil)
	assert.NotEqual(t, csrf.Value, cookies(res2)[session.CookieCSRF].Value)
}

func TestLoginInsecure(t *testing.T) {
	t.Parallel()
	url := start(t, true)
	res, _ := do(t, http.MethodPost, url+"/v1/session", "application/json", `{"username":"bob","password":"shopfront"}`, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	for _, c := range res.Cookies() {
		assert.False(t, c.Secure, c.Name)
	}
}

func TestLoginRejected(t *testing.T) {
	t.Parallel()
	url := start(t, false)
	tests := []struct {
		name         string
		contentType  string
		body         string
		expectStatus int
		expectCode   string
		expectErrors string // the `errors` member, when given
	}{
		{name: "nok, wrong password is 401, not 502", contentType: "application/json", body: `{"username":"alice","password":"nope"}`, expectStatus: 401, expectCode: "unauthorized"},
		{name: "nok, unknown user is 401", contentType: "application/json", body: `{"username":"no-such-user","password":"shopfront"}`, expectStatus: 401, expectCode: "unauthorized"},
		{name: "nok, form body is 415", contentType: "application/x-www-form-urlencoded", body: `username=alice&password=shopfront`, expectStatus: 415, expectCode: "unsupported_media_type"},
		{name: "nok, no content type is 415", body: `{"username":"alice","password":"shopfront"}`, expectStatus: 415, expectCode: "unsupported_media_type"},
		{name: "nok, missing password", contentType: "application/json", body: `{"username":"alice"}`, expectStatus: 400, expectCode: "validation_failed",
			expectErrors: `[{"in":"body","path":"/password","message":"is required: 1-256 bytes"}]`},
		{name: "nok, wrong type", contentType: "application/json", body: `{"username":1,"password":"x"}`, expectStatus: 400, expectCode: "validation_failed",
			expectErrors: `[{"in":"body","path":"/username","message":"must be a string"}]`},
		{name: "nok, unknown member", contentType: "application/json", body: `{"username":"alice","password":"shopfront","admin":true}`, expectStatus: 400, expectCode: "validation_failed",
			expectErrors: `[{"in":"body","path":"/admin","message":"is not a known member"}]`},
		{name: "nok, not JSON", contentType: "application/json", body: `{`, expectStatus: 400, expectCode: "validation_failed",
			expectErrors: `[{"in":"body","path":"","message":"is not valid JSON"}]`},
		{name: "nok, huge body", contentType: "application/json", body: `{"username":"` + strings.Repeat("a", 5000) + `","password":"x"}`, expectStatus: 413, expectCode: "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := do(t, http.MethodPost, url+"/v1/session", tt.contentType, tt.body, nil)
			assert.Equal(t, tt.expectStatus, res.StatusCode)
			assert.Equal(t, problem.ContentType, res.Header.Get("Content-Type"))
			assert.Contains(t, body, `"error":"`+tt.expectCode+`"`)
			// The type names the catalogue in the shopfront repository;
			// anything else saying "shopfront" would be the password.
			echoed := strings.ReplaceAll(body, problem.TypeURL("", tt.expectCode), "")
			assert.NotContains(t, echoed, "shopfront", "the password is never echoed")
			assert.Empty(t, res.Cookies())
			if tt.expectErrors != "" {
				var p struct {
					Errors json.RawMessage `json:"errors"`
				}
				require.NoError(t, json.Unmarshal([]byte(body), &p))
				assert.JSONEq(t, tt.expectErrors, string(p.Errors))
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	url := start(t, false)
	sessionCookie := session.CookieSession + "=jwt-value"
	tests := []struct {
		name         string
		method       string
		path         string
		header       map[string]string
		expectStatus int
	}{
		{name: "ok, cookie session with matching header", method: http.MethodPut, path: "/v1/cart/items/p1",
			header: map[string]string{"Cookie": sessionCookie + "; sf_csrf=tok123", session.HeaderCSRF: "tok123"}, expectStatus: 200},
		{name: "nok, missing header", method: http.MethodPut, path: "/v1/cart/items/p1",
			header: map[string]string{"Cookie": sessionCookie + "; sf_csrf=tok123"}, expectStatus: 403},
		{name: "nok, wrong header", method: http.MethodPut, path: "/v1/cart/items/p1",
			header: map[string]string{"Cookie": sessionCookie + "; sf_csrf=tok123", session.HeaderCSRF: "tok124"}, expectStatus: 403},
		{name: "nok, header without the csrf cookie", method: http.MethodPut, path: "/v1/cart/items/p1",
			header: map[string]string{"Cookie": sessionCookie, session.HeaderCSRF: "tok123"}, expectStatus: 403},
		{name: "nok, empty header and empty cookie", method: http.MethodPut, path: "/v1/cart/items/p1",
			header: map[string]string{"Cookie": sessionCookie + "; sf_csrf=", session.HeaderCSRF: ""}, expectStatus: 403},
		{name: "nok, logout needs the header too", method: http.MethodDelete, path: "/v1/session",
			header: map[string]string{"Cookie": sessionCookie + "; sf_csrf=tok123"}, expectStatus: 403},
		{name: "ok, logout with the header", method: http.MethodDelete, path: "/v1/session",
			header: map[string]string{"Cookie": sessionCookie + "; sf_csrf=tok123", session.HeaderCSRF: "tok123"}, expectStatus: 204},
		{name: "ok, bearer requests are exempt", method: http.MethodPut, path: "/v1/cart/items/p1",
			header: map[string]string{"Authorization": "Bearer x", "Cookie": sessionCookie}, expectStatus: 200},
		{name: "ok, safe methods are not checked", method: http.MethodGet, path: "/v1/cart",
			header: map[string]string{"Cookie": sessionCookie}, expectStatus: 200},
		{name: "ok, no session cookie is left to authentication", method: http.MethodPut, path: "/v1/cart/items/p1",
			expectStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := do(t, tt.method, url+tt.path, "", "", tt.header)
			assert.Equal(t, tt.expectStatus, res.StatusCode)
			if tt.expectStatus == http.StatusForbidden {
				assert.Contains(t, body, `"error":"csrf_failed"`)
			}
		})
	}
}

func TestLogoutClearsCookies(t *testing.T) {
	t.Parallel()
	url := start(t, false)
	res, _ := do(t, http.MethodDelete, url+"/v1/session", "", "", nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	raw := strings.Join(res.Header.Values("Set-Cookie"), "\n")
	assert.Contains(t, raw, "sf_session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
	assert.Contains(t, raw, "sf_csrf=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Secure; SameSite=Lax")
}
