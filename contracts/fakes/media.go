package fakes

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/shopfront/contracts/domain"
)

// Limits of the media fake.
const (
	// DefaultUploadTTL is how long an upload is kept after its creation
	// when Options.UploadTTL is zero.
	DefaultUploadTTL = 24 * time.Hour
	// maxUploadLength bounds one upload, far above what any gateway lets
	// through, so that the fake never holds an unbounded file.
	maxUploadLength = 1 << 30
	// maxPatchBytes bounds one PATCH body the fake reads.
	maxPatchBytes = 8 << 20
	// octetStream is the only media type a PATCH accepts.
	octetStream = "application/octet-stream"
)

// media is the media service's state: uploads in memory, each with its
// bytes, kept until it expires. It has its own lock so that a large PATCH
// does not hold up the other services.
type media struct {
	clock func() time.Time
	ttl   time.Duration

	mu      sync.Mutex
	uploads map[string]*upload
}

// upload is one upload and the bytes received so far.
type upload struct {
	meta domain.Upload
	data []byte
}

func newMedia(clock func() time.Time, ttl time.Duration) *media {
	if ttl <= 0 {
		ttl = DefaultUploadTTL
	}
	return &media{clock: clock, ttl: ttl, uploads: map[string]*upload{}}
}

// errExpired and errUnknown are the two ways an upload is not there.
var (
	errUnknown = errors.New("unknown upload")
	errExpired = errors.New("upload expired")
)

// find returns the upload id when it is known and not expired; the caller
// holds m.mu.
func (m *media) find(id string) (*upload, error) {
	u, ok := m.uploads[id]
	if !ok {
		return nil, errUnknown
	}
	if !m.clock().Before(u.meta.ExpiresAt) {
		return nil, errExpired
	}
	return u, nil
}

// sweep forgets uploads expired for longer than the TTL: until then they
// answer 410, after that 404, and the fake's memory stays bounded by the
// uploads of two TTLs. The caller holds m.mu.
func (m *media) sweep() {
	now := m.clock()
	for id, u := range m.uploads {
		if now.Sub(u.meta.ExpiresAt) > m.ttl {
			delete(m.uploads, id)
		}
	}
}

func (f *Fakes) mediaRoutes(mux *http.ServeMux) {
	m := f.media
	mux.HandleFunc("POST /uploads", func(w http.ResponseWriter, r *http.Request) {
		var in domain.CreateUpload
		if err := decodeStrict(r, &in); err != nil {
			badRequest(w, err)
			return
		}
		switch {
		case in.UserID == "":
			badRequest(w, errors.New("userId is required"))
			return
		case in.Length < 1 || in.Length > maxUploadLength:
			badRequest(w, fmt.Errorf("length must be within 1..%d", maxUploadLength))
			return
		case in.Filename == "" || len(in.Filename) > 255:
			badRequest(w, errors.New("filename must have 1..255 bytes"))
			return
		case in.ContentType == "":
			badRequest(w, errors.New("contentType is required"))
			return
		}
		id, err := newUploadID()
		if err != nil {
			writeProblem(w, http.StatusInternalServerError, "internal_error", "")
			return
		}
		u := &upload{meta: domain.Upload{
			ID: id, UserID: in.UserID, Length: in.Length, Filename: in.Filename, ContentType: in.ContentType,
			ExpiresAt: m.clock().Add(m.ttl).UTC().Truncate(time.Second),
		}}
		m.mu.Lock()
		m.sweep()
		m.uploads[id] = u
		m.mu.Unlock()
		writeJSON(w, http.StatusCreated, u.meta)
	})
	mux.HandleFunc("GET /uploads/{id}", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		u, err := m.find(r.PathValue("id"))
		var meta domain.Upload
		if err == nil {
			meta = u.meta
		}
		m.mu.Unlock()
		if err != nil {
			uploadProblem(w, err, r.PathValue("id"))
			return
		}
		writeJSON(w, http.StatusOK, meta)
	})
	mux.HandleFunc("PATCH /uploads/{id}", m.patch)
	mux.HandleFunc("DELETE /uploads/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		m.mu.Lock()
		_, err := m.find(id)
		if err == nil {
			delete(m.uploads, id)
		}
		m.mu.Unlock()
		if err != nil {
			uploadProblem(w, err, id)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// patch appends the body at Upload-Offset. The body is read whole before
// anything changes: a body cut off, too long or sent at the wrong offset
// writes nothing.
func (m *media) patch(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	offset, err := strconv.ParseInt(r.Header.Get(domain.HeaderUploadOffset), 10, 64)
	if err != nil || offset < 0 {
		badRequest(w, errors.New("Upload-Offset must be a non-negative integer"))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != octetStream {
		writeProblem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be "+octetStream)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPatchBytes+1))
	if err != nil {
		// The caller went away mid-body: nothing is written.
		badRequest(w, fmt.Errorf("reading body: %w", err))
		return
	}
	if len(body) > maxPatchBytes {
		writeProblem(w, http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("a PATCH carries at most %d bytes", maxPatchBytes))
		return
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	u, err := m.find(id)
	if err != nil {
		uploadProblem(w, err, id)
		return
	}
	if offset != u.meta.Offset {
		w.Header().Set(domain.HeaderUploadOffset, strconv.FormatInt(u.meta.Offset, 10))
		writeProblem(w, http.StatusConflict, "conflict", fmt.Sprintf("the upload is at offset %d", u.meta.Offset))
		return
	}
	if offset+int64(len(body)) > u.meta.Length {
		writeProblem(w, http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("the chunk would pass the upload's length %d", u.meta.Length))
		return
	}
	u.data = append(u.data, body...)
	u.meta.Offset += int64(len(body))
	u.meta.Complete = u.meta.Offset == u.meta.Length
	writeJSON(w, http.StatusOK, u.meta)
}

func uploadProblem(w http.ResponseWriter, err error, id string) {
	if errors.Is(err, errExpired) {
		writeProblem(w, http.StatusGone, "gone", fmt.Sprintf("upload %q expired", id))
		return
	}
	notFound(w, "upload", id)
}

// newUploadID returns an unguessable id: upload ids are handed to clients,
// and knowing one must not be enough to find another.
func newUploadID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making upload id: %w", err)
	}
	return "up-" + hex.EncodeToString(b[:]), nil
}

// Upload returns the media service's upload id as it stands, expired or
// not, for tests.
func (f *Fakes) Upload(id string) (domain.Upload, bool) {
	f.media.mu.Lock()
	defer f.media.mu.Unlock()
	u, ok := f.media.uploads[id]
	if !ok {
		return domain.Upload{}, false
	}
	return u.meta, true
}

// UploadData returns a copy of the bytes the media service holds for
// upload id, for tests comparing what arrived with what was sent.
func (f *Fakes) UploadData(id string) ([]byte, bool) {
	f.media.mu.Lock()
	defer f.media.mu.Unlock()
	u, ok := f.media.uploads[id]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), u.data...), true
}

// ExpireUpload makes upload id expire now, as if its TTL had passed; it
// reports whether the upload exists.
func (f *Fakes) ExpireUpload(id string) bool {
	f.media.mu.Lock()
	defer f.media.mu.Unlock()
	u, ok := f.media.uploads[id]
	if ok {
		u.meta.ExpiresAt = f.media.clock()
	}
	return ok
}
