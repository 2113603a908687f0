package upload_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/bff-mobile/internal/upload"
	"github.com/shopfront/contracts/domain"
)

// stillMedia is a media service whose upload always stands at offset 0,
// so that every iteration appends the same first chunk; it keeps nothing.
type stillMedia struct{}

func (stillMedia) Create(context.Context, domain.CreateUpload) (domain.Upload, error) {
	return domain.Upload{}, nil
}

func (stillMedia) Get(_ context.Context, id string) (domain.Upload, error) {
	return domain.Upload{ID: id, UserID: "u-001", Length: 20 << 20, ExpiresAt: time.Now().Add(time.Hour)}, nil
}

func (stillMedia) Patch(_ context.Context, id string, offset int64, chunk []byte) (domain.Upload, error) {
	return domain.Upload{ID: id, UserID: "u-001", Length: 20 << 20, Offset: offset + int64(len(chunk))}, nil
}

func (stillMedia) Delete(context.Context, string) error { return nil }

// BenchmarkPatch1MiB is one 1 MiB chunk with its sha256 checksum through
// the PATCH handler: headers, ownership, the whole read into a pooled
// buffer, the checksum, the forward. B/op far below the 1 MiB chunk shows
// the buffer is reused, not allocated per request: a request in flight
// holds one pooled MiB plus B/op.
func BenchmarkPatch1MiB(b *testing.B) {
	api, err := upload.New(upload.Config{Media: stillMedia{}})
	if err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	register(b, e, api, asUser("u-001"))
	chunk := bytes.Repeat([]byte{0xab}, upload.MaxChunk)
	h := newSum(chunk)

	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPatch, "/v1/uploads/up-1", bytes.NewReader(chunk))
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Upload-Checksum", h)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
