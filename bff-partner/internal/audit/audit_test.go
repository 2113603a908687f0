package audit_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
	"github.com/shopfront/shared/edge/redact"
	"github.com/shopfront/shared/edge/requestid"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// remarshal decodes v, a member of a decoded line, into the typed out.
func remarshal(t *testing.T, v, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, out), string(b))
}

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
		// The body is read, as validation reads it in the gateway.
		if _, err := io.ReadAll(c.Request().Body); err != nil {
			return err
		}
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
	// The recorded body, decoded into the fields the test sent.
	var rb struct {
		Currency string `json:"currency"`
		Items    []struct {
			ProductID string `json:"productId"`
			Quantity  int    `json:"quantity"`
		} `json:"items"`
		Payment struct {
			CardNumber string `json:"cardNumber"`
			Password   string `json:"Password"`
			Nested     []struct {
				APIKey string `json:"api_key"`
				Note   string `json:"note"`
			} `json:"nested"`
		} `json:"payment"`
		AccessToken  string `json:"access_token"`
		ClientSecret string `json:"clientSecret"`
	}
	recorded, err := json.Marshal(e["requestBody"])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(recorded, &rb))
	assert.Equal(t, "USD", rb.Currency)
	require.Len(t, rb.Items, 1)
	assert.Equal(t, "p-1", rb.Items[0].ProductID)
	assert.Equal(t, 2, rb.Items[0].Quantity)
	assert.Equal(t, redact.Marker, rb.Payment.CardNumber)
	assert.Equal(t, redact.Marker, rb.Payment.Password)
	require.Len(t, rb.Payment.Nested, 1)
	assert.Equal(t, redact.Marker, rb.Payment.Nested[0].APIKey)
	assert.Equal(t, redact.Marker, rb.Payment.Nested[0].Note, "a card number in any field")
	assert.Equal(t, redact.Marker, rb.AccessToken)
	assert.Equal(t, redact.Marker, rb.ClientSecret)

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
	assert.Equal(t, audit.NoteNotRead, second[0]["requestBodyNote"], "refused before its body was read")
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
		name       string
		body       string
		expectBody string
		expectNote string
	}{
		{name: "ok, plain body kept", body: `{"a":1,"b":["x"]}`, expectBody: `{"a":1,"b":["x"]}`},
		{name: "ok, big integers kept exactly", body: `{"n":12345678901234567890}`, expectBody: `{"n":12345678901234567890}`},
		{name: "ok, names in any case and separator", body: `{"API-KEY":"k","refreshToken":"t","pass_word":"p","secretAnswer":"s"}`,
			expectBody: `{"API-KEY":"[REDACTED]","pass_word":"[REDACTED]","refreshToken":"[REDACTED]","secretAnswer":"[REDACTED]"}`},
		{name: "ok, card number as a JSON number", body: `{"x":4111111111111111}`, expectBody: `{"x":"[REDACTED]"}`},
		{name: "ok, digits failing Luhn kept", body: `{"x":"4111111111111112"}`, expectBody: `{"x":"4111111111111112"}`},
		{name: "ok, empty body is null", body: ``, expectBody: ``},
		{name: "nok, not JSON", body: `<xml/>`, expectNote: audit.NoteNotJSON},
		{name: "nok, two JSON values", body: `{} {}`, expectNote: audit.NoteNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, note := audit.RedactBody([]byte(tt.body), "")
			assert.Equal(t, tt.expectBody, string(got))
			assert.Equal(t, tt.expectNote, note)
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
		name          string
		header        string
		key           string
		principal     bool
		expectPartner string
		expectKey     string
	}{
		{name: "ok, known key without a principal is named", key: "sf_known_key", expectPartner: "acme", expectKey: "acme-1"},
		{name: "ok, key in a custom header", header: "X-Partner-Key", key: "sf_known_key", expectPartner: "acme", expectKey: "acme-1"},
		{name: "ok, the principal wins", key: "sf_known_key", principal: true, expectPartner: "globex", expectKey: "globex-1"},
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
			assert.Equal(t, tt.expectPartner, lines[0]["partnerId"])
			assert.Equal(t, tt.expectKey, lines[0]["keyId"])
			raw, err := os.ReadFile(files[0])
			require.NoError(t, err)
			assert.NotContains(t, string(raw), "sf_known_key")
		})
	}
}

