package upload_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-mobile/internal/upload"
	"github.com/shopfront/shared/edge/problem"
)

// tusServer is the upload routes on an echo instance with the gateway's
// problem renderer and Resumable installed before routing, as bff-mobile
// wires them; every request is u-001's.
func tusServer(t *testing.T) *echo.Echo {
	t.Helper()
	api, err := upload.New(upload.Config{Media: stillMedia{}})
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{})
	e.Pre(upload.Resumable)
	register(t, e, api, asUser("u-001"))
	e.GET("/v1/cart", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	return e
}

// TestTusResumable: every tus request but OPTIONS must say Tus-Resumable:
// 1.0.0, else 412 precondition_failed with the versions served in
// Tus-Version; every answer on the tus paths, refusals included, carries
// Tus-Resumable, and no other path gets it.
func TestTusResumable(t *testing.T) {
	t.Parallel()
	e := tusServer(t)
	chunk := []byte("abc")
	tests := []struct {
		name         string
		givenMethod  string
		givenPath    string
		givenVersion string // "" sends no Tus-Resumable
		expect       int
	}{
		{name: "ok, OPTIONS without Tus-Resumable", givenMethod: http.MethodOptions, givenPath: "/v1/uploads", expect: http.StatusNoContent},
		{name: "ok, OPTIONS with another version", givenMethod: http.MethodOptions, givenPath: "/v1/uploads", givenVersion: "0.2.2", expect: http.StatusNoContent},
		{name: "ok, POST 1.0.0", givenMethod: http.MethodPost, givenPath: "/v1/uploads", givenVersion: "1.0.0", expect: http.StatusCreated},
		{name: "ok, HEAD 1.0.0", givenMethod: http.MethodHead, givenPath: "/v1/uploads/up-1", givenVersion: "1.0.0", expect: http.StatusOK},
		{name: "ok, PATCH 1.0.0", givenMethod: http.MethodPatch, givenPath: "/v1/uploads/up-1", givenVersion: "1.0.0", expect: http.StatusNoContent},
		{name: "ok, DELETE 1.0.0", givenMethod: http.MethodDelete, givenPath: "/v1/uploads/up-1", givenVersion: "1.0.0", expect: http.StatusNoContent},
		{name: "ok, the JSON status route is not tus", givenMethod: http.MethodGet, givenPath: "/v1/uploads/up-1", expect: http.StatusOK},

		{name: "nok, POST without", givenMethod: http.MethodPost, givenPath: "/v1/uploads", expect: http.StatusPreconditionFailed},
		{name: "nok, HEAD without", givenMethod: http.MethodHead, givenPath: "/v1/uploads/up-1", expect: http.StatusPreconditionFailed},
		{name: "nok, PATCH without", givenMethod: http.MethodPatch, givenPath: "/v1/uploads/up-1", expect: http.StatusPreconditionFailed},
		{name: "nok, DELETE without", givenMethod: http.MethodDelete, givenPath: "/v1/uploads/up-1", expect: http.StatusPreconditionFailed},
		{name: "nok, PATCH of an older version", givenMethod: http.MethodPatch, givenPath: "/v1/uploads/up-1", givenVersion: "0.2.2", expect: http.StatusPreconditionFailed},
		{name: "nok, PATCH of a newer version", givenMethod: http.MethodPatch, givenPath: "/v1/uploads/up-1", givenVersion: "2.0.0", expect: http.StatusPreconditionFailed},
		{name: "nok, PATCH of a version list", givenMethod: http.MethodPatch, givenPath: "/v1/uploads/up-1", givenVersion: "1.0.0,0.2.2", expect: http.StatusPreconditionFailed},
		{name: "nok, PATCH of a short version", givenMethod: http.MethodPatch, givenPath: "/v1/uploads/up-1", givenVersion: "1.0", expect: http.StatusPreconditionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.givenMethod, tt.givenPath, nil)
			switch tt.givenMethod {
			case http.MethodPost:
				req.Header.Set(upload.HeaderUploadLength, "10")
				req.Header.Set(upload.HeaderUploadMetadata, upload.Metadata{Filename: "a.jpg", ContentType: "image/jpeg"}.Encode())
			case http.MethodPatch:
				req = httptest.NewRequest(tt.givenMethod, tt.givenPath, bytes.NewReader(chunk))
				req.Header.Set(echo.HeaderContentType, upload.ContentTypeOffsetOctet)
				req.Header.Set(upload.HeaderUploadOffset, "0")
			}
			if tt.givenVersion != "" {
				req.Header.Set(upload.HeaderTusResumable, tt.givenVersion)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			assert.Equal(t, tt.expect, rec.Code, rec.Body.String())
			assert.Equal(t, "1.0.0", rec.Header().Get(upload.HeaderTusResumable))
			if tt.expect != http.StatusPreconditionFailed {
				return
			}
			assert.Equal(t, "1.0.0", rec.Header().Get(upload.HeaderTusVersion), "the versions served")
			if tt.givenMethod != http.MethodHead {
				assert.Equal(t, "application/problem+json", rec.Header().Get(echo.HeaderContentType))
				assert.Contains(t, rec.Body.String(), `"error":"precondition_failed"`)
			}
		})
	}

	t.Run("ok, other paths do not speak tus", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/v1/cart", "/v1/uploadsx", "/v1/upload"} {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			assert.Empty(t, rec.Header().Get(upload.HeaderTusResumable), path)
		}
	})
	t.Run("ok, OPTIONS lists what is served", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodOptions, "/v1/uploads", nil))
		assert.Equal(t, "1.0.0", rec.Header().Get(upload.HeaderTusVersion))
		assert.Equal(t, "creation,expiration,checksum,termination", rec.Header().Get(upload.HeaderTusExtension))
		assert.Equal(t, "20971520", rec.Header().Get(upload.HeaderTusMaxSize))
		assert.Equal(t, "sha1,sha256", rec.Header().Get(upload.HeaderTusChecksumAlgo))
	})
}
