package public_test

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/public"
)

func TestPartnerDocument(t *testing.T) {
	t.Parallel()
	doc, err := public.Load(context.Background(), "partner.yaml")
	require.NoError(t, err)
	assert.True(t, doc.IsOpenAPI31OrLater())
	require.NoError(t, doc.Validate(context.Background(), openapi3.EnableExamplesValidation()))
	for _, p := range []string{"/v2/products", "/v2/products/{id}", "/v2/inventory/{productId}", "/v2/orders",
		"/v2/orders/{id}", "/v1/products", "/v1/products/{id}", "/openapi.json", "/docs"} {
		assert.NotNil(t, doc.Paths.Value(p), p)
	}
	assert.True(t, doc.Paths.Value("/v1/products").Get.Deprecated)
	assert.True(t, doc.Paths.Value("/v1/products/{id}").Get.Deprecated)
	assert.False(t, doc.Paths.Value("/v2/products").Get.Deprecated)

	order := doc.Components.Schemas["CreateOrder"].Value
	assert.NoError(t, order.VisitJSON(map[string]any{"items": []any{map[string]any{"productId": "p-1", "quantity": 1.0}},
		"currency": "USD"}, openapi3.EnableJSONSchema2020()))
	assert.Error(t, order.VisitJSON(map[string]any{"items": []any{map[string]any{"productId": "p-1", "quantity": 1.0}},
		"currency": "USD", "partnerId": "other"}, openapi3.EnableJSONSchema2020()), "unknown fields are rejected")
}

func TestDocumentUnknown(t *testing.T) {
	t.Parallel()
	_, err := public.Document("nope.yaml")
	assert.Error(t, err)
}
