package validation_test

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

	"github.com/shopfront/bff-partner/internal/validation"
	"github.com/shopfront/contracts/public"
	"github.com/shopfront/shared/edge/problem"
)

// newServer serves the partner routes behind the validation middleware; the
// handlers echo back what reached them.
func newServer(t *testing.T, maxBody int64) *httptest.Server {
	t.Helper()
	doc, err := public.Load(context.Background(), "partner.yaml")
	require.NoError(t, err)
	mw, err := validation.Config{Document: doc, MaxBodyBytes: maxBody}.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	reached := func(c echo.Context) error {
		b, _ := io.ReadAll(c.Request().Body)
		return c.JSON(http.StatusOK, map[string]any{"reached": true, "body": string(b)})
	}
	g := e.Group("", mw)
	g.GET("/v2/products", reached)
	g.GET("/v2/products/:id", reached)
	g.POST("/v2/orders", reached)
	g.GET("/v2/inventory/:productId", reached)
	g.GET("/outside", reached)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

type fieldError struct {
	In      string `json:"in"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

type answer struct {
	Error   string       `json:"error"`
	Errors  []fieldError `json:"errors"`
	Reached bool         `json:"reached"`
	Body    string       `json:"body"`
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	srv := newServer(t, 0)
	const order = `{"items":[{"productId":"p-1","quantity":2}],"currency":"USD"}`
	tests := []struct {
		name         string
		method       string
		path         string
		contentType  string
		idemKey      string
		body         string
		expectStatus int
		expectCode   string
		expectErrors []fieldError
	}{
		{name: "ok, valid order", method: http.MethodPost, path: "/v2/orders", contentType: "application/json",
			idemKey: "k-1", body: order, expectStatus: http.StatusOK},
		{name: "ok, charset parameter", method: http.MethodPost, path: "/v2/orders", contentType: "application/json; charset=utf-8",
			idemKey: "k-1", body: order, expectStatus: http.StatusOK},
		{name: "ok, valid query", method: http.MethodGet, path: "/v2/products?category=shoes&page=2&pageSize=100", expectStatus: http.StatusOK},
		{name: "ok, route outside the document", method: http.MethodGet, path: "/outside?anything=1", expectStatus: http.StatusOK},
		{name: "nok, every body problem with its JSON path", method: http.MethodPost, path: "/v2/orders",
			contentType: "application/json", idemKey: "k-1",
			body:         `{"items":[{"productId":"p-1","quantity":"two"},{"productId":"p-2","quantity":0,"color":"red"}],"currency":"usd","partnerId":"other"}`,
			expectStatus: http.StatusBadRequest, expectCode: problem.CodeValidationFailed,
			expectErrors: []fieldError{
				{In: "body", Path: "/currency", Message: "must match ^[A-Z]{3}$"},
				{In: "body", Path: "/items/0/quantity", Message: "must be an integer"},
				{In: "body", Path: "/items/1/color", Message: "unknown field"},
				{In: "body", Path: "/items/1/quantity", Message: "must be at least 1"},
				{In: "body", Path: "/partnerId", Message: "unknown field"},
			}},
		{name: "nok, missing fields", method: http.MethodPost, path: "/v2/orders", contentType: "application/json",
			idemKey: "k-1", body: `{}`, expectStatus: http.StatusBadRequest, expectCode: problem.CodeValidationFailed,
			expectErrors: []fieldError{
				{In: "body", Path: "/currency", Message: "is required"},
				{In: "body", Path: "/items", Message: "is required"},
			}},
		{name: "nok, missing Idempotency-Key", method: http.MethodPost, path: "/v2/orders", contentType: "application/json",
			body: order, expectStatus: http.StatusBadRequest, expectCode: problem.CodeValidationFailed,
			expectErrors: []fieldError{{In: "header", Path: "Idempotency-Key", Message: "is required"}}},
		{name: "nok, malformed JSON", method: http.MethodPost, path: "/v2/orders", contentType: "application/json",
			idemKey: "k-1", body: `{"items":`, expectStatus: http.StatusBadRequest, expectCode: problem.CodeValidationFailed,
			expectErrors: []fieldError{{In: "body", Path: "", Message: "is not valid JSON"}}},
		{name: "nok, empty body", method: http.MethodPost, path: "/v2/orders", contentType: "application/json",
			idemKey: "k-1", body: ``, expectStatus: http.StatusBadRequest, expectCode: problem.CodeValidationFailed},
		{name: "nok, text body", method: http.MethodPost, path: "/v2/orders", contentType: "text/plain",
			idemKey: "k-1", body: "two shoes please", expectStatus: http.StatusUnsupportedMediaType, expectCode: problem.CodeUnsupportedMediaType},
		{name: "nok, form body", method: http.MethodPost, path: "/v2/orders", contentType: "application/x-www-form-urlencoded",
			idemKey: "k-1", body: "currency=USD", expectStatus: http.StatusUnsupportedMediaType, expectCode: problem.CodeUnsupportedMediaType},
		{name: "nok, body without content type", method: http.MethodPost, path: "/v2/orders",
			idemKey: "k-1", body: order, expectStatus: http.StatusUnsupportedMediaType, expectCode: problem.CodeUnsupportedMediaType},
		{name: "nok, query out of range", method: http.MethodGet, path: "/v2/products?page=0&pageSize=101",
			expectStatus: http.StatusBadRequest, expectCode: problem.CodeValidationFailed,
			expectErrors: []fieldError{
				{In: "query", Path: "page", Message: "must be at least 1"},
				{In: "query", Path: "pageSize", Message: "must be at most 100"},
			}},
		{name: "nok, query of the wrong type", method: http.MethodGet, path: "/v2/products?pageSize=ten",
			expectStatus: http.StatusBadRequest, expectCode: problem.CodeValidationFailed,
			expectErrors: []fieldError{{In: "query", Path: "pageSize", Message: "must be an integer"}}},
		{name: "nok, unknown query parameter", method: http.MethodGet, path: "/v2/products?pagesize=500",
			expectStatus: http.StatusBadRequest, expectCode: problem.CodeValidationFailed,
			expectErrors: []fieldError{{In: "query", Path: "pagesize", Message: "unknown query parameter"}}},
		{name: "nok, bad path parameter", method: http.MethodGet, path: "/v2/inventory/" + strings.Repeat("x", 65),
			expectStatus: http.StatusBadRequest, expectCode: problem.CodeValidationFailed,
			expectErrors: []fieldError{{In: "path", Path: "productId", Message: "must be at most 64 characters long"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.idemKey != "" {
				req.Header.Set("Idempotency-Key", tt.idemKey)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			var got answer
			require.NoError(t, json.NewDecoder(res.Body).Decode(&got))
			assert.Equal(t, tt.expectStatus, res.StatusCode)
			if tt.expectStatus == http.StatusOK {
				assert.True(t, got.Reached)
				if tt.method == http.MethodPost {
					assert.Equal(t, tt.body, got.Body, "the handler reads the body as sent")
				}
				return
			}
			assert.False(t, got.Reached, "a refused request never reaches the handler")
			assert.Equal(t, problem.ContentType, res.Header.Get("Content-Type"))
			assert.Equal(t, tt.expectCode, got.Error)
			if tt.expectErrors != nil {
				assert.Equal(t, tt.expectErrors, got.Errors)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	srv := newServer(t, 0)
	big := `{"items":[{"productId":"p-1","quantity":1}],"currency":"USD","pad":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name    string
		chunked bool
	}{
		{name: "nok, declared length over 1 MiB"},
		{name: "nok, chunked body over 1 MiB", chunked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader = strings.NewReader(big)
			if tt.chunked {
				body = io.MultiReader(strings.NewReader(big)) // unknown length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/v2/orders", body)
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "k")
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			var got answer
			require.NoError(t, json.NewDecoder(res.Body).Decode(&got))
			assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
			assert.Equal(t, problem.CodePayloadTooLarge, got.Error)
		})
	}
}

func TestBodyJustUnderLimitIsValidated(t *testing.T) {
	t.Parallel()
	srv := newServer(t, 64)
	body := `{"items":[{"productId":"p-1","quantity":1}],"currency":"USD"}` // 61 bytes
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v2/orders", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "k")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

func TestConfig(t *testing.T) {
	t.Parallel()
	_, err := validation.Config{}.ToMiddleware()
	assert.Error(t, err, "the document is required")
}