// auditServer serves handler behind the audit middleware in echo's Pre,
// as the gateway does, and returns the server and a function that closes
// the writer and returns the lines written.
func auditServer(t *testing.T, cfg audit.Config, pre []echo.MiddlewareFunc, handler echo.HandlerFunc) (*httptest.Server, func() []map[string]any) {
	t.Helper()
	dir := t.TempDir()
	w, err := audit.Open(audit.WriterConfig{Dir: dir, FlushInterval: time.Hour})
	require.NoError(t, err)
	if cfg.Sink == nil {
		cfg.Sink = w
	}
	mw, err := cfg.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.Pre(append([]echo.MiddlewareFunc{mw}, pre...)...)
	e.POST("/v2/orders", handler)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv, func() []map[string]any {
		t.Helper()
		require.NoError(t, w.Close(context.Background()))
		files, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
		require.NoError(t, err)
		if len(files) == 0 {
			return nil
		}
		require.Len(t, files, 1)
		return readLines(t, files[0])
	}
}

// chunked hides a reader's length, so the client sends it chunked, without
// Content-Length.
type chunked struct{ io.Reader }

// TestBodyIsRecordedAsTheChainReadsIt checks the audit records the body
// the handler chain read, and reads nothing the chain did not.
func TestBodyIsRecordedAsTheChainReadsIt(t *testing.T) {
	t.Parallel()
	const small = `{"currency":"USD","password":"hunter2"}`
	big := `{"pad":"` + strings.Repeat("x", 64) + `"}`
	readAll := func(c echo.Context) error {
		if _, err := io.ReadAll(c.Request().Body); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
	tests := []struct {
		name       string
		body       io.Reader
		handler    echo.HandlerFunc
		expectBody any
		expectNote string
	}{
		{name: "ok, body read by the chain is recorded, redacted", body: strings.NewReader(small), handler: readAll,
			expectBody: map[string]any{"currency": "USD", "password": redact.Marker}},
		{name: "ok, chunked body read by the chain is recorded", body: chunked{strings.NewReader(small)}, handler: readAll,
			expectBody: map[string]any{"currency": "USD", "password": redact.Marker}},
		{name: "ok, no body", handler: readAll},
		{name: "nok, chunked body over the cap", body: chunked{strings.NewReader(big)}, handler: readAll, expectNote: audit.NoteTooLarge},
		{name: "nok, Content-Length over the cap", body: strings.NewReader(big), handler: readAll, expectNote: audit.NoteTooLarge},
		{name: "nok, body read and not JSON", body: strings.NewReader(`nope`), handler: readAll, expectNote: audit.NoteNotJSON},
		{name: "nok, body never read", body: strings.NewReader(small), expectNote: audit.NoteNotRead,
			handler: func(echo.Context) error { return problem.Unauthorized("no key") }},
		{name: "nok, body read in part", body: chunked{strings.NewReader(small)}, expectNote: audit.NoteNotRead,
			handler: func(c echo.Context) error {
				_, _ = io.ReadFull(c.Request().Body, make([]byte, 5))
				return problem.ValidationFailed("bad")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, lines := auditServer(t, audit.Config{MaxBodyBytes: 50}, nil, tt.handler)
			body := tt.body
			if body == nil {
				body = http.NoBody
			}
			res, err := http.Post(srv.URL+"/v2/orders", "application/json", body)
			require.NoError(t, err)
			res.Body.Close()
			got := lines()
			require.Len(t, got, 1)
			assert.Equal(t, tt.expectBody, got[0]["requestBody"])
			if tt.expectNote == "" {
				assert.NotContains(t, got[0], "requestBodyNote")
			} else {
				assert.Equal(t, tt.expectNote, got[0]["requestBodyNote"])
			}
		})
	}
}

// TestRefusedBodiesAreRecordedUpToTheirOwnCap checks that the body of a
// refused request is redacted and recorded only up to MaxRefusedBodyBytes
// (a larger one is noted too_large, unparsed, so a hostile body costs no
// redaction), while an accepted body of the same size is recorded whole.
func TestRefusedBodiesAreRecordedUpToTheirOwnCap(t *testing.T) {
	t.Parallel()
	long := `{"password":"hunter2","pad":"` + strings.Repeat("x", 100) + `"}`
	const short = `{"password":"hunter2"}`
	answer := func(status int) echo.HandlerFunc {
		return func(c echo.Context) error {
			if _, err := io.ReadAll(c.Request().Body); err != nil {
				return err
			}
			if status >= 400 {
				return problem.ValidationFailed("bad")
			}
			return c.NoContent(status)
		}
	}
	tests := []struct {
		name       string
		body       string
		status     int
		expectBody bool
		expectNote string
	}{
		{name: "ok, refused body within the cap is recorded, redacted", body: short, status: 400, expectBody: true},
		{name: "ok, accepted body over the refused cap is recorded, redacted", body: long, status: 204, expectBody: true},
		{name: "nok, refused body over the cap is noted, not parsed", body: long, status: 400, expectNote: audit.NoteTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, lines := auditServer(t, audit.Config{MaxRefusedBodyBytes: 64}, nil, answer(tt.status))
			res, err := http.Post(srv.URL+"/v2/orders", "application/json", strings.NewReader(tt.body))
			require.NoError(t, err)
			res.Body.Close()
			got := lines()
			require.Len(t, got, 1)
			assert.NotContains(t, fmt.Sprint(got[0]), "hunter2")
			if tt.expectBody {
				require.IsType(t, map[string]any{}, got[0]["requestBody"])
				assert.Equal(t, redact.Marker, got[0]["requestBody"].(map[string]any)["password"])
				assert.NotContains(t, got[0], "requestBodyNote")
			} else {
				assert.Nil(t, got[0]["requestBody"])
				assert.Equal(t, tt.expectNote, got[0]["requestBodyNote"])
			}
		})
	}
}

