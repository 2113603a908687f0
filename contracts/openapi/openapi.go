// Package openapi embeds the OpenAPI 3.1 documents of the twelve domain
// services, one file per service named after it (catalog.yaml,
// ...). Paths are relative to each service's base URL. Tests of any module
// validate requests and responses against them with kin-openapi.
package openapi

import (
	"context"
	"embed"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shopfront/contracts/internal/oasdoc"
)

// FS holds <service>.yaml for every domain service.
//
//go:embed *.yaml
var FS embed.FS

// Document returns the raw YAML of service's document, e.g. "catalog".
func Document(service string) ([]byte, error) {
	b, err := FS.ReadFile(service + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("reading document of service %q: %w", service, err)
	}
	return b, nil
}

// Load parses and validates service's document (OpenAPI 3.1 rules) and
// returns it with its references resolved.
func Load(ctx context.Context, service string) (*openapi3.T, error) {
	b, err := Document(service)
	if err != nil {
		return nil, err
	}
	return oasdoc.Load(ctx, b, fmt.Sprintf("document of service %q", service))
}
