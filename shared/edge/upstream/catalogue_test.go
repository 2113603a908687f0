package upstream

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/shopfront/shared/edge/edgetest"
)

// TestCatalogueHasPassedThroughCodes holds docs/errors.md to the codes a
// domain service's 4xx is passed through as when it names none.
func TestCatalogueHasPassedThroughCodes(t *testing.T) {
	t.Parallel()
	anchors := edgetest.Anchors(edgetest.Doc(t, "errors.md"))
	for _, status := range []int{
		http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusConflict, http.StatusGone, http.StatusPreconditionFailed, http.StatusUnprocessableEntity,
		http.StatusTooManyRequests, http.StatusTeapot,
	} {
		code := clientErrorProblem(status, "").Code
		assert.True(t, anchors[code], "docs/errors.md has no section %q (an upstream %d)", code, status)
	}
}
