package public

// Web returns the bff-web OpenAPI 3.1 document (YAML).
func Web() []byte {
	// The file is embedded at build time, so it is always there.
	b, _ := documents.ReadFile("web.yaml")
	return b
}
