package oasdoc_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/internal/oasdoc"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		given       string
		expectError string // "" = no error
	}{
		{name: "ok, a minimal 3.1 document", given: `
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /ping:
    get:
      responses:
        "200": {description: pong, content: {application/json: {schema: {$ref: "#/components/schemas/Pong"}}}}
components:
  schemas:
    Pong: {type: object, properties: {ok: {type: boolean}}}
`},
		{name: "nok, not YAML", given: "openapi: [", expectError: `parsing document "x": `},
		{name: "nok, a dangling reference", given: `
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /ping:
    get:
      responses:
        "200": {description: pong, content: {application/json: {schema: {$ref: "#/components/schemas/Missing"}}}}
`, expectError: `parsing document "x": `},
		{name: "nok, invalid document", given: `
openapi: 3.1.0
info: {title: t}
paths: {}
`, expectError: `validating document "x": `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := oasdoc.Load(t.Context(), []byte(tt.given), `document "x"`)
			if tt.expectError != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.expectError)
				assert.Nil(t, doc)
				return
			}
			require.NoError(t, err)
			schema := doc.Paths.Find("/ping").Get.Responses.Status(200).Value.Content.Get("application/json").Schema
			require.NotNil(t, schema.Value, "references are resolved")
			assert.Contains(t, schema.Value.Properties, "ok")
		})
	}
}
