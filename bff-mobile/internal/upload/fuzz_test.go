package upload

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseMetadata: Upload-Metadata is refused or gives a filename and a
// content type the gateway accepts; re-encoding a result parses to itself.
func FuzzParseMetadata(f *testing.F) {
	for _, s := range []string{
		"filename " + b64("a.jpg") + ",contentType " + b64("image/jpeg"),
		"filename " + b64("../etc/passwd") + ",contentType " + b64("image/jpeg"),
		"filename,contentType", "filename " + b64("a") + ",filename " + b64("b"), "", " , ,", "k\u00e9y " + b64("x"),
		"filename " + b64("a.jpg") + ",contentType " + b64("image/jpeg") + extraPairs(20),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMetadata(s)
		if err != nil {
			return
		}
		if !validFilename(m.Filename) || !utf8.ValidString(m.Filename) || strings.ContainsAny(m.Filename, "/\\") {
			t.Fatalf("accepted filename %q", m.Filename)
		}
		again, err := parseMetadata(m.Encode())
		if err != nil || again != m {
			t.Fatalf("%+v does not survive its encoding: %+v, %v", m, again, err)
		}
	})
}

// FuzzParseLength: Upload-Length is accepted only as a plain decimal from 1
// to MaxLength.
func FuzzParseLength(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "+5", " 5", "1e3", "999999999999999999", "9999999999999999999", "0x10", strconv.Itoa(MaxLength)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseLength(s)
		if err != nil {
			return
		}
		if n < 1 || n > MaxLength || strconv.FormatInt(n, 10) != strings.TrimLeft(s, "0") {
			t.Fatalf("parseLength(%q) = %d", s, n)
		}
	})
}

// FuzzParseChecksum: Upload-Checksum is refused or names sha1 or sha256
// with a digest of that algorithm's size.
func FuzzParseChecksum(f *testing.F) {
	for _, s := range []string{"sha1 " + b64(strings.Repeat("a", 20)), "sha256 " + b64(strings.Repeat("a", 32)), "md5 x", "sha1", "sha1 !!", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sum, err := parseChecksum(s)
		if err != nil || sum == nil {
			return
		}
		if len(sum.digest) != sum.newHash().Size() {
			t.Fatalf("digest of %d bytes accepted", len(sum.digest))
		}
	})
}
