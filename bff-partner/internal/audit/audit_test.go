package audit_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/audit"
	"github.com/shopfront/shared/edge/apikey"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

// newGateway serves a small partner-like chain: request id, then audit,
// then a fake auth that rejects requests without X-API-Key, then handlers.
func newGateway(t *testing.T, dir string, clk *clock) (*httptest.Server, *audit.Writer) {
	t.Helper()
	w, err := audit.Open(audit.WriterConfig{Dir: dir, Now: clk.Now, FlushInterval: time.Hour})
	require.NoError(t, err)
	mw, err := audit.Config{Sink: w, Now: clk.Now}.ToMiddleware()
	require.NoError(t, err)
	rid, err := requestid.Config{}.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.Use(rid, mw, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Header.Get("X-API-Key") == "" {
				return problem.Unauthorized("no key")
			}
			r := c.Request()
			c.SetRequest(r.WithContext(auth.WithPrincipal(r.Context(),
				&auth.Principal{Partner: "acme", KeyID: "acme-prod-1", Client: auth.ClientPartner})))
			return next(c)
		}
	})
	e.POST("/v2/orders", func(c echo.Context) error {
		clk.Add(15 * time.Millisecond)
		return c.JSON(http.StatusCreated, map[string]string{"id": "o-1", "secretOfResponse": "never logged"})
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv, w
}

func send(t *testing.T, url, body, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-1")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode
}

func TestMiddlewareRecordsEveryAnsweredRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := &clock{now: time.Date(2026, 3, 4, 23, 59, 59, 0, time.UTC)}
	srv, w := newGateway(t, dir, clk)

	body := `{"items":[{"productId":"p-1","quantity":2}],"currency":"USD",
		"payment":{"cardNumber":"4111 1111 1111 1111","Password":"hunter2","nested":[{"api_key":"sk_live_x","note":"4242424242424242"}]},
		"access_token":"abc","clientSecret":"s"}`
	assert.Equal(t, http.StatusCreated, send(t, srv.URL+"/v2/orders?page=1&api_key=sf_dev_secret", body, "sf_dev_key"))
	clk.Add(time.Second) // past midnight: the next line goes to the next day's file.
	assert.Equal(t, http.StatusUnauthorized, send(t, srv.URL+"/v2/orders", `not json at all`, ""))
	require.NoError(t, w.Close(context.Background()))

	// The first request started before midnight, the second after it.
	first := readLines(t, filepath.Join(dir, "audit-2026-03-04.jsonl"))
	require.Len(t, first, 1)
	e := first[0]
	assert.Equal(t, "2026-03-04T23:59:59Z", e["time"])
	assert.Equal(t, "req-1", e["requestId"])
	assert.Equal(t, "acme", e["partnerId"])
	assert.Equal(t, "acme-prod-1", e["keyId"])
	assert.Equal(t, "127.0.0.1", e["clientIp"])
	assert.Equal(t, "POST", e["method"])
	assert.Equal(t, "/v2/orders", e["path"])
	assert.Equal(t, "page=1&api_key=%5BREDACTED%5D", e["query"])
	assert.EqualValues(t, 201, e["status"])
	assert.InDelta(t, 15.0, e["latencyMs"], 0.001)
	rb := e["requestBody"].(map[string]any)
	assert.Equal(t, "USD", rb["currency"])
	assert.Equal(t, []any{map[string]any{"productId": "p-1", "quantity": 2.0}}, rb["items"])
	pay := rb["payment"].(map[string]any)
	assert.Equal(t, audit.Redacted, pay["cardNumber"])
	assert.Equal(t, audit.Redacted, pay["Password"])
	nested := pay["nested"].([]any)[0].(map[string]any)
	assert.Equal(t, audit.Redacted, nested["api_key"])
	assert.Equal(t, audit.Redacted, nested["note"], "a card number in any field")
	assert.Equal(t, audit.Redacted, rb["access_token"])
	assert.Equal(t, audit.Redacted, rb["clientSecret"])

	raw, err := os.ReadFile(filepath.Join(dir, "audit-2026-03-04.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"query":"page=1&api_key=`, "no HTML escaping")
	for _, secret := range []string{"hunter2", "4111", "sk_live_x", "sf_dev_secret", "sf_dev_key", "never logged", "o-1"} {
		assert.NotContains(t, string(raw), secret)
	}

	second := readLines(t, filepath.Join(dir, "audit-2026-03-05.jsonl"))
	require.Len(t, second, 1)
	assert.EqualValues(t, 401, second[0]["status"], "rejected requests are recorded")
	assert.Equal(t, "", second[0]["partnerId"])
	assert.Equal(t, "", second[0]["keyId"])
	assert.Nil(t, second[0]["requestBody"])
	assert.Equal(t, audit.NoteNotJSON, second[0]["requestBodyNote"])
}

func TestSweepDeletesFilesOlderThan90Days(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"audit-2025-12-01.jsonl", "audit-2025-12-04.jsonl", "audit-2025-12-05.jsonl",
		"audit-2026-03-04.jsonl", "notes.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("{}\n"), 0o600))
	}
	clk := &clock{now: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)} // 90 days after 2025-12-04 12:00
	w, err := audit.Open(audit.WriterConfig{Dir: dir, Now: clk.Now})
	require.NoError(t, err)
	defer w.Close(context.Background())
	left, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	names := make([]string, 0, len(left))
	for _, p := range left {
		names = append(names, filepath.Base(p))
	}
	assert.ElementsMatch(t, []string{"audit-2025-12-04.jsonl", "audit-2025-12-05.jsonl", "audit-2026-03-04.jsonl", "notes.txt"}, names,
		"deleted at start-up: only days wholly older than 90 days, only audit files")

	clk.Add(24 * time.Hour)
	deleted, err := w.Sweep()
	require.NoError(t, err)
	assert.Equal(t, []string{"audit-2025-12-04.jsonl"}, deleted, "and daily")
}

func TestRedaction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		wantBody string
		wantNote string
	}{
		{name: "ok, plain body kept", body: `{"a":1,"b":["x"]}`, wantBody: `{"a":1,"b":["x"]}`},
		{name: "ok, big integers kept exactly", body: `{"n":12345678901234567890}`, wantBody: `{"n":12345678901234567890}`},
		{name: "ok, names in any case and separator", body: `{"API-KEY":"k","refreshToken":"t","pass_word":"p","secretAnswer":"s"}`,
			wantBody: `{"API-KEY":"[REDACTED]","pass_word":"[REDACTED]","refreshToken":"[REDACTED]","secretAnswer":"[REDACTED]"}`},
		{name: "ok, card number as a JSON number", body: `{"x":4111111111111111}`, wantBody: `{"x":"[REDACTED]"}`},
		{name: "ok, digits failing Luhn kept", body: `{"x":"4111111111111112"}`, wantBody: `{"x":"4111111111111112"}`},
		{name: "ok, empty body is null", body: ``, wantBody: ``},
		{name: "nok, not JSON", body: `<xml/>`, wantNote: audit.NoteNotJSON},
		{name: "nok, two JSON values", body: `{} {}`, wantNote: audit.NoteNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, note := audit.RedactBody([]byte(tt.body), "")
			assert.Equal(t, tt.wantBody, string(got))
			assert.Equal(t, tt.wantNote, note)
		})
	}
}

func TestBodyOverCapIsNotedNotRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := audit.Open(audit.WriterConfig{Dir: dir})
	require.NoError(t, err)
	mw, err := audit.Config{Sink: w, MaxBodyBytes: 10}.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	var seen string
	e.POST("/x", func(c echo.Context) error {
		b := new(strings.Builder)
		_, _ = bufio.NewReader(c.Request().Body).WriteTo(b)
		seen = b.String()
		return c.NoContent(http.StatusNoContent)
	}, mw)
	srv := httptest.NewServer(e)
	defer srv.Close()
	body := `{"padding":"0123456789"}`
	res, err := http.Post(srv.URL+"/x", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	res.Body.Close()
	require.NoError(t, w.Close(context.Background()))
	assert.Equal(t, body, seen, "the handler still reads the whole body")
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	require.Len(t, files, 1)
	lines := readLines(t, files[0])
	require.Len(t, lines, 1)
	assert.Equal(t, audit.NoteTooLarge, lines[0]["requestBodyNote"])
	assert.EqualValues(t, 204, lines[0]["status"])
}

// TestMiddlewareNamesPresentedKeys checks the audit names a known key
// from the keys file when no principal was set (the request was refused
// by or before authentication), leaves unknown keys unnamed, and prefers
// the authenticated principal.
func TestMiddlewareNamesPresentedKeys(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("sf_known_key"))
	keys, err := apikey.Open(apikey.StoreConfig{Path: edgetest.TempFile(t, "keys.yaml", `partners:
  - id: acme
    name: Acme
    keys:
      - {id: acme-1, sha256: `+hex.EncodeToString(sum[:])+`, scopes: [catalog:read], revoked: true}
`)})
	require.NoError(t, err)
	tests := []struct {
		name        string
		header      string
		key         string
		principal   bool
		wantPartner string
		wantKey     string
	}{
		{name: "ok, known key without a principal is named", key: "sf_known_key", wantPartner: "acme", wantKey: "acme-1"},
		{name: "ok, key in a custom header", header: "X-Partner-Key", key: "sf_known_key", wantPartner: "acme", wantKey: "acme-1"},
		{name: "ok, the principal wins", key: "sf_known_key", principal: true, wantPartner: "globex", wantKey: "globex-1"},
		{name: "nok, unknown key stays unnamed", key: "sf_unknown"},
		{name: "nok, no key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			w, err := audit.Open(audit.WriterConfig{Dir: dir, FlushInterval: time.Hour})
			require.NoError(t, err)
			mw, err := audit.Config{Sink: w, Keys: keys, KeyHeader: tt.header}.ToMiddleware()
			require.NoError(t, err)
			e := echo.New()
			e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
			e.Pre(mw)
			e.GET("/v2/products", func(c echo.Context) error {
				if !tt.principal {
					return problem.Forbidden("refused")
				}
				r := c.Request()
				c.SetRequest(r.WithContext(auth.WithPrincipal(r.Context(),
					&auth.Principal{Partner: "globex", KeyID: "globex-1", Client: auth.ClientPartner})))
				return c.NoContent(http.StatusNoContent)
			})
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/v2/products", nil)
			require.NoError(t, err)
			header := tt.header
			if header == "" {
				header = audit.DefaultKeyHeader
			}
			if tt.key != "" {
				req.Header.Set(header, tt.key)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.NoError(t, w.Close(context.Background()))

			files, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
			require.NoError(t, err)
			require.Len(t, files, 1)
			lines := readLines(t, files[0])
			require.Len(t, lines, 1)
			assert.Equal(t, tt.wantPartner, lines[0]["partnerId"])
			assert.Equal(t, tt.wantKey, lines[0]["keyId"])
			raw, err := os.ReadFile(files[0])
			require.NoError(t, err)
			assert.NotContains(t, string(raw), "sf_known_key")
		})
	}
}
