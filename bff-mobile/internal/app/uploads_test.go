package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // tus names sha1 for its checksum extension.
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/app"
	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// tusGateways are n bff-mobile instances sharing one set of fakes, the
// way a load balancer spreads one phone's chunks over instances.
type tusGateways struct {
	fakes *fakes.Fakes
	urls  []string
	addrs []string
	alice string // token of u-001
	bob   string // token of u-002
}

func bootTus(t *testing.T, n int) tusGateways {
	t.Helper()
	f, base := fakestest.Start(t)
	g := tusGateways{fakes: f, alice: fakestest.UserToken(t, f, "u-001", "mobile"), bob: fakestest.UserToken(t, f, "u-002", "mobile")}
	for range n {
		cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, nil)))
		require.NoError(t, err)
		a, _ := gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.NewNop()) })
		gatewaytest.WaitReady(t, a.AdminAddr())
		g.urls = append(g.urls, "http://"+a.Addr())
		g.addrs = append(g.addrs, a.Addr())
	}
	return g
}

// tusCall sends one tus request; hdr values are set as given, and
// Tus-Resumable: 1.0.0 is added unless hdr names it ("" removes it).
func tusCall(t *testing.T, method, url, token string, body []byte, hdr map[string]string) (*http.Response, []byte) {
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
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, raw
}

func meta(filename, contentType string) string {
	enc := base64.StdEncoding.EncodeToString
	return "filename " + enc([]byte(filename)) + ",contentType " + enc([]byte(contentType))
}

// create starts an upload of length bytes and returns its path.
func (g tusGateways) create(t *testing.T, i int, token string, length int) string {
	t.Helper()
	res, body := tusCall(t, http.MethodPost, g.urls[i]+"/v1/uploads", token, nil, map[string]string{
		"Upload-Length": strconv.Itoa(length), "Upload-Metadata": meta("cat.jpg", "image/jpeg"),
	})
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
	assert.Equal(t, "1.0.0", res.Header.Get("Tus-Resumable"))
	assert.Equal(t, "0", res.Header.Get("Upload-Offset"))
	_, err := http.ParseTime(res.Header.Get("Upload-Expires"))
	assert.NoError(t, err, "Upload-Expires is an HTTP-date")
	loc := res.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/v1/uploads/up-"), loc)
	return loc
}

func (g tusGateways) patch(t *testing.T, i int, token, path string, offset int, chunk []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.Itoa(offset)}
	for k, v := range hdr {
		h[k] = v
	}
	return tusCall(t, http.MethodPatch, g.urls[i]+path, token, chunk, h)
}

func (g tusGateways) offset(t *testing.T, path string) int64 {
	t.Helper()
	u, ok := g.fakes.Upload(strings.TrimPrefix(path, "/v1/uploads/"))
	require.True(t, ok)
	return u.Offset
}

