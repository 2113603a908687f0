package upload

import (
	"crypto/sha1" //nolint:gosec // tus's checksum extension names sha1.
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/problem"
)

// b64 is how tus encodes a metadata value and a checksum digest.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// extraPairs returns n more metadata pairs a client might add.
func extraPairs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(",x" + strconv.Itoa(i) + " " + b64("x"))
	}
	return b.String()
}

// assertProblem checks that err is the problem a client would get.
func assertProblem(t *testing.T, err error, status int, code string) {
	t.Helper()
	var p *problem.Problem
	require.True(t, errors.As(err, &p), "a problem, got %v", err)
	assert.Equal(t, status, p.Status)
	assert.Equal(t, code, p.Code)
}

func TestParseMetadata(t *testing.T) {
	t.Parallel()
	ok := "filename " + b64("cat.jpg") + ",contentType " + b64("image/jpeg")
	tests := []struct {
		name        string
		given       string
		expect      Metadata
		expectError string // part of the detail; "" means accepted
	}{
		{name: "ok, both keys", given: ok, expect: Metadata{Filename: "cat.jpg", ContentType: "image/jpeg"}},
		{name: "ok, keys in any order with spaces around the pairs",
			given:  " contentType " + b64("video/mp4") + " , filename " + b64("clip.mp4") + " ",
			expect: Metadata{Filename: "clip.mp4", ContentType: "video/mp4"}},
		{name: "ok, other keys are ignored, a key without value too",
			given:  ok + ",filetype " + b64("image/jpeg") + ",relativePath " + b64("null") + ",flag",
			expect: Metadata{Filename: "cat.jpg", ContentType: "image/jpeg"}},
		{name: "ok, UTF-8 filename", given: "filename " + b64("Katze 🐈.heic") + ",contentType " + b64("image/heic"),
			expect: Metadata{Filename: "Katze 🐈.heic", ContentType: "image/heic"}},
		{name: "ok, 255-byte filename", given: "filename " + b64(strings.Repeat("a", 251)+".png") + ",contentType " + b64("image/png"),
			expect: Metadata{Filename: strings.Repeat("a", 251) + ".png", ContentType: "image/png"}},

		{name: "nok, no header", given: "", expectError: "Upload-Metadata with filename and contentType is required"},
		{name: "nok, blank header", given: "  ", expectError: "is required"},
		{name: "nok, missing filename", given: "contentType " + b64("image/jpeg"), expectError: "metadata filename"},
		{name: "nok, missing contentType", given: "filename " + b64("cat.jpg"), expectError: "metadata contentType"},
		{name: "nok, filename key without value", given: "filename,contentType " + b64("image/jpeg"), expectError: "metadata filename"},
		{name: "nok, value not base64", given: "filename cat.jpg,contentType " + b64("image/jpeg"),
			expectError: "value of filename is not base64"},
		{name: "nok, URL-safe base64 alphabet", given: "filename " + strings.ReplaceAll(b64("???"), "/", "_") + ",contentType " + b64("image/jpeg"),
			expectError: "value of filename is not base64"},
		{name: "nok, base64 without padding", given: ok[:len(ok)-2], expectError: "value of contentType is not base64"},
		{name: "nok, base64 with stray bits", given: "filename YR==,contentType " + b64("image/jpeg"),
			expectError: "value of filename is not base64"},
		{name: "nok, contentType not allowed", given: "filename " + b64("a.gif") + ",contentType " + b64("image/gif"),
			expectError: "contentType must be one of image/jpeg, image/png, image/heic, video/mp4"},
		{name: "nok, contentType with parameters", given: "filename " + b64("a.jpg") + ",contentType " + b64("image/jpeg; q=1"),
			expectError: "contentType must be one of"},
		{name: "nok, contentType in other case", given: "filename " + b64("a.jpg") + ",contentType " + b64("IMAGE/JPEG"),
			expectError: "contentType must be one of"},
		{name: "nok, key twice", given: ok + ",filename " + b64("dog.jpg"), expectError: "key filename appears twice"},
		{name: "nok, empty pair", given: ok + ",", expectError: "keys must be ASCII without spaces"},
		{name: "nok, key not ASCII", given: ok + ",näme " + b64("x"), expectError: "keys must be ASCII without spaces"},
		{name: "ok, 16 pairs", given: ok + extraPairs(14), expect: Metadata{Filename: "cat.jpg", ContentType: "image/jpeg"}},
		{name: "nok, 17 pairs", given: ok + extraPairs(15), expectError: "too many pairs"},
		{name: "nok, filename empty", given: "filename ,contentType " + b64("image/jpeg"), expectError: "metadata filename"},
		{name: "nok, filename over 255 bytes", given: "filename " + b64(strings.Repeat("a", 252)+".png") + ",contentType " + b64("image/png"),
			expectError: "metadata filename"},
		{name: "nok, filename with a slash", given: "filename " + b64("../etc/passwd") + ",contentType " + b64("image/png"), expectError: "metadata filename"},
		{name: "nok, filename with a backslash", given: "filename " + b64(`a\b.png`) + ",contentType " + b64("image/png"), expectError: "metadata filename"},
		{name: "nok, filename with a control character", given: "filename " + b64("a\nb.png") + ",contentType " + b64("image/png"), expectError: "metadata filename"},
		{name: "nok, filename ..", given: "filename " + b64("..") + ",contentType " + b64("image/png"), expectError: "metadata filename"},
		{name: "nok, filename not UTF-8", given: "filename " + b64("a\xffb.png") + ",contentType " + b64("image/png"), expectError: "metadata filename"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseMetadata(tt.given)
			if tt.expectError == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.expect, got)
				return
			}
			assertProblem(t, err, http.StatusBadRequest, problem.CodeValidationFailed)
			assert.Contains(t, err.Error(), tt.expectError)
			assert.Zero(t, got)
		})
	}
}

