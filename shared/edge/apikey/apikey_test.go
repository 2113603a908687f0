package apikey_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/shared/edge/apikey"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/ratelimit"
)

func digest(key string) string {
	d := sha256.Sum256([]byte(key))
	return hex.EncodeToString(d[:])
}

func keysFile(revokeAcme bool) string {
	return fmt.Sprintf(`partners:
  - id: acme
    name: Acme Retail
    keys:
      - id: acme-prod-1
        sha256: %s
        scopes: [catalog:read, orders:write]
        revoked: %t
      - id: acme-old
        sha256: %s
        scopes: [catalog:read]
        revoked: true
  - id: globex
    name: Globex
    plan: {per_minute: 600, burst: 50}
    allowed_cidrs: [10.0.0.0/8, 192.0.2.7]
    keys:
      - id: globex-1
        sha256: %s
        scopes: [inventory:read]
`, digest("acme-secret-key"), revokeAcme, digest("acme-old-key"), digest("globex-secret-key"))
}

func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := apikey.Parse([]byte(`partners:
  - id: acme
    plan: {per_minute: 0, burst: 5}
    allowed_cidrs: [10.0.0.0/33]
    keys:
      - id: k1
        sha256: ABC
        scopes: [catalog:read, catalog:write]
      - id: k1
        sha256: ` + digest("x") + `
  - id: acme
    keys:
      - sha256: ` + digest("x") + `
`))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.ElementsMatch(t, []string{
		"partners[0].plan: per_minute and burst must be positive, got 0 and 5",
		`partners[0].allowed_cidrs[0]: "10.0.0.0/33" is not a CIDR`,
		"partners[0].keys[0].sha256: must be 64 lower-case hex characters (the SHA-256 of the key)",
		`partners[0].keys[0].scopes[1]: unknown scope "catalog:write" (known: catalog:read, inventory:read, orders:read, orders:write)`,
		`partners[0].keys[1].id: duplicate key id "k1"`,
		`partners[1].id: duplicate partner id "acme"`,
		"partners[1].keys[0].id: required",
		"partners[1].keys[0].sha256: duplicate of another key's digest",
	}, lines)

	_, err = apikey.Parse([]byte("partners:\n  - id: a\n    colour: red\n"))
	assert.ErrorContains(t, err, "field colour not found", "unknown fields are rejected")
}

func TestLookupAndPlans(t *testing.T) {
	t.Parallel()
	s, err := apikey.Open(apikey.StoreConfig{Path: edgetest.TempFile(t, "keys.yaml", keysFile(false))})
	require.NoError(t, err)
	k, ok := s.Keys().Lookup("acme-secret-key")
	require.True(t, ok)
	assert.Equal(t, "acme-prod-1", k.ID)
	assert.Equal(t, "acme", k.Partner.ID)
	_, ok = s.Keys().Lookup(digest("acme-secret-key"))
	assert.False(t, ok, "the digest itself is not a key")
	_, ok = s.Keys().Lookup("nope")
	assert.False(t, ok)

	assert.Equal(t, ratelimit.PartnerLimit(), s.Plan("acme"))
	assert.Equal(t, ratelimit.Limit{Rate: 600, Burst: 50}, s.Plan("globex"))
	assert.Equal(t, ratelimit.PartnerLimit(), s.Plan("client-credentials-only"))
}

func TestIdentify(t *testing.T) {
	t.Parallel()
	s, err := apikey.Open(apikey.StoreConfig{Path: edgetest.TempFile(t, "keys.yaml", keysFile(false))})
	require.NoError(t, err)
	tests := []struct {
		name          string
		presented     string
		expectPartner string
		expectKey     string
		expectOK      bool
	}{
		{name: "ok, valid key", presented: "acme-secret-key", expectPartner: "acme", expectKey: "acme-prod-1", expectOK: true},
		{name: "ok, revoked key is still named", presented: "acme-old-key", expectPartner: "acme", expectKey: "acme-old", expectOK: true},
		{name: "ok, key of a walled partner is named whatever the address", presented: "globex-secret-key",
			expectPartner: "globex", expectKey: "globex-1", expectOK: true},
		{name: "nok, unknown key", presented: "nope"},
		{name: "nok, the digest itself is not a key", presented: digest("acme-secret-key")},
		{name: "nok, no key", presented: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			partner, key, ok := s.Identify(tt.presented)
			assert.Equal(t, tt.expectOK, ok)
			assert.Equal(t, tt.expectPartner, partner)
			assert.Equal(t, tt.expectKey, key)
		})
	}
}

