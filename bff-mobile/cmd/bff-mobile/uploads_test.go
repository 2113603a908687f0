package main_test

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // tus's checksum extension names sha1.
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestUploadsOnTheBinary runs a whole resumable upload through the built
// bff-mobile with its default configuration (body limit, timeouts, budgets
// as shipped) against the fakes: capabilities, creation, two chunks (the
// first a full 1 MiB), HEAD, the JSON status, termination. The media
// service must hold the file byte for byte before it is terminated.
func TestUploadsOnTheBinary(t *testing.T) {
	t.Parallel()
	bin := gatewaytest.Build(t, "bff-mobile", ".")
	f, base := fakestest.Start(t)
	p := gatewaytest.Start(t, bin, base, "BFF_LOG_LEVEL=error")
	gw := "http://" + p.Addr
	token := fakestest.UserToken(t, f, "u-001", "mobile")
	file := make([]byte, 1<<20+300<<10) // 1.3 MiB: a full chunk and a part
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range file {
		file[i] = byte(rng.Uint32())
	}
	first, second := file[:1<<20], file[1<<20:]
	b64 := base64.StdEncoding.EncodeToString
	filename, contentType := "Hafen am Abend.jpg", "image/jpeg"
	metadata := "filename " + b64([]byte(filename)) + ",contentType " + b64([]byte(contentType))

	res, _ := send(t, http.MethodOptions, gw+"/v1/uploads", "", nil, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode, "capabilities need no credentials")
	assert.Equal(t, "1.0.0", res.Header.Get("Tus-Version"))
	assert.Equal(t, "creation,expiration,checksum,termination", res.Header.Get("Tus-Extension"))

	res, body := send(t, http.MethodPost, gw+"/v1/uploads", token, nil, map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(len(file)), "Upload-Metadata": metadata,
	})
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
	assert.Equal(t, "1.0.0", res.Header.Get("Tus-Resumable"))
	assert.Equal(t, "0", res.Header.Get("Upload-Offset"))
	expires, err := http.ParseTime(res.Header.Get("Upload-Expires"))
	require.NoError(t, err, "Upload-Expires is an HTTP-date")
	assert.True(t, expires.After(time.Now()), "expires in the future: %s", expires)
	path := res.Header.Get("Location")
	require.True(t, strings.HasPrefix(path, "/v1/uploads/"), path)
	id := strings.TrimPrefix(path, "/v1/uploads/")

	sum1 := sha1.Sum(first) //nolint:gosec // the protocol's algorithm.
	res, body = send(t, http.MethodPatch, gw+path, token, first, map[string]string{
		"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream",
		"Upload-Offset": "0", "Upload-Checksum": "sha1 " + b64(sum1[:]),
	})
	require.Equal(t, http.StatusNoContent, res.StatusCode, "a full 1 MiB chunk passes the shipped body limit: %s", body)
	assert.Equal(t, strconv.Itoa(len(first)), res.Header.Get("Upload-Offset"))
	assert.Equal(t, "1.0.0", res.Header.Get("Tus-Resumable"))
	held, _ := f.Upload(id)
	assert.Equal(t, int64(len(first)), held.Offset, "the media service has the first chunk")

	sum2 := sha256.Sum256(second)
	res, body = send(t, http.MethodPatch, gw+path, token, second, map[string]string{
		"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream",
		"Upload-Offset": strconv.Itoa(len(first)), "Upload-Checksum": "sha256 " + b64(sum2[:]),
	})
	require.Equal(t, http.StatusNoContent, res.StatusCode, "%s", body)
	assert.Equal(t, strconv.Itoa(len(file)), res.Header.Get("Upload-Offset"))

	res, _ = send(t, http.MethodHead, gw+path, token, nil, map[string]string{"Tus-Resumable": "1.0.0"})
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, strconv.Itoa(len(file)), res.Header.Get("Upload-Offset"))
	assert.Equal(t, strconv.Itoa(len(file)), res.Header.Get("Upload-Length"))
	assert.Equal(t, metadata, res.Header.Get("Upload-Metadata"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"), "an offset is never cached")
	assert.Equal(t, "1.0.0", res.Header.Get("Tus-Resumable"))

	res, body = send(t, http.MethodGet, gw+path, token, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	var status struct {
		ID          string    `json:"id"`
		Filename    string    `json:"filename"`
		ContentType string    `json:"contentType"`
		Length      int64     `json:"length"`
		Offset      int64     `json:"offset"`
		Complete    bool      `json:"complete"`
		ExpiresAt   time.Time `json:"expiresAt"`
	}
	require.NoError(t, json.Unmarshal(body, &status), "%s", body)
	assert.Equal(t, id, status.ID)
	assert.Equal(t, filename, status.Filename)
	assert.Equal(t, contentType, status.ContentType)
	assert.Equal(t, int64(len(file)), status.Length)
	assert.Equal(t, int64(len(file)), status.Offset)
	assert.True(t, status.Complete)
	assert.Equal(t, expires.Unix(), status.ExpiresAt.Unix(), "the status and Upload-Expires name one expiry")

	data, ok := f.UploadData(id)
	require.True(t, ok)
	assert.Equal(t, sha256.Sum256(file), sha256.Sum256(data), "the media service holds the file byte for byte")

	res, body = send(t, http.MethodDelete, gw+path, token, nil, map[string]string{"Tus-Resumable": "1.0.0"})
	require.Equal(t, http.StatusNoContent, res.StatusCode, "%s", body)
	assert.Equal(t, "1.0.0", res.Header.Get("Tus-Resumable"))
	_, ok = f.Upload(id)
	assert.False(t, ok, "terminated at the media service")
	res, _ = send(t, http.MethodHead, gw+path, token, nil, map[string]string{"Tus-Resumable": "1.0.0"})
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "a terminated upload is gone")
}

// send makes one request and returns the answer with its whole body.
func send(t *testing.T, method, url, token string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, raw
}
