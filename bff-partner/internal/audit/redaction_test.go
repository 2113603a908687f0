package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/bff-partner/internal/audit"
	"github.com/shopfront/shared/edge/accesslog"
	"github.com/shopfront/shared/edge/logging"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/redact"
	"github.com/shopfront/shared/edge/requestid"
)

// TestAuditAndAccessLogRedactTheSameNames sends one request per secret
// name through a server that writes both records, the access log and the
// audit, and checks that each hides the value of that name as a query
// parameter and as a JSON field nested in objects and arrays, while a
// plain name is kept in both.
func TestAuditAndAccessLogRedactTheSameNames(t *testing.T) {
	t.Parallel()
	fragments, whole := redact.Names()
	type given struct {
		name   string
		secret bool
	}
	var cases []given
	for _, f := range fragments {
		// Fragments match inside a name, in any case and separator.
		cases = append(cases, given{"x_" + strings.ToUpper(f[:1]) + f[1:] + "-id", true})
	}
	for _, w := range whole {
		cases = append(cases, given{strings.ToUpper(w), true})
	}
	cases = append(cases, given{"page", false}, given{"company", false})

	core, logs := observer.New(zapcore.InfoLevel)
	dir := t.TempDir()
	w, err := audit.Open(audit.WriterConfig{Dir: dir, FlushInterval: time.Hour})
	require.NoError(t, err)
	auditMW, err := audit.Config{Sink: w}.ToMiddleware()
	require.NoError(t, err)
	rid, err := requestid.Config{}.ToMiddleware()
	require.NoError(t, err)
	access, err := accesslog.Config{Logger: zap.New(core)}.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.Pre(rid, auditMW)
	e.Use(access)
	bodies := make(map[string]string)
	e.POST("/v2/orders", func(c echo.Context) error {
		var raw json.RawMessage
		if err := c.Bind(&raw); err != nil {
			return err
		}
		// The field a gateway would log a request body with.
		enc := zapcore.NewMapObjectEncoder()
		logging.Body("body", raw).AddTo(enc)
		b, err := json.Marshal(enc.Fields["body"])
		if err != nil {
			return err
		}
		bodies[requestid.FromContext(c.Request().Context())] = string(b)
		return c.NoContent(http.StatusNoContent)
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	const value = "s3cr3t-value"
	for i, tt := range cases {
		body := fmt.Sprintf(`{"order":{"lines":[{%q:%q}]}}`, tt.name, value)
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/v2/orders?"+tt.name+"="+value+"&q=1", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", fmt.Sprintf("req-%d", i))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		require.Equal(t, http.StatusNoContent, res.StatusCode)
	}
	require.NoError(t, w.Close(context.Background()))

	auditLines := readEntries(t, dir)
	require.Len(t, auditLines, len(cases))
	accessQuery := make(map[string]string)
	for _, entry := range logs.All() {
		f := entry.ContextMap()
		accessQuery[fmt.Sprint(f["requestId"])] = fmt.Sprint(f["query"])
	}
	for i, tt := range cases {
		t.Run(map[bool]string{true: "ok, secret ", false: "ok, plain "}[tt.secret]+tt.name, func(t *testing.T) {
			id := fmt.Sprintf("req-%d", i)
			a := auditLines[id]
			hidden := func(record string) {
				t.Helper()
				if tt.secret {
					assert.NotContains(t, record, value)
				} else {
					assert.Contains(t, record, value)
				}
			}
			hidden(a.Query)
			hidden(string(a.RequestBody))
			hidden(accessQuery[id])
			hidden(bodies[id])
			assert.Equal(t, redact.Name(tt.name), tt.secret)
		})
	}
}

// readEntries decodes every audit line in dir by request id.
func readEntries(t *testing.T, dir string) map[string]audit.Entry {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	require.NoError(t, err)
	out := make(map[string]audit.Entry)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := json.NewDecoder(bytes.NewReader(raw))
		for dec.More() {
			var e audit.Entry
			require.NoError(t, dec.Decode(&e))
			out[e.RequestID] = e
		}
	}
	return out
}
