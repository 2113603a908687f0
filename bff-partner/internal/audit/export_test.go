package audit

import "encoding/json"

// WithRedactor returns c with its body redaction replaced by f.
func WithRedactor(c Config, f func(body []byte, note string) (json.RawMessage, string)) Config {
	c.redactBody = f
	return c
}
