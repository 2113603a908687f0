package openapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/openapi"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	for _, service := range domain.ServiceNames() {
		t.Run("ok, "+service, func(t *testing.T) {
			t.Parallel()
			doc, err := openapi.Load(t.Context(), service)
			require.NoError(t, err)
			assert.Equal(t, "3.1.0", doc.OpenAPI)
			assert.NotEmpty(t, doc.Paths.Map())
			assert.Contains(t, doc.Components.Schemas, "Problem")
		})
	}
	t.Run("nok, unknown service", func(t *testing.T) {
		t.Parallel()
		_, err := openapi.Load(t.Context(), "billing")
		assert.Error(t, err)
	})
}
