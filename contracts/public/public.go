// Package public embeds the OpenAPI 3.1 documents of the gateways' public
// APIs (contracts/public/<gateway>.yaml). They are the source of truth:
// gateways validate requests against them, serve them and test their
// responses against them.
package public

import (
	"context"
	"embed"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shopfront/contracts/internal/oasdoc"
)

//go:embed *.yaml
var documents embed.FS

// Document returns the embedded document of a gateway's public API by its
// file name, such as "partner.yaml".
func Document(name string) ([]byte, error) {
	b, err := documents.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading public document %q: %w", name, err)
	}
	return b, nil
}

// Load parses and validates the embedded document name (kin-openapi, with
// the OpenAPI 3.1 rules) and returns it with its references resolved.
func Load(ctx context.Context, name string) (*openapi3.T, error) {
	b, err := Document(name)
	if err != nil {
		return nil, err
	}
	return oasdoc.Load(ctx, b, fmt.Sprintf("public document %q", name))
}

// Partner returns the bff-partner OpenAPI 3.1 document (YAML).
func Partner() []byte {
	// The file is embedded at build time, so reading it cannot fail.
	b, _ := documents.ReadFile("partner.yaml")
	return b
}
