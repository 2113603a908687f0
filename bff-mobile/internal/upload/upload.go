// Package upload is bff-mobile's resumable upload API: the server side of
// the tus protocol 1.0.0 (https://tus.io/protocols/resumable-upload) with
// the creation, expiration, checksum (sha1, sha256) and termination
// extensions, plus a JSON status route. The gateway stores nothing: it
// authenticates, checks and translates, and the media service holds each
// upload's state and bytes, so any instance can take any chunk.
//
// The protocol layer is written here rather than taken from tusd
// (github.com/tus/tusd/v2): tusd's handler streams a PATCH body straight
// into its DataStore and keeps whatever arrived when the body is cut off,
// implements neither the checksum nor the expiration extension, and writes
// its own plain-text errors; a chunk here is read whole (at most 1 MiB),
// checked, and forwarded only then, and every error is the gateway's
// problem+json with its stable code.
//
// Routes (OPTIONS needs no credentials; the others run behind the mobile
// JWT and the per-user rate limit the composition root passes in):
//
//	OPTIONS /v1/uploads        capabilities
//	POST    /v1/uploads        create (Upload-Length, Upload-Metadata)
//	HEAD    /v1/uploads/{id}   offset, length, metadata, expiry
//	PATCH   /v1/uploads/{id}   append one chunk at Upload-Offset
//	DELETE  /v1/uploads/{id}   terminate
//	GET     /v1/uploads/{id}   JSON status
package upload

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/route"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/upstream"
)

// The tus protocol's headers and values.
const (
	HeaderTusResumable       = "Tus-Resumable"
	HeaderTusVersion         = "Tus-Version"
	HeaderTusExtension       = "Tus-Extension"
	HeaderTusMaxSize         = "Tus-Max-Size"
	HeaderTusChecksumAlgo    = "Tus-Checksum-Algorithm"
	HeaderUploadOffset       = "Upload-Offset"
	HeaderUploadLength       = "Upload-Length"
	HeaderUploadMetadata     = "Upload-Metadata"
	HeaderUploadExpires      = "Upload-Expires"
	HeaderUploadChecksum     = "Upload-Checksum"
	HeaderUploadDeferLength  = "Upload-Defer-Length"
	TusVersion               = "1.0.0"
	Extensions               = "creation,expiration,checksum,termination"
	ChecksumAlgorithms       = "sha1,sha256"
	ContentTypeOffsetOctet   = "application/offset+octet-stream"
	StatusChecksumMismatch   = 460
	defaultRetryAfterSeconds = "1"
)

// Limits of the protocol as bff-mobile serves it.
const (
	// MaxLength is the largest upload, Tus-Max-Size: 20 MiB.
	MaxLength = 20 << 20
	// MaxChunk is the largest PATCH body: 1 MiB. A chunk is buffered whole
	// before it is checked and forwarded, so this bounds the memory of one
	// PATCH in flight.
	MaxChunk = 1 << 20
)

// Defaults of Config.
const (
	DefaultPatchBudget   = 30 * time.Second
	DefaultMaxConcurrent = 64
)

// ContentTypes returns the media types an upload may declare in its
// metadata: the photos and short videos the app sends.
func ContentTypes() []string {
	return []string{"image/jpeg", "image/png", "image/heic", "video/mp4"}
}

// Media is the media service as the upload routes use it;
// services.Media implements it.
type Media interface {
	Create(ctx context.Context, in domain.CreateUpload) (domain.Upload, error)
	Get(ctx context.Context, id string) (domain.Upload, error)
	Patch(ctx context.Context, id string, offset int64, chunk []byte) (domain.Upload, error)
	Delete(ctx context.Context, id string) error
}

// Config configures the upload routes.
type Config struct {
	// Media is the media service. Required.
	Media Media
	// PatchBudget bounds a whole PATCH: reading the chunk from a slow radio
	// and the media calls. Optional. Default 30 s.
	PatchBudget time.Duration
	// MaxConcurrent caps the PATCHes in flight on this instance, and with
	// them the chunk buffers (MaxConcurrent MiB at most); the excess gets
	// 503 with Retry-After. Optional. Default 64.
	MaxConcurrent int
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Media == nil {
		errs = append(errs, errors.New("upload: Media is required"))
	}
	if c.PatchBudget < 0 {
		errs = append(errs, fmt.Errorf("upload: PatchBudget must not be negative, got %s", c.PatchBudget))
	}
	if c.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("upload: MaxConcurrent must not be negative, got %d", c.MaxConcurrent))
	}
	return errors.Join(errs...)
}

