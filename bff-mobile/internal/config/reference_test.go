package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/shopfront/bff-mobile/internal/config"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
)

// TestConfigurationReference holds docs/configuration.md to the code: every
// variable bff-mobile reads and every YAML key its Config decodes is documented,
// and the document names none the code does not read.
func TestConfigurationReference(t *testing.T) {
	t.Parallel()
	doc := edgetest.DocConfigReference(t, "bff-mobile")
	c := config.Defaults()
	assert.Equal(t, edgeconfig.Variables(&c), doc.Vars, "environment variables: code (expected) vs docs/configuration.md (actual)")
	assert.Equal(t, edgeconfig.YAMLKeys(c), doc.Keys, "YAML keys: code (expected) vs docs/configuration.md (actual)")
}
