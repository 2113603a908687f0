package upload

import (
	"context"
	"crypto/sha1" //nolint:gosec // tus's checksum extension names sha1; it guards against corruption, not forgery.
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/upstream"
)

// patch appends one chunk. In order: a slot (or 503), the request's
// headers, the upload (ownership, expiry, offset), the whole body (at most
// MaxChunk bytes, cut off = error), the length, the checksum; only then is
// the chunk forwarded, once. Any refusal writes nothing.
func (a *API) patch(c echo.Context) error {
	select {
	case a.slots <- struct{}{}:
		defer func() { <-a.slots }()
	default:
		return problem.New(http.StatusServiceUnavailable, problem.CodeOverloaded,
			"Too many uploads in progress; retry shortly.").WithHeader(echo.HeaderRetryAfter, defaultRetryAfterSeconds)
	}
	r := c.Request()
	ctx, cancel := context.WithTimeout(r.Context(), a.budget)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		// The budget covers reading the chunk too; a connection that
		// cannot set deadlines keeps the server's read timeout.
		_ = http.NewResponseController(c.Response().Writer).SetReadDeadline(dl)
	}

	if mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType)); err != nil || mt != ContentTypeOffsetOctet {
		return problem.New(http.StatusUnsupportedMediaType, problem.CodeUnsupportedMediaType,
			"Content-Type must be "+ContentTypeOffsetOctet)
	}
	if ce := r.Header.Get(echo.HeaderContentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return problem.New(http.StatusUnsupportedMediaType, problem.CodeUnsupportedMediaType,
			"request bodies are not decoded; send them without Content-Encoding")
	}
	offset, ok := parseUint(r.Header.Get(HeaderUploadOffset))
	if !ok {
		return problem.ValidationFailed("Upload-Offset must be a non-negative integer")
	}
	if r.ContentLength > MaxChunk {
		return chunkTooLarge()
	}
	sum, err := parseChecksum(r.Header.Get(HeaderUploadChecksum))
	if err != nil {
		return err
	}

	u, err := a.own(ctx, c)
	if err != nil {
		return err
	}
	if offset != u.Offset {
		return conflict(u.Offset)
	}
	if r.ContentLength >= 0 && u.Offset+r.ContentLength > u.Length {
		return pastLength(u.Length)
	}

	buf := a.bufs.get()
	defer a.bufs.put(buf)
	chunk, err := readChunk(r.Body, *buf)
	if err != nil {
		return err
	}
	if u.Offset+int64(len(chunk)) > u.Length {
		return pastLength(u.Length)
	}
	if sum != nil && !sum.matches(chunk) {
		return problem.New(StatusChecksumMismatch, problem.CodeChecksumMismatch,
			"Upload-Checksum does not match the chunk").WithHeader(HeaderUploadOffset, strconv.FormatInt(u.Offset, 10))
	}

	u, err = a.media.Patch(ctx, u.ID, offset, chunk)
	if err != nil {
		var ue *upstream.Error
		if errors.As(err, &ue) && ue.Kind == upstream.KindClientError && ue.Status == http.StatusConflict {
			// Another instance appended first; tell the client where the
			// upload stands now.
			if cur, gerr := a.media.Get(ctx, u.ID); gerr == nil {
				return conflict(cur.Offset).Wrap(err)
			}
		}
		return mediaError(err)
	}
	h := c.Response().Header()
	h.Set(HeaderUploadOffset, strconv.FormatInt(u.Offset, 10))
	h.Set(HeaderUploadExpires, httpDate(u.ExpiresAt))
	return c.NoContent(http.StatusNoContent)
}

func conflict(current int64) *problem.Problem {
	return problem.New(http.StatusConflict, problem.CodeConflict,
		fmt.Sprintf("Upload-Offset must be the upload's current offset %d", current)).
		WithHeader(HeaderUploadOffset, strconv.FormatInt(current, 10))
}

func chunkTooLarge() *problem.Problem {
	return problem.New(http.StatusRequestEntityTooLarge, problem.CodePayloadTooLarge,
		fmt.Sprintf("a chunk has at most %d bytes", MaxChunk))
}

func pastLength(length int64) *problem.Problem {
	return problem.New(http.StatusRequestEntityTooLarge, problem.CodePayloadTooLarge,
		fmt.Sprintf("the chunk would pass Upload-Length %d", length))
}

// errCutOff is the cause of a chunk whose body ended early.
var errCutOff = errors.New("chunk body cut off")

// readChunk reads the whole body into buf (of MaxChunk+1 bytes): a body
// longer than MaxChunk is refused without reading further, and a body that
// breaks off (the client's radio dropped, or less than its Content-Length
// arrived) is an error, so that nothing of it is forwarded. net/http's
// body answers io.EOF only at the true end of a body; a cut-off one
// answers io.ErrUnexpectedEOF or the connection's error.
func readChunk(body io.Reader, buf []byte) ([]byte, error) {
	n := 0
	for {
		if n == len(buf) {
			// One byte more than a chunk may have.
			return nil, chunkTooLarge()
		}
		m, err := body.Read(buf[n:])
		n += m
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			return buf[:n], nil
		}
		var tooLarge *http.MaxBytesError
		var he *echo.HTTPError
		if errors.As(err, &tooLarge) || errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge {
			return nil, chunkTooLarge()
		}
		// The client is most likely gone and reads no answer; the problem
		// says why in the access log.
		return nil, problem.New(http.StatusBadRequest, problem.CodeBadRequest, "the chunk ended before its end").
			Wrap(fmt.Errorf("%w: %w", errCutOff, err))
	}
}

// checksum is a parsed Upload-Checksum.
type checksum struct {
	newHash func() hash.Hash
	digest  []byte
}

func (s *checksum) matches(chunk []byte) bool {
	h := s.newHash()
	h.Write(chunk)
	return subtle.ConstantTimeCompare(h.Sum(nil), s.digest) == 1
}

// parseChecksum reads Upload-Checksum, "<algorithm> <base64 digest>"; an
// empty header is no checksum. An algorithm not in ChecksumAlgorithms, or a
// digest of the wrong size, is 400 as tus requires.
func parseChecksum(s string) (*checksum, error) {
	if s == "" {
		return nil, nil
	}
	algo, b64, ok := strings.Cut(s, " ")
	var sum checksum
	switch {
	case !ok:
		return nil, problem.ValidationFailed("Upload-Checksum must be <algorithm> <base64 digest>")
	case algo == "sha1":
		sum.newHash = sha1.New
	case algo == "sha256":
		sum.newHash = sha256.New
	default:
		return nil, problem.ValidationFailed("Upload-Checksum algorithm must be one of " + ChecksumAlgorithms)
	}
	d, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(d) != sum.newHash().Size() {
		return nil, problem.ValidationFailed("Upload-Checksum digest must be the base64 " + algo + " of the chunk")
	}
	sum.digest = d
	return &sum, nil
}

// bufferPool reuses chunk buffers, so that a steady stream of PATCHes
// costs no new MiB each; the API's slots bound how many are out at once.
type bufferPool struct {
	size int
	p    sync.Pool
}

func newBufferPool(size int) *bufferPool {
	b := &bufferPool{size: size}
	b.p.New = func() any { s := make([]byte, size); return &s }
	return b
}

func (b *bufferPool) get() *[]byte { return b.p.Get().(*[]byte) }

func (b *bufferPool) put(s *[]byte) { b.p.Put(s) }