// API serves the upload routes.
type API struct {
	media  Media
	budget time.Duration
	// slots holds one token per PATCH in flight; a full channel means the
	// instance is at its chunk-memory cap.
	slots chan struct{}
	bufs  *bufferPool
}

// New validates cfg, fills its defaults and returns the API.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PatchBudget == 0 {
		cfg.PatchBudget = DefaultPatchBudget
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	return &API{media: cfg.Media, budget: cfg.PatchBudget,
		slots: make(chan struct{}, cfg.MaxConcurrent), bufs: newBufferPool(MaxChunk + 1)}, nil
}

// The policies of the upload routes (see package route): the composition
// root gives each its chain.
const (
	// CapabilitiesPolicy guards OPTIONS, which needs no credentials: the
	// anonymous per-IP rate limit.
	CapabilitiesPolicy route.Policy = "upload capabilities"
	// StatusPolicy guards the JSON status route, outside tus: JWT and the
	// per-user rate limit.
	StatusPolicy route.Policy = "upload status"
	// TusPolicy guards the tus routes: JWT, the per-user rate limit, then
	// RequireVersion once the caller is known.
	TusPolicy route.Policy = "tus"
)

// Routes lists the upload routes. Install Resumable in the Pre slot of the
// edge chain as well, so that every answer on these paths carries
// Tus-Resumable.
func (a *API) Routes() []route.Route {
	return []route.Route{
		{Method: http.MethodOptions, Path: "/v1/uploads", Handler: a.options, Policy: CapabilitiesPolicy},
		{Method: http.MethodPost, Path: "/v1/uploads", Handler: a.create, Policy: TusPolicy},
		// GET is the JSON status route, outside tus; the HEAD listed after
		// it replaces the HEAD the server mirrors from every GET.
		{Method: http.MethodGet, Path: "/v1/uploads/:id", Handler: a.status, Policy: StatusPolicy},
		{Method: http.MethodHead, Path: "/v1/uploads/:id", Handler: a.head, Policy: TusPolicy},
		// A chunk may take the whole PatchBudget and has its own slots
		// (MaxConcurrent), so it takes none of the gateway's concurrency
		// limit.
		{Method: http.MethodPatch, Path: "/v1/uploads/:id", Handler: a.patch, Policy: TusPolicy, LongLived: true},
		{Method: http.MethodDelete, Path: "/v1/uploads/:id", Handler: a.terminate, Policy: TusPolicy},
	}
}

// Resumable sets Tus-Resumable on the response of every request to the
// tus paths before anything else runs, so that the refusals of the edge
// chain (a body over the limit, a missing token, a rate limit) carry it
// too, as tus requires of every response. It is meant for Echo.Pre: it
// runs before routing and sees every path.
func Resumable(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := c.Request().URL.Path; p == "/v1/uploads" || strings.HasPrefix(p, "/v1/uploads/") {
			c.Response().Header().Set(HeaderTusResumable, TusVersion)
		}
		return next(c)
	}
}

// RequireVersion refuses requests that do not speak tus 1.0.0: 412 with
// the versions served.
func RequireVersion(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if v := c.Request().Header.Get(HeaderTusResumable); v != TusVersion {
			return problem.New(http.StatusPreconditionFailed, problem.CodePreconditionFailed,
				"Tus-Resumable must be "+TusVersion).WithHeader(HeaderTusVersion, TusVersion)
		}
		return next(c)
	}
}

func (a *API) options(c echo.Context) error {
	h := c.Response().Header()
	h.Set(HeaderTusVersion, TusVersion)
	h.Set(HeaderTusExtension, Extensions)
	h.Set(HeaderTusMaxSize, strconv.Itoa(MaxLength))
	h.Set(HeaderTusChecksumAlgo, ChecksumAlgorithms)
	return c.NoContent(http.StatusNoContent)
}

