package fakes_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *manualClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func createUpload(t *testing.T, base string) domain.Upload {
	t.Helper()
	var u domain.Upload
	resp := do(t, "POST", base+"/media/uploads", `{"userId":"u-001","length":4,"filename":"a.jpg","contentType":"image/jpeg"}`, nil, &u)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	return u
}

func TestMediaExpiry(t *testing.T) {
	t.Parallel()
	clock := &manualClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	f, base := fakestest.StartWith(t, fakes.Options{Clock: clock.Now, UploadTTL: time.Hour})
	u := createUpload(t, base)
	assert.Equal(t, clock.Now().Add(time.Hour), u.ExpiresAt, "the TTL is configurable")
	assert.NotEqual(t, u.ID, createUpload(t, base).ID, "ids are unique")

	clock.Add(59 * time.Minute)
	assert.Equal(t, http.StatusOK, do(t, "GET", base+"/media/uploads/"+u.ID, "", nil, nil).StatusCode)

	clock.Add(time.Minute)
	var p problem
	resp := do(t, "GET", base+"/media/uploads/"+u.ID, "", nil, &p)
	assert.Equal(t, http.StatusGone, resp.StatusCode)
	assert.Equal(t, "gone", p.Code)

	// Long expired uploads are forgotten at the next creation.
	clock.Add(2 * time.Hour)
	createUpload(t, base)
	_, kept := f.Upload(u.ID)
	assert.False(t, kept)
}

func TestMediaExpireHook(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	u := createUpload(t, base)
	require.True(t, f.ExpireUpload(u.ID))
	assert.False(t, f.ExpireUpload("up-nope"))
	resp := do(t, "PATCH", base+"/media/uploads/"+u.ID, "ab",
		map[string]string{"Upload-Offset": "0", "Content-Type": "application/octet-stream"}, nil)
	assert.Equal(t, http.StatusGone, resp.StatusCode)
	data, _ := f.UploadData(u.ID)
	assert.Empty(t, data)
}

func TestMediaFaults(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	u := createUpload(t, base)
	require.Equal(t, http.StatusNoContent, do(t, "PUT", base+"/__faults/media", `{"status":503}`, nil, nil).StatusCode)
	resp := do(t, "PATCH", base+"/media/uploads/"+u.ID, "ab",
		map[string]string{"Upload-Offset": "0", "Content-Type": "application/octet-stream"}, nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	got, _ := f.Upload(u.ID)
	assert.Zero(t, got.Offset, "a failed request writes nothing")
	assert.Equal(t, 1+1, f.Requests(domain.ServiceMedia))
}

// TestMediaCutOffBody: a PATCH whose body ends before its Content-Length
// writes nothing.
func TestMediaCutOffBody(t *testing.T) {
	t.Parallel()
	f, err := fakes.New(fakes.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	u := createUpload(t, srv.URL)
	conn := dialRaw(t, srv.Listener.Addr().String())
	_, err = conn.Write([]byte("PATCH /media/uploads/" + u.ID + " HTTP/1.1\r\nHost: x\r\nUpload-Offset: 0\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\nab"))
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	// The server sees the cut when the connection closes; ask until it has
	// answered the request (or given up on it).
	require.Eventually(t, func() bool { return f.Requests(domain.ServiceMedia) == 2 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, http.StatusOK, do(t, "GET", srv.URL+"/media/uploads/"+u.ID, "", nil, nil).StatusCode)
	got, _ := f.Upload(u.ID)
	assert.Zero(t, got.Offset)
}

// TestMediaDataOverHTTP reads an upload's bytes back from the admin
// endpoint, as tests of a running fakes binary do.
func TestMediaDataOverHTTP(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	u := createUpload(t, base)
	for i, chunk := range []string{"ab", "cd"} {
		resp := do(t, "PATCH", base+"/media/uploads/"+u.ID, chunk,
			map[string]string{"Upload-Offset": strconv.Itoa(2 * i), "Content-Type": "application/octet-stream"}, nil)
		require.Less(t, resp.StatusCode, 300)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/__uploads/"+u.ID+"/data", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "abcd", string(body))

	assert.Equal(t, http.StatusNotFound, do(t, "GET", base+"/__uploads/up-nope/data", "", nil, nil).StatusCode)
}