func problemCode(t *testing.T, body []byte) string {
	t.Helper()
	var p struct {
		Code string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &p), "%s", body)
	return p.Code
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestUploads_TwoInstancesByteIdentical: a 2.5 MiB file in three chunks,
// alternating between two instances, arrives whole and unchanged at the
// media service.
func TestUploads_TwoInstancesByteIdentical(t *testing.T) {
	t.Parallel()
	g := bootTus(t, 2)
	file := randomBytes(5<<19, 1) // 2.5 MiB
	path := g.create(t, 0, g.alice, len(file))

	for n, off := 0, 0; off < len(file); n++ {
		end := min(off+1<<20, len(file))
		sum := sha256.Sum256(file[off:end])
		res, body := g.patch(t, n%2, g.alice, path, off, file[off:end],
			map[string]string{"Upload-Checksum": "sha256 " + base64.StdEncoding.EncodeToString(sum[:])})
		require.Equal(t, http.StatusNoContent, res.StatusCode, "chunk %d: %s", n, body)
		assert.Equal(t, strconv.Itoa(end), res.Header.Get("Upload-Offset"))
		assert.Equal(t, "1.0.0", res.Header.Get("Tus-Resumable"))
		assert.NotEmpty(t, res.Header.Get("Upload-Expires"))
		off = end
	}

	held, ok := g.fakes.UploadData(strings.TrimPrefix(path, "/v1/uploads/"))
	require.True(t, ok)
	assert.Equal(t, sha256.Sum256(file), sha256.Sum256(held), "the media service holds the file byte for byte")

	res, _ := tusCall(t, http.MethodHead, g.urls[1]+path, g.alice, nil, nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, strconv.Itoa(len(file)), res.Header.Get("Upload-Offset"))
	assert.Equal(t, strconv.Itoa(len(file)), res.Header.Get("Upload-Length"))
	assert.Equal(t, meta("cat.jpg", "image/jpeg"), res.Header.Get("Upload-Metadata"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))

	res, body := tusCall(t, http.MethodGet, g.urls[0]+path, g.alice, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	var st struct {
		ID       string `json:"id"`
		Filename string `json:"filename"`
		Length   int64  `json:"length"`
		Offset   int64  `json:"offset"`
		Complete bool   `json:"complete"`
	}
	require.NoError(t, json.Unmarshal(body, &st))
	assert.True(t, st.Complete)
	assert.Equal(t, int64(len(file)), st.Offset)
	assert.Equal(t, "cat.jpg", st.Filename)
}

// TestUploads_InterruptedChunkWritesNothing: the radio drops halfway
// through a 1 MiB chunk; HEAD shows the old offset and the chunk is sent
// again whole.
func TestUploads_InterruptedChunkWritesNothing(t *testing.T) {
	t.Parallel()
	g := bootTus(t, 1)
	file := randomBytes(1<<20+10, 2)
	path := g.create(t, 0, g.alice, len(file))
	res, _ := g.patch(t, 0, g.alice, path, 0, file[:10], nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)

	conn, err := net.Dial("tcp", g.addrs[0])
	require.NoError(t, err)
	head := "PATCH " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + g.alice + "\r\n" +
		"Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 10\r\n" +
		"Content-Length: 1048576\r\n\r\n"
	_, err = conn.Write([]byte(head))
	require.NoError(t, err)
	_, err = conn.Write(file[10 : 10+1<<19])
	require.NoError(t, err)
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	// The gateway answers (or just closes) once it sees the cut.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
		assert.NotEqual(t, http.StatusNoContent, resp.StatusCode)
	}
	_ = conn.Close()

	res, _ = tusCall(t, http.MethodHead, g.urls[0]+path, g.alice, nil, nil)
	assert.Equal(t, "10", res.Header.Get("Upload-Offset"), "HEAD shows the offset before the cut chunk")
	assert.Equal(t, int64(10), g.offset(t, path))

	res, body := g.patch(t, 0, g.alice, path, 10, file[10:], nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode, "%s", body)
	held, _ := g.fakes.UploadData(strings.TrimPrefix(path, "/v1/uploads/"))
	assert.Equal(t, file, held)
}

// TestUploads_ErrorsWriteNothing: every refusal is the documented status
// and code, with Tus-Resumable, and leaves the media service's offset
// where it was.
func TestUploads_ErrorsWriteNothing(t *testing.T) {
	t.Parallel()
	g := bootTus(t, 1)
	path := g.create(t, 0, g.alice, 100)
	res, _ := g.patch(t, 0, g.alice, path, 0, make([]byte, 10), nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	chunk := randomBytes(20, 3)
	sha1Sum := sha1.Sum(chunk) //nolint:gosec // the protocol's algorithm.
	sha256Sum := sha256.Sum256(chunk)
	b64 := base64.StdEncoding.EncodeToString

	tests := []struct {
		name       string
		whenOffset int
		whenBody   []byte
		whenHeader map[string]string
		expect     int
		expectCode string
		expectHdr  map[string]string
	}{
		{name: "nok, offset behind", whenOffset: 0, whenBody: chunk, expect: 409, expectCode: "conflict",
			expectHdr: map[string]string{"Upload-Offset": "10"}},
		{name: "nok, offset ahead", whenOffset: 30, whenBody: chunk, expect: 409, expectCode: "conflict",
			expectHdr: map[string]string{"Upload-Offset": "10"}},
		{name: "nok, sha1 mismatch", whenOffset: 10, whenBody: chunk, expect: 460, expectCode: "checksum_mismatch",
			whenHeader: map[string]string{"Upload-Checksum": "sha1 " + b64(flip(sha1Sum[:]))}},
		{name: "nok, sha256 of another chunk", whenOffset: 10, whenBody: chunk, expect: 460, expectCode: "checksum_mismatch",
			whenHeader: map[string]string{"Upload-Checksum": "sha256 " + b64(func() []byte { s := sha256.Sum256([]byte("x")); return s[:] }())}},
		{name: "nok, unknown checksum algorithm", whenOffset: 10, whenBody: chunk, expect: 400, expectCode: "validation_failed",
			whenHeader: map[string]string{"Upload-Checksum": "md5 " + b64(sha256Sum[:16])}},
		{name: "nok, wrong content type", whenOffset: 10, whenBody: chunk, expect: 415, expectCode: "unsupported_media_type",
			whenHeader: map[string]string{"Content-Type": "application/octet-stream"}},
		{name: "nok, past Upload-Length", whenOffset: 10, whenBody: make([]byte, 91), expect: 413, expectCode: "payload_too_large"},
		{name: "nok, chunk over 1 MiB", whenOffset: 10, whenBody: make([]byte, 1<<20+1), expect: 413, expectCode: "payload_too_large"},
		{name: "nok, no Tus-Resumable", whenOffset: 10, whenBody: chunk, expect: 412, expectCode: "precondition_failed",
			whenHeader: map[string]string{"Tus-Resumable": ""}, expectHdr: map[string]string{"Tus-Version": "1.0.0"}},
		{name: "nok, other tus version", whenOffset: 10, whenBody: chunk, expect: 412, expectCode: "precondition_failed",
			whenHeader: map[string]string{"Tus-Resumable": "0.2.2"}, expectHdr: map[string]string{"Tus-Version": "1.0.0"}},
		{name: "nok, bad offset", whenOffset: 10, whenBody: chunk, expect: 400, expectCode: "validation_failed",
			whenHeader: map[string]string{"Upload-Offset": "-1"}},
	}
	for _, tt := range tests {
		res, body := g.patch(t, 0, g.alice, path, tt.whenOffset, tt.whenBody, tt.whenHeader)
		assert.Equal(t, tt.expect, res.StatusCode, "%s: %s", tt.name, body)
		assert.Equal(t, tt.expectCode, problemCode(t, body), tt.name)
		assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), tt.name)
		assert.Equal(t, "1.0.0", res.Header.Get("Tus-Resumable"), tt.name)
		for k, v := range tt.expectHdr {
			assert.Equal(t, v, res.Header.Get(k), "%s: %s", tt.name, k)
		}
		assert.Equal(t, int64(10), g.offset(t, path), "%s wrote nothing", tt.name)
	}

	// The right checksums go through, sha1 and sha256 alike.
	res, body := g.patch(t, 0, g.alice, path, 10, chunk, map[string]string{"Upload-Checksum": "sha1 " + b64(sha1Sum[:])})
	require.Equal(t, http.StatusNoContent, res.StatusCode, "%s", body)
	res, body = g.patch(t, 0, g.alice, path, 30, chunk, map[string]string{"Upload-Checksum": "sha256 " + b64(sha256Sum[:])})
	require.Equal(t, http.StatusNoContent, res.StatusCode, "%s", body)
	assert.Equal(t, int64(50), g.offset(t, path))
}