func (a *API) create(c echo.Context) error {
	r := c.Request()
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		// creation-with-upload is not offered: the bytes come by PATCH.
		return problem.ValidationFailed("POST carries no body; send the bytes with PATCH")
	}
	if r.Header.Get(HeaderUploadDeferLength) != "" {
		return problem.ValidationFailed("Upload-Defer-Length is not supported; send Upload-Length")
	}
	length, err := parseLength(r.Header.Get(HeaderUploadLength))
	if err != nil {
		return err
	}
	meta, err := parseMetadata(r.Header.Get(HeaderUploadMetadata))
	if err != nil {
		return err
	}
	p, err := principal(c)
	if err != nil {
		return err
	}
	u, err := a.media.Create(r.Context(), domain.CreateUpload{
		UserID: p.Subject, Length: length, Filename: meta.Filename, ContentType: meta.ContentType,
	})
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderLocation, "/v1/uploads/"+u.ID)
	h.Set(HeaderUploadOffset, strconv.FormatInt(u.Offset, 10))
	h.Set(HeaderUploadExpires, httpDate(u.ExpiresAt))
	h.Set(echo.HeaderCacheControl, "no-store")
	return c.NoContent(http.StatusCreated)
}

func (a *API) head(c echo.Context) error {
	u, err := a.own(c.Request().Context(), c)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(HeaderUploadOffset, strconv.FormatInt(u.Offset, 10))
	h.Set(HeaderUploadLength, strconv.FormatInt(u.Length, 10))
	h.Set(HeaderUploadMetadata, Metadata{Filename: u.Filename, ContentType: u.ContentType}.Encode())
	h.Set(HeaderUploadExpires, httpDate(u.ExpiresAt))
	h.Set(echo.HeaderCacheControl, "no-store")
	return c.NoContent(http.StatusOK)
}

func (a *API) terminate(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := a.own(ctx, c)
	if err != nil {
		return err
	}
	if err := a.media.Delete(ctx, u.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// Status is the JSON answer of GET /v1/uploads/{id}.
type Status struct {
	ID          string    `json:"id"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"contentType"`
	Length      int64     `json:"length"`
	Offset      int64     `json:"offset"`
	Complete    bool      `json:"complete"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

func (a *API) status(c echo.Context) error {
	u, err := a.own(c.Request().Context(), c)
	if err != nil {
		return err
	}
	// The offset moves with every chunk: a cached status would send a
	// client back to an old offset.
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, Status{ID: u.ID, Filename: u.Filename, ContentType: u.ContentType,
		Length: u.Length, Offset: u.Offset, Complete: u.Complete, ExpiresAt: u.ExpiresAt})
}

// own returns the caller's upload named in the path. Another user's upload
// is answered exactly like an unknown one, so that ids cannot be probed.
func (a *API) own(ctx context.Context, c echo.Context) (domain.Upload, error) {
	p, err := principal(c)
	if err != nil {
		return domain.Upload{}, err
	}
	id := c.Param("id")
	if !validID(id) {
		return domain.Upload{}, notFound()
	}
	u, err := a.media.Get(ctx, id)
	if err != nil {
		return domain.Upload{}, mediaError(err)
	}
	if u.UserID != p.Subject {
		return domain.Upload{}, notFound()
	}
	return u, nil
}

func notFound() *problem.Problem { return problem.NotFound("No such upload.") }

// mediaError gives the media service's answers the problems the tus
// routes document: 404 not_found, 410 gone; the rest as the upstream
// client maps them.
func mediaError(err error) error {
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.Kind == upstream.KindClientError {
		switch ue.Status {
		case http.StatusNotFound:
			return notFound().Wrap(err)
		case http.StatusGone:
			return problem.New(http.StatusGone, problem.CodeGone, "The upload expired.").Wrap(err)
		}
	}
	return err
}

func principal(c echo.Context) (*auth.Principal, error) {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Subject == "" {
		// The routes are registered behind authentication; reaching here
		// without a user is a wiring mistake, not the client's.
		return nil, problem.Unauthorized("Credentials are required.")
	}
	return p, nil
}

// validID accepts the ids the media service hands out: short, of letters,
// digits, '-' and '_'. Anything else never reaches the service.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// parseLength reads Upload-Length: a decimal integer of 1..MaxLength.
func parseLength(s string) (int64, error) {
	n, ok := parseUint(s)
	switch {
	case !ok:
		return 0, problem.ValidationFailed("Upload-Length must be a positive integer")
	case n > MaxLength:
		return 0, problem.New(http.StatusRequestEntityTooLarge, problem.CodePayloadTooLarge,
			fmt.Sprintf("Upload-Length must be at most %d bytes", MaxLength))
	case n < 1:
		return 0, problem.ValidationFailed("Upload-Length must be at least 1")
	}
	return n, nil
}

// parseUint reads a non-negative decimal of at most 18 digits: no sign,
// no spaces, no exponent, nothing that could overflow.
func parseUint(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// httpDate formats t as an HTTP-date (RFC 9110 §5.6.7), as Upload-Expires
// requires.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
