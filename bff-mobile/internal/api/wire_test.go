package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/shared/edge/services"
)

// countingWriter counts the body bytes a fake service writes.
type countingWriter struct {
	http.ResponseWriter
	n *int
}

func (w countingWriter) Write(b []byte) (int, error) {
	*w.n += len(b)
	return w.ResponseWriter.Write(b)
}

// TestWireBytes measures what one GET /v1/home saves the app: the bytes of
// the screen compressed and not, against the raw payloads of the upstream
// calls it replaces, and the number of requests. docs/bff-mobile.md quotes its log:
//
//	go test -run TestWireBytes -v ./internal/api/
func TestWireBytes(t *testing.T) {
	t.Parallel()
	f, err := fakes.New(fakes.Options{})
	require.NoError(t, err)
	var (
		mu       sync.Mutex
		counting bool
		calls    []string
		bytes    int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		on := counting && !strings.HasPrefix(r.URL.Path, "/identity/")
		mu.Unlock()
		if !on {
			f.Handler().ServeHTTP(w, r)
			return
		}
		n := 0
		f.Handler().ServeHTTP(countingWriter{ResponseWriter: w, n: &n}, r)
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.String())
		bytes += n
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	g := startWith(t, f, srv.URL, services.DefaultConfig(srv.URL))
	tok := g.token(t, "u-001")

	mu.Lock()
	counting = true
	mu.Unlock()
	plain := g.do(t, http.MethodGet, "/v1/home", tok, "", nil)
	mu.Lock()
	counting = false
	upstreamCalls, upstreamBytes := len(calls), bytes
	mu.Unlock()
	gz := g.do(t, http.MethodGet, "/v1/home", tok, "", map[string]string{"Accept-Encoding": "gzip"})

	require.Equal(t, http.StatusOK, plain.StatusCode)
	require.Equal(t, "gzip", gz.Header.Get("Content-Encoding"))
	assert.Equal(t, plain.body, gz.body)
	assert.Less(t, gz.wire, plain.wire)
	assert.Less(t, plain.wire, upstreamBytes, "the compact screen is smaller than what it replaces")
	assert.Equal(t, 7, upstreamCalls, "five first-stage calls and two batch calls")
	for _, c := range calls {
		t.Logf("upstream call: %s", c)
	}
	t.Logf("GET /v1/home: %d B gzipped, %d B uncompressed; replaces %d upstream requests carrying %d B of raw JSON (1 request instead of %d, %d saved)",
		gz.wire, plain.wire, upstreamCalls, upstreamBytes, upstreamCalls, upstreamCalls-1)
}
