package problem_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
)

// TestCatalogueHasEveryCode holds docs/errors.md to the package: every
// Code constant declared here has a section whose anchor is the code, which
// is where a problem's `type` points.
func TestCatalogueHasEveryCode(t *testing.T) {
	t.Parallel()
	codes := declaredCodes(t)
	require.NotEmpty(t, codes)
	anchors := edgetest.Anchors(edgetest.Doc(t, "errors.md"))
	for name, code := range codes {
		assert.True(t, anchors[code], "docs/errors.md has no section %q (%s): add a heading `## %s`", code, name, code)
	}
}

// declaredCodes parses the package's source for its constants named Code*.
func declaredCodes(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	codes := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					codes[id.Name], _ = strconv.Unquote(lit.Value)
				}
			}
			return true
		})
	}
	return codes
}