func TestUploads_CreateErrors(t *testing.T) {
	t.Parallel()
	g := bootTus(t, 1)
	tests := []struct {
		name       string
		whenHeader map[string]string
		expect     int
		expectCode string
	}{
		{name: "nok, no length", whenHeader: map[string]string{"Upload-Metadata": meta("a.jpg", "image/jpeg")}, expect: 400, expectCode: "validation_failed"},
		{name: "nok, zero length", whenHeader: map[string]string{"Upload-Length": "0", "Upload-Metadata": meta("a.jpg", "image/jpeg")}, expect: 400, expectCode: "validation_failed"},
		{name: "nok, length not a number", whenHeader: map[string]string{"Upload-Length": "1e3", "Upload-Metadata": meta("a.jpg", "image/jpeg")}, expect: 400, expectCode: "validation_failed"},
		{name: "nok, over 20 MiB", whenHeader: map[string]string{"Upload-Length": strconv.Itoa(20<<20 + 1), "Upload-Metadata": meta("a.jpg", "image/jpeg")}, expect: 413, expectCode: "payload_too_large"},
		{name: "nok, no metadata", whenHeader: map[string]string{"Upload-Length": "10"}, expect: 400, expectCode: "validation_failed"},
		{name: "nok, content type not allowed", whenHeader: map[string]string{"Upload-Length": "10", "Upload-Metadata": meta("a.gif", "image/gif")}, expect: 400, expectCode: "validation_failed"},
		{name: "nok, metadata not base64", whenHeader: map[string]string{"Upload-Length": "10", "Upload-Metadata": "filename a.jpg,contentType aW1hZ2UvanBlZw=="}, expect: 400, expectCode: "validation_failed"},
		{name: "nok, no Tus-Resumable", whenHeader: map[string]string{"Tus-Resumable": "", "Upload-Length": "10", "Upload-Metadata": meta("a.jpg", "image/jpeg")}, expect: 412, expectCode: "precondition_failed"},
	}
	for _, tt := range tests {
		res, body := tusCall(t, http.MethodPost, g.urls[0]+"/v1/uploads", g.alice, nil, tt.whenHeader)
		assert.Equal(t, tt.expect, res.StatusCode, "%s: %s", tt.name, body)
		assert.Equal(t, tt.expectCode, problemCode(t, body), tt.name)
		assert.Equal(t, "1.0.0", res.Header.Get("Tus-Resumable"), tt.name)
	}
	assert.Zero(t, g.fakes.Requests("media"), "no refused creation reached the media service")
}

