package validation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/validation"
	"github.com/shopfront/contracts/public"
	"github.com/shopfront/shared/edge/problem"
)

// fuzzEcho serves the partner routes behind the validation middleware,
// answering 204 when a request gets through.
func fuzzEcho(f *testing.F) *echo.Echo {
	doc, err := public.Load(context.Background(), "partner.yaml")
	if err != nil {
		f.Fatal(err)
	}
	mw, err := validation.Config{Document: doc}.ToMiddleware()
	if err != nil {
		f.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	ok := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	e.POST("/v2/orders", ok, mw)
	e.GET("/v2/products", ok, mw)
	e.GET("/v2/products/:id", ok, mw)
	return e
}

// checkAnswer fails unless rec is a pass (204) or a client error with at
// most 20 listed problems: no input may cost a 5xx.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch rec.Code {
	case http.StatusNoContent, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
	case http.StatusBadRequest:
		var p struct {
			Errors []json.RawMessage `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.Errors) == 0 || len(p.Errors) > 20 {
			t.Fatalf("400 with %d problems (%v): %s", len(p.Errors), err, rec.Body)
		}
	default:
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// FuzzValidateOrder: any order body is let through or refused as a client
// error.
func FuzzValidateOrder(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"productId":"p-0001","quantity":2}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":1e999999}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":0}],"currency":"usd","extra":1}`,
		`{"items":[],"currency":"USD","currency":"EUR"}`, `[]`, `{`, "\xff", ``,
	} {
		f.Add([]byte(s))
	}
	e := fuzzEcho(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v2/orders", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k-1")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		checkAnswer(t, rec)
	})
}

// FuzzValidateQuery: any query string and product id is let through or
// refused as a client error.
func FuzzValidateQuery(f *testing.F) {
	for _, s := range [][2]string{
		{"category=kitchen&page=2&pageSize=50", "p-0001"}, {"page=-1&pageSize=1e9", ".."}, {"page=&page=2", "%2e%2e"},
		{"unknown=1&q=%ff", "a%2Fb"}, {"pageSize=99999999999999999999999", "x"},
	} {
		f.Add(s[0], s[1])
	}
	e := fuzzEcho(f)
	f.Fuzz(func(t *testing.T, query, id string) {
		if strings.ContainsAny(query+id, "# \t\r\n") {
			return // not a request line a client can send
		}
		for _, target := range []string{"/v2/products?" + query, "/v2/products/" + url.PathEscape(id) + "?" + query} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			u, err := url.ParseRequestURI(target)
			if err != nil {
				return
			}
			req.URL, req.RequestURI = u, target
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code == http.StatusNotFound && id == "" {
				continue
			}
			checkAnswer(t, rec)
		}
	})
}
