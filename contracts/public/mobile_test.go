package public_test

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/public"
)

func TestMobileDocumentIsValidOpenAPI31(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(public.Mobile())
	require.NoError(t, err)
	assert.True(t, doc.IsOpenAPI31OrLater())
	require.NoError(t, doc.Validate(loader.Context))
	for _, p := range []string{"/v1/home", "/v1/products/{id}", "/v1/search", "/v1/cart",
		"/v1/cart/items/{productId}", "/v1/orders", "/v1/orders/{id}"} {
		assert.NotNil(t, doc.Paths.Value(p), p)
	}

	tests := []struct {
		name   string
		schema string
		given  map[string]any
		ok     bool
	}{
		{name: "ok, money", schema: "Money", given: map[string]any{"amount": 1999, "currency": "USD"}, ok: true},
		{name: "nok, money with a decimal string", schema: "Money", given: map[string]any{"amount": "19.99", "currency": "USD"}},
		{name: "nok, money with an unknown member", schema: "Money", given: map[string]any{"amount": 1, "currency": "USD", "x": 1}},
		{name: "ok, card without its optional sources", schema: "ProductCard",
			given: map[string]any{"productId": "p1", "name": nil, "thumbnailUrl": nil, "price": nil}, ok: true},
		{name: "nok, quantity above 99", schema: "SetQuantity", given: map[string]any{"quantity": 100}},
		{name: "ok, quantity zero", schema: "SetQuantity", given: map[string]any{"quantity": 0}, ok: true},
		{name: "ok, validation errors", schema: "ValidationProblem", given: map[string]any{"type": "about:blank", "title": "Bad Request",
			"status": 400, "error": "validation_failed", "errors": []any{map[string]any{"in": "body", "path": "/items/0/quantity", "message": "must be an integer"}}}, ok: true},
		{name: "nok, validation error without its location", schema: "ValidationProblem", given: map[string]any{"type": "about:blank", "title": "Bad Request",
			"status": 400, "error": "validation_failed", "errors": []any{map[string]any{"path": "$.quantity", "message": "must be an integer"}}}},
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
