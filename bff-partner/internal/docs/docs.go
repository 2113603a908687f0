// Package docs publishes the partner OpenAPI document: GET
// /openapi.json serves it as JSON and GET /docs a page rendering it with
// Redoc. Every asset of the page is embedded in the binary, so the page
// works offline and loads nothing from another origin (its
// Content-Security-Policy forbids it).
package docs

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"

	"github.com/shopfront/shared/edge/route"
)

//go:embed assets/redoc.standalone.js
var assets embed.FS

// AssetPath is where the Redoc bundle is served, relative to the page.
const AssetPath = "/docs/assets/redoc.standalone.js"

// csp keeps the page to its own origin. Redoc styles with inline <style>
// elements and runs its search index in a blob: worker.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// The page uses relative URLs so that it keeps working behind a proxy that
// mounts the gateway under a path prefix.
const page = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>body{margin:0;padding:0}</style>
</head>
<body>
<redoc spec-url="openapi.json" expand-responses="200,201" path-in-middle-panel="true"></redoc>
<script src="docs/assets/redoc.standalone.js"></script>
</body>
</html>
`

// Docs serves the document and its page.
type Docs struct {
	json     []byte
	jsonETag string
	html     []byte
	js       []byte
	jsETag   string
}

// Config configures the documentation.
type Config struct {
	// Document is the OpenAPI document as YAML. Required.
	Document []byte
	// Title is the page's title. Required.
	Title string
	// TokenURL replaces the tokenUrl of every OAuth 2.0 client-credentials
	// flow of the document, so that partners are sent to the token endpoint
	// of this deployment, not to the one the document was written with.
	// Optional. Default: the document's own.
	TokenURL string
}

// New converts the YAML document to JSON, keeping its key order (the order
// of paths is the order of the rendered page), and prepares the page.
func New(cfg Config) (*Docs, error) {
	if len(cfg.Document) == 0 || cfg.Title == "" {
		return nil, errors.New("docs: Document and Title are required")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(cfg.Document, &root); err != nil {
		return nil, fmt.Errorf("parsing the OpenAPI document: %w", err)
	}
	if cfg.TokenURL != "" {
		if err := setTokenURL(&root, cfg.TokenURL); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &root); err != nil {
		return nil, fmt.Errorf("converting the OpenAPI document to JSON: %w", err)
	}
	if !json.Valid(buf.Bytes()) {
		return nil, errors.New("converting the OpenAPI document to JSON: invalid output")
	}
	js, err := assets.ReadFile("assets/redoc.standalone.js")
	if err != nil {
		return nil, fmt.Errorf("reading the embedded Redoc bundle: %w", err)
	}
	return &Docs{
		json: buf.Bytes(), jsonETag: etag(buf.Bytes()),
		html: fmt.Appendf(nil, page, html.EscapeString(cfg.Title)),
		js:   js, jsETag: etag(js),
	}, nil
}

// setTokenURL sets components.securitySchemes.*.flows.clientCredentials.tokenUrl
// in the node tree, which keeps the document's key order (see writeJSON).
// A document without such a flow is an error: the setting would be lost.
func setTokenURL(root *yaml.Node, tokenURL string) error {
	found := 0
	schemes := child(child(root, "components"), "securitySchemes")
	if schemes != nil && schemes.Kind == yaml.MappingNode {
		for i := 1; i < len(schemes.Content); i += 2 {
			if u := child(child(child(schemes.Content[i], "flows"), "clientCredentials"), "tokenUrl"); u != nil {
				u.SetString(tokenURL)
				found++
			}
		}
	}
	if found == 0 {
		return errors.New("setting the token URL: the OpenAPI document has no OAuth 2.0 clientCredentials flow")
	}
	return nil
}

// child returns the value of key in mapping n (or in the document n wraps),
// or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// JSON returns the document as JSON.
func (d *Docs) JSON() []byte { return d.json }

// Routes lists GET /openapi.json, GET /docs and the page's asset, for
// route.Register. They need no credentials: their policy is route.Open.
func (d *Docs) Routes() []route.Route {
	return []route.Route{
		{Method: http.MethodGet, Path: "/openapi.json", Handler: d.serveJSON, Policy: route.Open},
		{Method: http.MethodGet, Path: "/docs", Handler: d.servePage, Policy: route.Open},
		{Method: http.MethodGet, Path: AssetPath, Handler: d.serveAsset, Policy: route.Open},
	}
}

func (d *Docs) serveJSON(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set(echo.HeaderCacheControl, "public, max-age=300")
	return serve(c, d.json, d.jsonETag, echo.MIMEApplicationJSON)
}

func (d *Docs) servePage(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set(echo.HeaderCacheControl, "public, max-age=300")
	return c.HTMLBlob(http.StatusOK, d.html)
}

func (d *Docs) serveAsset(c echo.Context) error {
	h := c.Response().Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(echo.HeaderCacheControl, "public, max-age=86400")
	return serve(c, d.js, d.jsETag, echo.MIMEApplicationJavaScriptCharsetUTF8)
}

func serve(c echo.Context, body []byte, tag, contentType string) error {
	c.Response().Header().Set("ETag", tag)
	if c.Request().Header.Get("If-None-Match") == tag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, contentType, body)
}

func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// writeJSON writes a YAML node as JSON, keeping mapping order. yaml.v3
// decodes mappings into Go maps, whose JSON encoding is sorted, hence this
// walk over the node tree.
func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return errors.New("expected one YAML document")
		}
		return writeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, err := json.Marshal(n.Content[i].Value)
			if err != nil {
				return err
			}
			buf.Write(k)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	default:
		return fmt.Errorf("unexpected YAML node kind %d at line %d", n.Kind, n.Line)
	}
	return nil
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
		return nil
	default:
		b, err := json.Marshal(n.Value)
		if err != nil {
			return err
		}
		buf.Write(b)
		return nil
	}
}
