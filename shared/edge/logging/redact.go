package logging

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/shopfront/shared/edge/redact"
)

// RedactHeaders returns a copy of h whose secret values are redacted.
func RedactHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if redact.Name(k) {
			out[k] = []string{redact.Marker}
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// RedactURL returns u as a string without user info and with secret query
// parameters redacted.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		c.User = url.User(redact.Marker)
	}
	q := redact.Query(c.RawQuery, redact.Marker)
	c.RawQuery = ""
	s := c.String()
	if q != "" {
		s += "?" + q
	}
	return s
}

// Headers is a zap field logging h with secret values redacted. The copy
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
		if redact.Name(k) {
			enc.AddString(k, redact.Marker)
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

// Body is a zap field logging a JSON body through redact.JSON; a body that
// is not JSON is logged as its length only.
func Body(key string, body []byte) zap.Field {
	if len(body) == 0 {
		return zap.Skip()
	}
	red, err := redact.JSON(body)
	if err != nil {
		return zap.String(key, "[non-JSON body omitted]")
	}
	return zap.Reflect(key, red)
}
