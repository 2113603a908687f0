package upload_test

import (
	"crypto/sha256"
	"encoding/base64"
)

func newSum(chunk []byte) string {
	s := sha256.Sum256(chunk)
	return "sha256 " + base64.StdEncoding.EncodeToString(s[:])
}