func TestUploads_OwnershipExpiryTermination(t *testing.T) {
	t.Parallel()
	g := bootTus(t, 1)
	path := g.create(t, 0, g.alice, 10)

	for _, m := range []string{http.MethodHead, http.MethodGet, http.MethodPatch, http.MethodDelete} {
		var res *http.Response
		if m == http.MethodPatch {
			res, _ = g.patch(t, 0, g.bob, path, 0, []byte("abc"), nil)
		} else {
			res, _ = tusCall(t, m, g.urls[0]+path, g.bob, nil, nil)
		}
		assert.Equal(t, http.StatusNotFound, res.StatusCode, "another user's upload on %s", m)
	}
	assert.Equal(t, int64(0), g.offset(t, path))
	res, _ := tusCall(t, http.MethodHead, g.urls[0]+"/v1/uploads/up-unknown", g.alice, nil, nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	res, _ = tusCall(t, http.MethodHead, g.urls[0]+path, "", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, "1.0.0", res.Header.Get("Tus-Resumable"), "even a refusal speaks tus")

	res, _ = tusCall(t, http.MethodDelete, g.urls[0]+path, g.alice, nil, nil)
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = tusCall(t, http.MethodHead, g.urls[0]+path, g.alice, nil, nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "terminated")

	path = g.create(t, 0, g.alice, 10)
	require.True(t, g.fakes.ExpireUpload(strings.TrimPrefix(path, "/v1/uploads/")))
	res, body := g.patch(t, 0, g.alice, path, 0, []byte("abc"), nil)
	assert.Equal(t, http.StatusGone, res.StatusCode)
	assert.Equal(t, "gone", problemCode(t, body))
	res, _ = tusCall(t, http.MethodHead, g.urls[0]+path, g.alice, nil, nil)
	assert.Equal(t, http.StatusGone, res.StatusCode)
}

func TestUploads_OptionsWithoutCredentials(t *testing.T) {
	t.Parallel()
	g := bootTus(t, 1)
	res, _ := tusCall(t, http.MethodOptions, g.urls[0]+"/v1/uploads", "", nil, map[string]string{"Tus-Resumable": ""})
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	for k, v := range map[string]string{
		"Tus-Resumable": "1.0.0", "Tus-Version": "1.0.0", "Tus-Extension": "creation,expiration,checksum,termination",
		"Tus-Max-Size": "20971520", "Tus-Checksum-Algorithm": "sha1,sha256",
	} {
		assert.Equal(t, v, res.Header.Get(k), k)
	}
	assert.NotEmpty(t, res.Header.Get("X-RateLimit-Limit"), "charged to the anonymous limit")
}

// flip returns b with its first byte changed.
func flip(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[0] ^= 0xff
	return out
}

// TestUploads_ChunkTakesNoOverloadSlot runs bff-mobile with the adaptive
// concurrency limit at one request: a chunk whose body is still arriving
// holds no slot of it (uploads have their own slots), so another request is
// served beside it.
func TestUploads_ChunkTakesNoOverloadSlot(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, map[string]string{"BFF_OVERLOAD": "adaptive",
		"BFF_CONFIG": edgetest.TempFile(t, "overload.yaml", "overload: {min_limit: 1, max_limit: 1, initial_limit: 1}\nmobile: {uploads: {max_concurrent: 1}}\n")})))
	require.NoError(t, err)
	a, _ := gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.NewNop()) })
	gatewaytest.WaitReady(t, a.AdminAddr())
	g := tusGateways{fakes: f, urls: []string{"http://" + a.Addr()}, addrs: []string{a.Addr()}, alice: fakestest.UserToken(t, f, "u-001", "mobile")}
	path, other := g.create(t, 0, g.alice, 100), g.create(t, 0, g.alice, 100)

	conn, err := net.Dial("tcp", a.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = conn.Write([]byte("PATCH " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + g.alice + "\r\n" +
		"Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n" +
		"Content-Length: 100\r\n\r\n" + strings.Repeat("x", 10)))
	require.NoError(t, err)
	// Once the chunk is in its handler, the uploads' one slot is taken:
	// another chunk is refused by it (chunks skip the concurrency limit,
	// so nothing else refuses them).
	require.Eventually(t, func() bool {
		res, body := g.patch(t, 0, g.alice, other, 0, []byte("y"), nil)
		return res.StatusCode == http.StatusServiceUnavailable && problemCode(t, body) == "overloaded"
	}, 5*time.Second, 5*time.Millisecond)

	res, body := tusCall(t, http.MethodHead, g.urls[0]+path, g.alice, nil, nil)
	assert.Equal(t, http.StatusOK, res.StatusCode, "the one slot is free while the chunk arrives: %s", body)
	assert.Zero(t, a.Overload().InFlight())
}