func TestOpenRejectsInvalidFile(t *testing.T) {
	t.Parallel()
	_, err := apikey.Open(apikey.StoreConfig{Path: edgetest.TempFile(t, "keys.yaml", " \n")})
	assert.ErrorContains(t, err, "keys file is empty")
	none, err := apikey.Open(apikey.StoreConfig{Path: edgetest.TempFile(t, "keys.yaml", "partners: []\n")})
	require.NoError(t, err)
	assert.Zero(t, none.Keys().Len())

	_, err = apikey.Open(apikey.StoreConfig{Path: edgetest.TempFile(t, "keys.yaml", "partners:\n  - keys: [{id: a, sha256: b}]\n")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "partners[0].id: required")
	_, err = apikey.Open(apikey.StoreConfig{Path: "/nonexistent/keys.yaml"})
	assert.ErrorContains(t, err, "reading keys file")
}

// serve runs the partner authentication and scope check over a real
// listener; X-Forwarded-For from loopback is trusted so tests pick the IP.
func serve(t *testing.T, cfg apikey.Config, scope auth.Scope) string {
	t.Helper()
	mw, err := cfg.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.IPExtractor = echo.ExtractIPFromXFFHeader(echo.TrustLoopback(true))
	e.GET("/", func(c echo.Context) error {
		p, _ := auth.FromContext(c.Request().Context())
		return c.JSON(http.StatusOK, p)
	}, mw, apikey.RequireScope(scope))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func get(t *testing.T, url string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.Unmarshal(raw, &r.body), string(raw))
	return r
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	store, err := apikey.Open(apikey.StoreConfig{Path: edgetest.TempFile(t, "keys.yaml", keysFile(false))})
	require.NoError(t, err)
	signer := edgetest.NewKey(t, edgetest.ES256)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
		JWKSURL: edgetest.StartJWKS(t, signer).URL, Issuer: "shopfront-identity", Audience: "shopfront-partner", Client: auth.ClientPartner,
	})
	require.NoError(t, err)
	token := func(partner, scope string) string {
		c := edgetest.Claims("acme-client", "shopfront-identity", "shopfront-partner", time.Hour)
		c["partner"], c["scope"] = partner, scope
		return "Bearer " + signer.Sign(t, c)
	}
	catalog := serve(t, apikey.Config{Store: store, Bearer: v, DocsURL: "https://docs.example/auth"}, auth.ScopeCatalogRead)
	inventory := serve(t, apikey.Config{Store: store, Bearer: v}, auth.ScopeInventoryRead)

	tests := []struct {
		name         string
		url          string
		given        map[string]string
		expectStatus int
		expectError  string
		expectWWW    string
		expectBody   map[string]any
	}{
		{name: "ok, API key with scope", url: catalog, given: map[string]string{"X-API-Key": "acme-secret-key"}, expectStatus: 200,
			expectBody: map[string]any{"Partner": "acme", "KeyID": "acme-prod-1", "Client": "partner", "Subject": ""}},
		{name: "ok, API key from an allowed CIDR", url: inventory, given: map[string]string{"X-API-Key": "globex-secret-key", "X-Forwarded-For": "10.1.2.3"}, expectStatus: 200,
			expectBody: map[string]any{"Partner": "globex", "KeyID": "globex-1"}},
		{name: "ok, API key from an allowed single address", url: inventory, given: map[string]string{"X-API-Key": "globex-secret-key", "X-Forwarded-For": "192.0.2.7"}, expectStatus: 200},
		{name: "ok, client-credentials JWT", url: catalog, given: map[string]string{"Authorization": token("acme", "catalog:read")}, expectStatus: 200,
			expectBody: map[string]any{"Partner": "acme", "KeyID": "", "Subject": "acme-client", "Client": "partner"}},
		{name: "nok, missing", url: catalog, expectStatus: 401, expectError: "unauthorized", expectWWW: "Bearer"},
		{name: "nok, unknown key", url: catalog, given: map[string]string{"X-API-Key": "guess"}, expectStatus: 401, expectError: "invalid_api_key",
			expectBody: map[string]any{"docs": "https://docs.example/auth"}},
		{name: "nok, revoked key", url: catalog, given: map[string]string{"X-API-Key": "acme-old-key"}, expectStatus: 401, expectError: "invalid_api_key",
			expectBody: map[string]any{"docs": "https://docs.example/auth"}},
		{name: "nok, default docs link", url: inventory, given: map[string]string{"X-API-Key": "guess"}, expectStatus: 401, expectError: "invalid_api_key",
			expectBody: map[string]any{"docs": apikey.DefaultDocsURL}},
		{name: "nok, wrong IP", url: inventory, given: map[string]string{"X-API-Key": "globex-secret-key", "X-Forwarded-For": "203.0.113.5"}, expectStatus: 403, expectError: "forbidden"},
		{name: "nok, direct loopback outside the allow-list", url: inventory, given: map[string]string{"X-API-Key": "globex-secret-key"}, expectStatus: 403, expectError: "forbidden"},
		{name: "nok, API key lacks scope", url: inventory, given: map[string]string{"X-API-Key": "acme-secret-key"}, expectStatus: 403, expectError: "insufficient_scope"},
		{name: "nok, JWT lacks scope", url: inventory, given: map[string]string{"Authorization": token("acme", "catalog:read")}, expectStatus: 403, expectError: "insufficient_scope",
			expectWWW: `Bearer error="insufficient_scope", scope="inventory:read"`},
		{name: "nok, JWT of a partner outside its allow-list", url: inventory, given: map[string]string{"Authorization": token("globex", "inventory:read"), "X-Forwarded-For": "203.0.113.5"}, expectStatus: 403, expectError: "forbidden"},
		{name: "nok, JWT without partner", url: catalog, given: map[string]string{"Authorization": token("", "catalog:read")}, expectStatus: 401, expectError: "invalid_token",
			expectWWW: `Bearer error="invalid_token"`},
		{name: "nok, JWT of a partner not in the keys file", url: catalog, given: map[string]string{"Authorization": token("initech", "catalog:read")}, expectStatus: 401, expectError: "invalid_token",
			expectWWW: `Bearer error="invalid_token"`},
		{name: "nok, JWT of a partner differing only in case", url: catalog, given: map[string]string{"Authorization": token("ACME", "catalog:read")}, expectStatus: 401, expectError: "invalid_token",
			expectWWW: `Bearer error="invalid_token"`},
		{name: "nok, invalid JWT", url: catalog, given: map[string]string{"Authorization": "Bearer nonsense"}, expectStatus: 401, expectError: "invalid_token",
			expectWWW: `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := get(t, tt.url, tt.given)
			assert.Equal(t, tt.expectStatus, r.status)
			if tt.expectError != "" {
				assert.Equal(t, tt.expectError, r.body["error"])
				assert.Equal(t, problem.ContentType, r.header.Get("Content-Type"))
			}
			assert.Equal(t, tt.expectWWW, r.header.Get("WWW-Authenticate"))
			for k, v := range tt.expectBody {
				assert.Equal(t, v, r.body[k], k)
			}
			for _, h := range []string{"acme-secret-key", "globex-secret-key"} {
				assert.NotContains(t, fmt.Sprint(r.body), h, "keys are never echoed")
			}
		})
	}
}

// TestWatchOnFakeTime checks the store's polling on fake time, where
// "several polls later" and "never without a signal" are exact: a changed
// file is picked up once two polls see the same content, a broken one is logged once however
// many polls see it and keeps the previous keys, and with polling disabled
// only a signal reloads.
func TestWatchOnFakeTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// known says whether key would be admitted: in the file and not revoked.
		known := func(s *apikey.Store, key string) bool { k, ok := s.Keys().Lookup(key); return ok && !k.Revoked }
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()

		path := edgetest.TempFile(t, "keys.yaml", keysFile(false))
		core, logs := observer.New(zapcore.InfoLevel)
		store, err := apikey.Open(apikey.StoreConfig{Path: path, PollInterval: time.Second, Logger: zap.New(core)})
		require.NoError(t, err)
		go store.Watch(ctx, make(chan os.Signal))
		require.True(t, known(store, "acme-secret-key"))

		require.NoError(t, os.WriteFile(path, []byte(keysFile(true)), 0o600))
		time.Sleep(time.Second)
		synctest.Wait()
		assert.True(t, known(store, "acme-secret-key"), "a change seen by one poll may be half-written")
		time.Sleep(time.Second)
		synctest.Wait()
		assert.False(t, known(store, "acme-secret-key"), "the revocation is picked up once two polls agree")

		require.NoError(t, os.WriteFile(path, []byte("partners: [ {id: "), 0o600))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Equal(t, 1, logs.FilterLevelExact(zapcore.ErrorLevel).Len(), "a bad file is logged once, not per poll")
		assert.False(t, known(store, "acme-secret-key"), "the previous file (key revoked) is still in force")
		assert.True(t, known(store, "globex-secret-key"), "and its valid keys keep working")

		path2 := edgetest.TempFile(t, "keys2.yaml", keysFile(true))
		store2, err := apikey.Open(apikey.StoreConfig{Path: path2, PollInterval: -1})
		require.NoError(t, err)
		hup := make(chan os.Signal)
		go store2.Watch(ctx, hup)
		require.NoError(t, os.WriteFile(path2, []byte(keysFile(false)), 0o600))
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.False(t, known(store2, "acme-secret-key"), "no reload without a signal")
		hup <- syscall.SIGHUP
		synctest.Wait()
		assert.True(t, known(store2, "acme-secret-key"), "SIGHUP reloads")
	})
}

func TestReloadOnFileChangeAndSignal(t *testing.T) {
	t.Parallel()
	path := edgetest.TempFile(t, "keys.yaml", keysFile(false))
	core, logs := observer.New(zapcore.InfoLevel)
	store, err := apikey.Open(apikey.StoreConfig{Path: path, PollInterval: 20 * time.Millisecond, Logger: zap.New(core)})
	require.NoError(t, err)
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go store.Watch(ctx, hup)
	url := serve(t, apikey.Config{Store: store}, auth.ScopeCatalogRead)
	acme := map[string]string{"X-API-Key": "acme-secret-key"}

	// Clients keep calling through every reload; none may fail for it.
	var failures, served atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get(url + "/?probe")
			if err != nil {
				failures.Add(1)
				continue
			}
			_ = resp.Body.Close()
			if resp.StatusCode != 401 { // no key: always 401 unauthorized
				failures.Add(1)
			}
			served.Add(1)
		}
	}()

	require.Equal(t, 200, get(t, url, acme).status)

	// Revoking the key in the file is picked up by polling.
	require.NoError(t, os.WriteFile(path, []byte(keysFile(true)), 0o600))
	require.Eventually(t, func() bool { return get(t, url, acme).status == 401 }, 5*time.Second, 20*time.Millisecond)

	// A broken file keeps the previous keys and is reported once.
	require.NoError(t, os.WriteFile(path, []byte("partners: [ {id: "), 0o600))
	require.Eventually(t, func() bool {
		return logs.FilterLevelExact(zapcore.ErrorLevel).Len() == 1
	}, 5*time.Second, 20*time.Millisecond)
	// That it stays logged once over many polls is proven on fake time by
	// TestWatchOnFakeTime.
	assert.Equal(t, 401, get(t, url, acme).status, "the previous file (key revoked) is still in force")
	inventory := serve(t, apikey.Config{Store: store}, auth.ScopeInventoryRead)
	assert.Equal(t, 200, get(t, inventory, map[string]string{"X-API-Key": "globex-secret-key", "X-Forwarded-For": "10.9.9.9"}).status,
		"and its valid keys keep working")

	// SIGHUP reloads on demand (polling disabled to prove it is the signal).
	path2 := edgetest.TempFile(t, "keys2.yaml", keysFile(true))
	store2, err := apikey.Open(apikey.StoreConfig{Path: path2, PollInterval: -1})
	require.NoError(t, err)
	hup2 := make(chan os.Signal, 1)
	go store2.Watch(ctx, hup2)
	url2 := serve(t, apikey.Config{Store: store2}, auth.ScopeCatalogRead)
	require.Equal(t, 401, get(t, url2, acme).status)
	require.NoError(t, os.WriteFile(path2, []byte(keysFile(false)), 0o600))
	assert.Equal(t, 401, get(t, url2, acme).status, "no reload without a signal (for ever: TestWatchOnFakeTime)")
	hup2 <- syscall.SIGHUP
	require.Eventually(t, func() bool { return get(t, url2, acme).status == 200 }, 5*time.Second, 10*time.Millisecond)

	close(stop)
	wg.Wait()
	assert.Zero(t, failures.Load(), "no request failed during reloads")
	assert.Positive(t, served.Load())
}
