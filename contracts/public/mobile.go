package public

// Mobile returns the bff-mobile OpenAPI 3.1 document (YAML).
func Mobile() []byte {
	// The file is embedded at build time, so it is always there.
	b, _ := documents.ReadFile("mobile.yaml")
	return b
}