// TestMetadataEncodeParses: what HEAD sends back is what creation accepts.
func TestMetadataEncodeParses(t *testing.T) {
	t.Parallel()
	m := Metadata{Filename: "Katze, 🐈 = 1.heic", ContentType: "image/heic"}
	got, err := parseMetadata(m.Encode())
	require.NoError(t, err)
	assert.Equal(t, m, got)
}

func TestParseChecksum(t *testing.T) {
	t.Parallel()
	chunk := []byte("the first chunk of a photo")
	s1 := sha1.Sum(chunk) //nolint:gosec // the protocol's algorithm.
	s256 := sha256.Sum256(chunk)
	enc := base64.StdEncoding.EncodeToString
	tests := []struct {
		name        string
		given       string
		expectNone  bool   // no checksum to check
		expectError string // part of the detail
	}{
		{name: "ok, no header is no checksum", given: "", expectNone: true},
		{name: "ok, sha1", given: "sha1 " + enc(s1[:])},
		{name: "ok, sha256", given: "sha256 " + enc(s256[:])},

		{name: "nok, unknown algorithm", given: "md5 " + enc(s256[:16]), expectError: "algorithm must be one of sha1,sha256"},
		{name: "nok, crc32 as tusd offers it", given: "crc32 " + enc(s256[:4]), expectError: "algorithm must be one of"},
		{name: "nok, algorithm in capitals", given: "SHA256 " + enc(s256[:]), expectError: "algorithm must be one of"},
		{name: "nok, algorithm alone", given: "sha256", expectError: "must be <algorithm> <base64 digest>"},
		{name: "nok, digest alone", given: enc(s256[:]), expectError: "must be <algorithm> <base64 digest>"},
		{name: "nok, digest not base64", given: "sha256 not*base64", expectError: "digest must be the base64 sha256"},
		{name: "nok, digest in hex", given: "sha1 " + strings.Repeat("ab", 20), expectError: "digest must be the base64 sha1"},
		{name: "nok, digest without padding", given: "sha1 " + strings.TrimRight(enc(s1[:]), "="), expectError: "digest must be the base64 sha1"},
		{name: "nok, sha1 digest named sha256", given: "sha256 " + enc(s1[:]), expectError: "digest must be the base64 sha256"},
		{name: "nok, sha256 digest named sha1", given: "sha1 " + enc(s256[:]), expectError: "digest must be the base64 sha1"},
		{name: "nok, two spaces", given: "sha256  " + enc(s256[:]), expectError: "digest must be the base64 sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sum, err := parseChecksum(tt.given)
			switch {
			case tt.expectError != "":
				assertProblem(t, err, http.StatusBadRequest, problem.CodeValidationFailed)
				assert.Contains(t, err.Error(), tt.expectError)
				assert.Nil(t, sum)
			case tt.expectNone:
				require.NoError(t, err)
				assert.Nil(t, sum)
			default:
				require.NoError(t, err)
				require.NotNil(t, sum)
				assert.True(t, sum.matches(chunk), "the chunk it was taken of")
				assert.False(t, sum.matches(chunk[1:]), "a chunk missing its first byte")
				other := append([]byte(nil), chunk...)
				other[len(other)-1] ^= 1
				assert.False(t, sum.matches(other), "a chunk with one bit flipped")
			}
		})
	}
}

func TestParseLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		given        string
		expect       int64
		expectStatus int
		expectCode   string
	}{
		{name: "ok, one byte", given: "1", expect: 1},
		{name: "ok, exactly the maximum", given: strconv.Itoa(MaxLength), expect: MaxLength},
		{name: "ok, leading zeros", given: "0010", expect: 10},

		{name: "nok, missing", given: "", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, zero", given: "0", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, one byte over the maximum", given: strconv.Itoa(MaxLength + 1), expectStatus: 413, expectCode: problem.CodePayloadTooLarge},
		{name: "nok, 18 digits is too large, not malformed", given: strings.Repeat("9", 18), expectStatus: 413, expectCode: problem.CodePayloadTooLarge},
		{name: "nok, 19 digits could overflow", given: "9223372036854775807", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, past int64", given: "99999999999999999999", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, negative", given: "-1", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, plus sign", given: "+10", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, spaces", given: " 10", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, exponent", given: "1e3", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, fraction", given: "10.0", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, hex", given: "0x10", expectStatus: 400, expectCode: problem.CodeValidationFailed},
		{name: "nok, two values", given: "10,10", expectStatus: 400, expectCode: problem.CodeValidationFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseLength(tt.given)
			if tt.expectCode == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.expect, got)
				return
			}
			assertProblem(t, err, tt.expectStatus, tt.expectCode)
		})
	}
}
