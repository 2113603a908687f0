package services

import (
	"context"
	"net/http"
	"strconv"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/upstream"
)

// Media is the client of the media service, which holds resumable
// uploads: their state and their bytes.
type Media struct{ c caller }

// Create starts an upload for a user. It is a POST without an idempotency
// key, so it is never retried: a retry could leave a second upload behind.
func (s *Media) Create(ctx context.Context, in domain.CreateUpload) (domain.Upload, error) {
	var u domain.Upload
	err := s.c.Do(ctx, upstream.Request{Method: http.MethodPost, Path: upstream.Path("uploads"), JSON: in}, &u)
	return u, err
}

// Get returns an upload; an unknown id is a 404 problem, an expired one a
// 410 gone.
func (s *Media) Get(ctx context.Context, id string) (domain.Upload, error) {
	var u domain.Upload
	err := s.c.Get(ctx, upstream.Path("uploads", id), nil, &u)
	return u, err
}

// Patch appends chunk at offset and returns the upload with its new
// offset. A PATCH is never retried (the upstream client retries only
// idempotent methods): a chunk whose answer was lost may have been written,
// and sending it again would fail with 409 at best. An offset that is not
// the current one is a 409 conflict problem; a chunk passing the upload's
// length a 413.
func (s *Media) Patch(ctx context.Context, id string, offset int64, chunk []byte) (domain.Upload, error) {
	var u domain.Upload
	err := s.c.Do(ctx, upstream.Request{
		Method: http.MethodPatch, Path: upstream.Path("uploads", id),
		Header: http.Header{domain.HeaderUploadOffset: {strconv.FormatInt(offset, 10)}},
		Body:   chunk, ContentType: "application/octet-stream",
	}, &u)
	return u, err
}

// Delete removes an upload and its bytes.
func (s *Media) Delete(ctx context.Context, id string) error {
	return s.c.Do(ctx, upstream.Request{Method: http.MethodDelete, Path: upstream.Path("uploads", id)}, nil)
}
