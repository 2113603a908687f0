package requestid_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/requestid"
)

func TestValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// given
		id string
		// expect
		valid bool
	}{
		{name: "nok, empty", id: "", valid: false},
		{name: "ok, one character", id: "a", valid: true},
		{name: "ok, 128 characters", id: strings.Repeat("x", 128), valid: true},
		{name: "nok, 129 characters", id: strings.Repeat("x", 129), valid: false},
		{name: "ok, lower case", id: "abcdefghijklmnopqrstuvwxyz", valid: true},
		{name: "ok, upper case", id: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", valid: true},
		{name: "ok, digits", id: "0123456789", valid: true},
		{name: "ok, dot", id: ".", valid: true},
		{name: "ok, underscore", id: "_", valid: true},
		{name: "ok, hyphen", id: "-", valid: true},
		{name: "ok, uuid", id: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", valid: true},
		{name: "nok, space", id: "a b", valid: false},
		{name: "nok, slash", id: "a/b", valid: false},
		{name: "nok, colon", id: "a:b", valid: false},
		{name: "nok, plus", id: "a+b", valid: false},
		{name: "nok, tilde", id: "a~b", valid: false},
		{name: "nok, quote", id: `a"b`, valid: false},
		{name: "nok, percent", id: "a%20b", valid: false},
		{name: "nok, tab", id: "a\tb", valid: false},
		{name: "nok, newline", id: "a\nb", valid: false},
		{name: "nok, NUL", id: "a\x00b", valid: false},
		{name: "nok, DEL", id: "a\x7fb", valid: false},
		{name: "nok, non-ASCII letter", id: "café", valid: false},
		{name: "nok, 128 characters with one forbidden", id: strings.Repeat("x", 127) + "!", valid: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			got := requestid.Valid(tc.id)

			assert.Equal(t, tc.valid, got)
		})
	}
}

func TestNewIsValidAndUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := requestid.New()
		require.True(t, requestid.Valid(id), "id %q", id)
		assert.Len(t, id, 32)
		assert.False(t, seen[id], "id %q repeated", id)
		seen[id] = true
	}
}

func TestKeepOrNew(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "client-chosen.1_a-B", requestid.KeepOrNew("client-chosen.1_a-B"))
	for _, bad := range []string{"", "has space", strings.Repeat("x", 129), "line\nbreak"} {
		id := requestid.KeepOrNew(bad)
		assert.True(t, requestid.Valid(id), "a new id for %q", bad)
		assert.NotEqual(t, bad, id)
	}
}

func TestFromContext(t *testing.T) {
	t.Parallel()
	assert.Empty(t, requestid.FromContext(context.Background()))
	assert.Equal(t, "abc", requestid.FromContext(requestid.WithID(context.Background(), "abc")))
}

// newServer runs the middleware over a real listener; each response body is
// the id the handler found in its request context.
func newServer(t *testing.T, cfg requestid.Config) string {
	t.Helper()
	mw, err := cfg.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.Use(mw)
	e.GET("/*", func(c echo.Context) error {
		return c.String(http.StatusOK, requestid.FromContext(c.Request().Context()))
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, url string, ids ...string) (header string, inContext string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	for _, id := range ids {
		req.Header.Add(echo.HeaderXRequestID, id)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, resp.Header.Values(echo.HeaderXRequestID), 1, "one id on the response")
	return resp.Header.Get(echo.HeaderXRequestID), string(body)
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	url := newServer(t, requestid.Config{})
	long := strings.Repeat("r", 128)

	tests := []struct {
		name string
		// given
		incoming []string
		// expect
		kept string // "" means a new id replaces it
	}{
		{name: "ok, valid id is kept", incoming: []string{"checkout-42.retry_1"}, kept: "checkout-42.retry_1"},
		{name: "ok, 128 characters are kept", incoming: []string{long}, kept: long},
		{name: "ok, missing id gets a new one", incoming: nil},
		{name: "ok, the first of two valid ids is kept", incoming: []string{"first-1", "second-2"}, kept: "first-1"},
		{name: "nok, an invalid first id is replaced", incoming: []string{"no good", "second-2"}},
		{name: "nok, 129 characters are replaced", incoming: []string{long + "r"}},
		{name: "nok, forbidden character is replaced", incoming: []string{"abc/def"}},
		{name: "nok, header injection attempt is replaced", incoming: []string{"abc%0d%0aSet-Cookie:x=1"}},
		{name: "nok, spaces are replaced", incoming: []string{"a b c"}},
		{name: "nok, non-ASCII is replaced", incoming: []string{"naïve"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			header, inContext := get(t, url+"/anything", tc.incoming...)

			assert.Equal(t, header, inContext, "the response echoes the id the handler saw")
			if tc.kept != "" {
				assert.Equal(t, tc.kept, header)
				return
			}
			assert.True(t, requestid.Valid(header), "new id %q is valid", header)
			for _, in := range tc.incoming {
				assert.NotEqual(t, in, header)
			}
		})
	}
}

func TestMiddlewareNewIDsDiffer(t *testing.T) {
	t.Parallel()
	url := newServer(t, requestid.Config{})

	first, _ := get(t, url+"/a", "bad id")
	second, _ := get(t, url+"/a", "bad id")

	assert.NotEqual(t, first, second)
}

func TestMiddlewareConfig(t *testing.T) {
	t.Parallel()
	url := newServer(t, requestid.Config{
		Generator: func() string { return "generated-1" },
		Skipper:   func(c echo.Context) bool { return c.Request().URL.Path == "/skip" },
	})

	t.Run("ok, generator makes the replacement", func(t *testing.T) {
		t.Parallel()
		header, inContext := get(t, url+"/a", "not/valid")
		assert.Equal(t, "generated-1", header)
		assert.Equal(t, "generated-1", inContext)
	})
	t.Run("ok, skipper leaves the request alone", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url+"/skip", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Empty(t, resp.Header.Get(echo.HeaderXRequestID))
		assert.Empty(t, string(body))
	})
}
