// Package oasdoc parses and validates the OpenAPI 3.1 documents the
// contracts module embeds, so that package openapi (the domain services)
// and package public (the gateways) share one loader and report problems
// the same way.
package oasdoc

import (
	"context"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

// Load parses data as an OpenAPI document with kin-openapi, validates it
// (OpenAPI 3.1 rules) and returns it with its references resolved. what
// names the document in errors, such as `document of service "catalog"`.
func Load(ctx context.Context, data []byte, what string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", what, err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validating %s: %w", what, err)
	}
	return doc, nil
}
