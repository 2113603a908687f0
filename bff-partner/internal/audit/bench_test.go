package audit_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/bff-partner/internal/audit"
)

// auditMiddleware returns the audit layer writing to a buffered file in a
// temporary directory, closed when the benchmark ends.
func auditMiddleware(b *testing.B) echo.MiddlewareFunc {
	w, err := audit.Open(audit.WriterConfig{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Close(context.Background()) })
	mw, err := audit.Config{Sink: w}.ToMiddleware()
	if err != nil {
		b.Fatal(err)
	}
	return mw
}

// benchAudit measures recording POST /v2/orders requests with body to a
// buffered file, answered status once the handler read the body, as
// validation reads it in the gateway: the audit records what the chain
// reads.
func benchAudit(b *testing.B, status int, body string) {
	mw := auditMiddleware(b)
	e := echo.New()
	e.POST("/v2/orders", func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return err
		}
		return c.NoContent(status)
	}, mw)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v2/orders?x=1", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		e.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// BenchmarkAudit measures recording one request with a small JSON body.
func BenchmarkAudit(b *testing.B) {
	benchAudit(b, http.StatusCreated,
		`{"items":[{"productId":"p-0001","quantity":2}],"currency":"USD","payment":{"cardNumber":"4111111111111111"}}`)
}

// BenchmarkAuditGet measures recording a bodiless GET answered 200, the
// pass-through routes' case (GET /v2/inventory/{id}).
func BenchmarkAuditGet(b *testing.B) {
	mw := auditMiddleware(b)
	e := echo.New()
	e.GET("/v2/inventory/:id", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, mw)
	req := httptest.NewRequest(http.MethodGet, "/v2/inventory/p-0001", nil)
	b.ReportAllocs()
	for b.Loop() {
		e.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// BenchmarkAuditRefusedBody measures recording a request whose 1 MiB body
// the chain read and refused (400), as validation refuses a body of
// 1e999999 quantities: what the audit adds to a hostile request.
func BenchmarkAuditRefusedBody(b *testing.B) {
	const line = `{"productId":"p-0001","quantity":1e999999}`
	var sb strings.Builder
	sb.WriteString(`{"currency":"USD","items":[` + line)
	for sb.Len()+len(line)+3 < 1<<20 {
		sb.WriteString("," + line)
	}
	sb.WriteString(`]}`)
	benchAudit(b, http.StatusBadRequest, sb.String())
}

// BenchmarkWriterWrite measures appending one GET's entry to a buffered
// file, the write path of every answered request.
func BenchmarkWriterWrite(b *testing.B) {
	w, err := audit.Open(audit.WriterConfig{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(context.Background())
	e := audit.Entry{
		Time: time.Now(), RequestID: "0af7651916cd43dd8448eb211c80319c", PartnerID: "acme", KeyID: "acme-dev-1",
		ClientIP: "203.0.113.7", Method: http.MethodGet, Path: "/v2/products/p-0001", Status: http.StatusOK, LatencyMs: 1.234,
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(e); err != nil {
			b.Fatal(err)
		}
	}
}
