package upload

import (
	"encoding/base64"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopfront/shared/edge/problem"
)

// Metadata is what an upload declares in Upload-Metadata.
type Metadata struct {
	// Filename is the file's name on the phone: 1..255 bytes of UTF-8,
	// without control characters or path separators.
	Filename string
	// ContentType is one of ContentTypes.
	ContentType string
}

// The metadata keys an upload must declare.
const (
	MetaFilename    = "filename"
	MetaContentType = "contentType"
)

// maxMetadataPairs bounds the pairs looked at; the header size limit
// bounds the rest.
const maxMetadataPairs = 16

// Encode returns the Upload-Metadata value: comma-separated pairs of a key
// and its base64 value, as tus defines it.
func (m Metadata) Encode() string {
	enc := base64.StdEncoding.EncodeToString
	return MetaFilename + " " + enc([]byte(m.Filename)) + "," + MetaContentType + " " + enc([]byte(m.ContentType))
}

// parseMetadata reads Upload-Metadata. Keys other than filename and
// contentType are ignored (clients add their own, such as filetype), but
// every pair must be well formed and no key may appear twice.
func parseMetadata(s string) (Metadata, error) {
	bad := func(detail string) (Metadata, error) { return Metadata{}, problem.ValidationFailed(detail) }
	if strings.TrimSpace(s) == "" {
		return bad("Upload-Metadata with filename and contentType is required")
	}
	var m Metadata
	seen := make(map[string]bool, 4)
	for i, pair := range strings.Split(s, ",") {
		if i == maxMetadataPairs {
			return bad("Upload-Metadata has too many pairs")
		}
		key, value, _ := strings.Cut(strings.TrimSpace(pair), " ")
		if key == "" || strings.ContainsFunc(key, func(r rune) bool { return r > unicode.MaxASCII || unicode.IsSpace(r) }) {
			return bad("Upload-Metadata keys must be ASCII without spaces")
		}
		if seen[key] {
			return bad("Upload-Metadata key " + key + " appears twice")
		}
		seen[key] = true
		raw, err := base64.StdEncoding.Strict().DecodeString(value)
		if err != nil {
			return bad("Upload-Metadata value of " + key + " is not base64")
		}
		switch key {
		case MetaFilename:
			m.Filename = string(raw)
		case MetaContentType:
			m.ContentType = string(raw)
		}
	}
	if !validFilename(m.Filename) {
		return bad("metadata filename must be 1..255 bytes of UTF-8 without control characters or slashes")
	}
	if !slices.Contains(ContentTypes(), m.ContentType) {
		return bad("metadata contentType must be one of " + strings.Join(ContentTypes(), ", "))
	}
	return m, nil
}

func validFilename(s string) bool {
	if s == "" || len(s) > 255 || !utf8.ValidString(s) || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '/' || r == '\\' })
}
