package logging

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Redacted replaces every secret value.
const Redacted = "[REDACTED]"

// secretHeaders always carry credentials (canonical keys).
var secretHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
	"X-Api-Key":           true,
	"X-Csrf-Token":        true,
}

// secretWords are matched inside names folded to lower case without '_'
// and '-', so "access_token", "clientSecret", "api-key" and "cardNumber"
// all match. Redacting a harmless field now and then is the cheap side of
// the trade.
var secretWords = []string{"password", "passwd", "secret", "token", "apikey", "cardnumber", "cvv", "cvc", "authorization", "cookie", "credential", "privatekey"}

// SensitiveName reports whether a header, query parameter or JSON field
// named name holds a secret whose value must not be logged.
func SensitiveName(name string) bool {
	if secretHeaders[http.CanonicalHeaderKey(name)] {
		return true
	}
	folded := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '-':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		folded = append(folded, c)
	}
	for _, w := range secretWords {
		if bytes.Contains(folded, []byte(w)) {
			return true
		}
	}
	return false
}

// RedactHeaders returns a copy of h whose secret values are Redacted.
func RedactHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if SensitiveName(k) {
			out[k] = []string{Redacted}
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// RedactQuery returns the raw query with the values of secret parameters
// Redacted. Other pairs are kept byte for byte; the marker is written
// unescaped so that it reads as itself in the log.
func RedactQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(rawQuery))
	for i, pair := range strings.Split(rawQuery, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		key, _, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if !SensitiveName(name) {
			b.WriteString(pair)
			continue
		}
		b.WriteString(key + "=" + Redacted)
	}
	return b.String()
}

// RedactURL returns u as a string without user info and with secret query
// parameters Redacted.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		c.User = url.User(Redacted)
	}
	q := RedactQuery(c.RawQuery)
	c.RawQuery = ""
	s := c.String()
	if q != "" {
		s += "?" + q
	}
	return s
}

// RedactJSON returns body with the values of secret fields, at any depth,
// replaced by "[REDACTED]". Numbers keep their exact text. A body that is
// not JSON is returned as an error, never echoed, because it may be a
// secret itself.
func RedactJSON(body []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	out, err := json.Marshal(redactValue(v))
	if err != nil {
		return nil, err
	}
	return out, nil
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, vv := range t {
			if SensitiveName(k) {
				t[k] = Redacted
				continue
			}
			t[k] = redactValue(vv)
		}
	case []any:
		for i, vv := range t {
			t[i] = redactValue(vv)
		}
	}
	return v
}

// Headers is a zap field logging h with secret values Redacted. The copy
// is made only if the line is actually written.
func Headers(key string, h http.Header) zap.Field {
	return zap.Object(key, headerMarshaler(h))
}

type headerMarshaler http.Header

func (h headerMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if SensitiveName(k) {
			enc.AddString(k, Redacted)
			continue
		}
		enc.AddString(k, strings.Join(h[k], ", "))
	}
	return nil
}

// URL is a zap field logging u through RedactURL.
func URL(key string, u *url.URL) zap.Field {
	return zap.Stringer(key, redactedURL{u})
}

type redactedURL struct{ u *url.URL }

func (r redactedURL) String() string { return RedactURL(r.u) }

// Body is a zap field logging a JSON body through RedactJSON; a body that
// is not JSON is logged as its length only.
func Body(key string, body []byte) zap.Field {
	if len(body) == 0 {
		return zap.Skip()
	}
	red, err := RedactJSON(body)
	if err != nil {
		return zap.String(key, "[non-JSON body omitted]")
	}
	return zap.Reflect(key, red)
}
