package public_test

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/public"
)

func TestWebDocumentIsValidOpenAPI31(t *testing.T) {
	t.Parallel()
	doc, err := public.Load(context.Background(), "web.yaml")
	require.NoError(t, err)
	assert.True(t, doc.IsOpenAPI31OrLater())
	for _, p := range []string{"/v1/session", "/v1/catalog", "/v1/pages/product/{id}", "/v1/pages/account", "/v1/me",
		"/v1/cart", "/v1/cart/items/{productId}", "/v1/orders", "/v1/orders/{id}", "/v1/events"} {
		assert.NotNil(t, doc.Paths.Value(p), p)
	}
	tests := []struct {
		name   string
		schema string
		given  map[string]any
		ok     bool
	}{
		{name: "ok, credentials", schema: "Credentials", given: map[string]any{"username": "alice", "password": "x"}, ok: true},
		{name: "nok, credentials without password", schema: "Credentials", given: map[string]any{"username": "alice"}},
		{name: "ok, validation errors", schema: "Problem", given: map[string]any{"type": "about:blank", "title": "Bad Request",
			"status": 400, "error": "validation_failed", "errors": []any{map[string]any{"in": "query", "path": "page", "message": "must be an integer"}}}, ok: true},
		{name: "nok, validation error without its location", schema: "Problem", given: map[string]any{"type": "about:blank", "title": "Bad Request",
			"status": 400, "error": "validation_failed", "errors": []any{map[string]any{"path": "$.password", "message": "is required"}}}},
		{name: "ok, card with its optional sources missing", schema: "Card",
			given: map[string]any{"productId": "p1", "name": nil, "imageUrl": nil, "price": nil, "listPrice": nil}, ok: true},
		{name: "ok, card with a price and a list price, each a money object", schema: "Card",
			given: map[string]any{"productId": "p1", "name": "Mug", "imageUrl": nil,
				"price": map[string]any{"amount": 1999, "currency": "USD"}, "listPrice": map[string]any{"amount": 2499, "currency": "USD"}}, ok: true},
		{name: "nok, card price as a decimal string", schema: "Card",
			given: map[string]any{"productId": "p1", "name": nil, "imageUrl": nil, "price": "19.99", "listPrice": nil}},
		{name: "nok, a list amount inside the money", schema: "Card",
			given: map[string]any{"productId": "p1", "name": nil, "imageUrl": nil,
				"price": map[string]any{"amount": 1999, "listAmount": 2499, "currency": "USD"}, "listPrice": nil}},
		{name: "nok, card without its list price", schema: "Card",
			given: map[string]any{"productId": "p1", "name": nil, "imageUrl": nil, "price": nil}},
		{name: "nok, money with a fractional amount", schema: "Money", given: map[string]any{"amount": 19.99, "currency": "USD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := doc.Components.Schemas[tt.schema]
			require.NotNil(t, s)
			err := s.Value.VisitJSON(tt.given, openapi3.EnableJSONSchema2020())
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestWebDocumentEvents(t *testing.T) {
	t.Parallel()
	doc, err := public.Load(context.Background(), "web.yaml")
	require.NoError(t, err)
	op := doc.Paths.Value("/v1/events").Get
	require.NotNil(t, op, "GET /v1/events")
	tests := []struct {
		name      string
		status    int
		mediaType string
	}{
		{name: "ok, the event stream", status: 200, mediaType: "text/event-stream"},
		{name: "ok, the WebSocket upgrade", status: 101},
		{name: "nok, no credential", status: 401, mediaType: "application/problem+json"},
		{name: "nok, WebSocket from another origin", status: 403, mediaType: "application/problem+json"},
		{name: "nok, too many streams", status: 429, mediaType: "application/problem+json"},
		{name: "nok, upstream failed", status: 502, mediaType: "application/problem+json"},
		{name: "nok, upstream refused", status: 503, mediaType: "application/problem+json"},
		{name: "nok, upstream timed out", status: 504, mediaType: "application/problem+json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := op.Responses.Status(tt.status)
			require.NotNil(t, res, "%d is documented", tt.status)
			if tt.mediaType == "" {
				assert.Empty(t, res.Value.Content, "an upgrade has no body")
				return
			}
			assert.NotNil(t, res.Value.Content.Get(tt.mediaType), "%d is %s", tt.status, tt.mediaType)
		})
	}
	assert.Nil(t, doc.Paths.Value("/v1/events").Get.Parameters.GetByInAndName("header", "X-CSRF-Token"), "no CSRF header on a GET")
}
