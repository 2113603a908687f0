package idempotency_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/shopfront/bff-partner/internal/idempotency"
	"github.com/shopfront/shared/edge/edgetest"
)

// TestCatalogueHasIdempotencyCodes holds docs/errors.md to the codes this
// package answers with beside the shared ones.
func TestCatalogueHasIdempotencyCodes(t *testing.T) {
	t.Parallel()
	anchors := edgetest.Anchors(edgetest.Doc(t, "errors.md"))
	for _, code := range []string{idempotency.CodeInFlight, idempotency.CodeStoreFull} {
		assert.True(t, anchors[code], "docs/errors.md has no section %q", code)
	}
}
