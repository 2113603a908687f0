package validation

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/public"
)

// TestCompiledBodiesAgreeWithKin checks the fast path's verdict against
// kin-openapi's on valid and invalid orders: they must never disagree, or
// an invalid body could slip through.
func TestCompiledBodiesAgreeWithKin(t *testing.T) {
	t.Parallel()
	doc, err := public.Load(context.Background(), "partner.yaml")
	require.NoError(t, err)
	bodies, err := compileBodies(doc)
	require.NoError(t, err)
	fast := bodies["POST /v2/orders"]
	require.NotNil(t, fast)
	kin := doc.Paths.Value("/v2/orders").Post.RequestBody.Value.Content.Get("application/json").Schema.Value

	for _, body := range []string{
		`{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":999},{"productId":"a.b_c-d","quantity":1}],"currency":"EUR"}`,
		`{"items":[],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":1000}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":1.5}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":"1"}],"currency":"USD"}`,
		`{"items":[{"productId":"","quantity":1}],"currency":"USD"}`,
		`{"items":[{"productId":"p 1","quantity":1}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001"}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":1}],"currency":"usd"}`,
		`{"items":[{"productId":"p-0001","quantity":1}]}`,
		`{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD","partnerId":"x"}`,
		`{"items":[{"productId":"p-0001","quantity":1,"x":null}],"currency":"USD"}`,
		`{"items":{"productId":"p-0001","quantity":1},"currency":"USD"}`,
		`[]`, `null`, `"order"`,
	} {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(body)))
		require.NoError(t, err)
		var kv any
		require.NoError(t, json.Unmarshal([]byte(body), &kv))
		fastOK := fast.Validate(v) == nil
		kinOK := kin.VisitJSON(kv, openapi3.EnableJSONSchema2020()) == nil
		assert.Equal(t, kinOK, fastOK, body)
	}
}
