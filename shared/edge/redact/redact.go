// Package redact owns the one definition of what a secret looks like in a
// request: the names of headers, query parameters and JSON fields whose
// values are never written to a log or an audit record, and the values
// (payment card numbers) that are secret whatever they are called. The
// access log and the partner audit both redact through it, so a name is
// hidden in every record or in none.
package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// Marker replaces every secret value.
const Marker = "[REDACTED]"

// names are the fragments of secret names, matched inside the name folded
// to lower-case letters and digits, so "access_token", "clientSecret",
// "X-Api-Key" and "card.number" all match. Redacting a harmless field now
// and then is the cheap side of the trade. exactNames are too short to
// match inside other words ("pan" is in "company") and match only whole.
var (
	names = []string{
		"password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey", "privatekey",
		"credential", "cardnumber", "creditcard", "cvv", "cvc", "authorization", "cookie", "session",
	}
	exactNames = []string{"pan"}
)

// Names returns the name fragments that mark a secret (matched anywhere in
// a folded name) and the whole names that do (matched only whole), as
// copies the caller may keep.
func Names() (fragments, whole []string) {
	return slices.Clone(names), slices.Clone(exactNames)
}

// Name reports whether a header, query parameter or JSON field called name
// holds a secret whose value must not be recorded.
func Name(name string) bool {
	var buf [64]byte
	folded := buf[:0]
	for _, r := range name {
		r = unicode.ToLower(r)
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			folded = append(folded, byte(r))
		}
	}
	for _, w := range exactNames {
		if string(folded) == w {
			return true
		}
	}
	for _, w := range names {
		if bytes.Contains(folded, []byte(w)) {
			return true
		}
	}
	return false
}

// Card reports whether s is 13-19 digits, optionally grouped by spaces or
// dashes, that pass the Luhn check (ISO/IEC 7812): a payment card number,
// secret under any name.
func Card(s string) bool {
	var digits [19]int
	n := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			if n == len(digits) {
				return false
			}
			digits[n] = int(r - '0')
			n++
		case r == ' ' || r == '-':
		default:
			return false
		}
	}
	if n < 13 {
		return false
	}
	sum := 0
	for i := range n {
		d := digits[n-1-i]
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// Query returns the raw query with the values of secret parameters (by
// name or by value) replaced by marker; the other pairs are kept byte for
// byte. The caller chooses how the marker is written: as itself for a
// line a person reads, query-escaped where the result must stay a valid
// query.
func Query(raw, marker string) string {
	if raw == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i, pair := range strings.Split(raw, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		key, value, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		decoded, err := url.QueryUnescape(value)
		if err != nil {
			decoded = value
		}
		if !Name(name) && !Card(decoded) {
			b.WriteString(pair)
			continue
		}
		b.WriteString(key + "=" + marker)
	}
	return b.String()
}

// ErrNotJSON is returned by JSON for a body that is not one JSON value.
var ErrNotJSON = errors.New("body is not a single JSON value")

// JSON returns body with the values of secret fields, at any depth, and
// every value that looks like a card number replaced by Marker. Numbers
// keep their exact text. A body that is not one JSON value gives
// ErrNotJSON and is never echoed, because it may be a secret itself.
func JSON(body []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, ErrNotJSON
	}
	out, err := json.Marshal(Value(v))
	if err != nil {
		return nil, ErrNotJSON
	}
	return out, nil
}

// Value redacts v, a value decoded by encoding/json (with UseNumber), in
// place and returns it.
func Value(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if Name(k) {
				t[k] = Marker
				continue
			}
			t[k] = Value(val)
		}
	case []any:
		for i := range t {
			t[i] = Value(t[i])
		}
	case string:
		if Card(t) {
			return Marker
		}
	case json.Number:
		if Card(t.String()) {
			return Marker
		}
	}
	return v
}