// TestRefusedRequestIsAnsweredWithoutItsBody sends a request that asks
// before sending its body (Expect: 100-continue, RFC 9110 §10.1.1): one
// refused before anything reads its body must be answered at once, without
// the gateway asking for the body. An audit that read the body itself
// would ask for it, and wait for up to 1 MiB per connection that anonymous
// clients could trickle.
func TestRefusedRequestIsAnsweredWithoutItsBody(t *testing.T) {
	t.Parallel()
	srv, lines := auditServer(t, audit.Config{}, nil, func(echo.Context) error { return problem.Unauthorized("no key") })
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /v2/orders HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"+
		"Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
	require.NoError(t, err)
	// A coarse bound so that a gateway waiting for the body fails the test
	// rather than hanging it.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "answered without 100 Continue: the body was never asked for")
	got := lines()
	require.Len(t, got, 1)
	assert.EqualValues(t, 401, got[0]["status"])
	assert.Equal(t, audit.NoteNotRead, got[0]["requestBodyNote"])
}

type panickingSink struct{}

func (panickingSink) Write(audit.Entry) error { panic("sink bug") }

// TestPanicsCostNeitherTheAnswerNorTheLine checks that a bug in the
// audit's redaction or sink, or a panic ahead of echo's recover, still
// gives the client its answer and, where a sink works, the request its line.
func TestPanicsCostNeitherTheAnswerNorTheLine(t *testing.T) {
	t.Parallel()
	created := func(c echo.Context) error {
		if _, err := io.ReadAll(c.Request().Body); err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, map[string]string{"id": "o-1"})
	}
	tests := []struct {
		name         string
		cfg          func(audit.Config) audit.Config
		pre          []echo.MiddlewareFunc
		expectStatus int
		expectBody   string
		expectLine   bool
		expectNote   string
	}{
		{name: "nok, redaction panics", cfg: func(c audit.Config) audit.Config {
			return audit.WithRedactor(c, func([]byte, string) (json.RawMessage, string) { panic("redaction bug") })
		}, expectStatus: http.StatusCreated, expectBody: `{"id":"o-1"}`, expectLine: true, expectNote: audit.NoteAuditFailed},
		{name: "nok, sink panics", cfg: func(c audit.Config) audit.Config { c.Sink = panickingSink{}; return c },
			expectStatus: http.StatusCreated, expectBody: `{"id":"o-1"}`},
		{name: "nok, a later Pre middleware panics", pre: []echo.MiddlewareFunc{func(echo.HandlerFunc) echo.HandlerFunc {
			return func(echo.Context) error { panic(errors.New("pre bug")) }
		}}, expectStatus: http.StatusInternalServerError, expectLine: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := audit.Config{}
			if tt.cfg != nil {
				cfg = tt.cfg(cfg)
			}
			srv, lines := auditServer(t, cfg, tt.pre, created)
			res, err := http.Post(srv.URL+"/v2/orders?page=1", "application/json", strings.NewReader(`{"currency":"USD"}`))
			require.NoError(t, err, "the client gets its answer")
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, tt.expectStatus, res.StatusCode)
			if tt.expectBody != "" {
				assert.JSONEq(t, tt.expectBody, string(b))
			}
			got := lines()
			if !tt.expectLine {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1, "and the request its line")
			assert.EqualValues(t, tt.expectStatus, got[0]["status"])
			assert.Equal(t, "page=1", got[0]["query"])
			assert.Nil(t, got[0]["requestBody"])
			if tt.expectNote != "" {
				assert.Equal(t, tt.expectNote, got[0]["requestBodyNote"])
			}
		})
	}
}
