package app_test

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestAuditSurvivesSIGTERM builds the real binary, sends it requests (some
// still in flight, slowed by the fakes, when SIGTERM arrives), and checks
// that it exits 0 with exactly one audit line per answered request.
func TestAuditSurvivesSIGTERM(t *testing.T) {
	t.Parallel()
	bin := gatewaytest.Build(t, "bff-partner", "../../cmd/bff-partner")
	f, base := fakestest.Start(t)
	auditDir := t.TempDir()
	// The key "sf_test_key" with every scope.
	keys := edgetest.TempFile(t, "keys.yaml", `
partners:
  - id: acme
    name: Acme
    plan: {per_minute: 100000, burst: 10000}
    keys:
      - {id: acme-1, sha256: be7e5be466ed673ef610cc77290e28d049a43dc2ad5ad47a60c83fecb5eca17c, scopes: [catalog:read, inventory:read, orders:read, orders:write]}
`)
	p := gatewaytest.Start(t, bin, base, "BFF_AUDIT_DIR="+auditDir, "BFF_PARTNER_KEYS_FILE="+keys, "BFF_LOG_LEVEL=error")
	addr := p.Addr

	var answered, ok atomic.Int64
	send := func(path, key string) {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return
		}
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return // refused after the listener closed: not answered, not audited
		}
		res.Body.Close()
		answered.Add(1)
		if res.StatusCode == http.StatusOK {
			ok.Add(1)
		}
	}
	for i := range 40 {
		switch i % 4 {
		case 0:
			send("/v2/products/p-0001", "sf_test_key")
		case 1:
			send("/v2/products", "") // 401
		case 2:
			send("/v2/inventory/p-0002", "wrong") // 401 invalid_api_key
		default:
			send("/openapi.json", "")
		}
	}
	require.EqualValues(t, 40, answered.Load())
	require.EqualValues(t, 20, ok.Load(), "the key's and the document's requests succeed")

	// Slow requests in flight while SIGTERM arrives: they finish and count.
	require.NoError(t, f.SetFault(domain.ServiceCatalog, domain.Fault{LatencyMs: 700}))
	f.ResetStats()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { send("/v2/products/p-0003", "sf_test_key") })
	}
	// All ten are inside the gateway, waiting on the slowed catalog.
	require.Eventually(t, func() bool { return f.Requests(domain.ServiceCatalog) == 10 }, 10*time.Second, 5*time.Millisecond)
	p.Signal(t, syscall.SIGTERM)
	wg.Wait()
	require.Equal(t, 0, p.Wait(t), "exit status 0 after draining; output:\n%s", p.Output())

	files, err := filepath.Glob(filepath.Join(auditDir, "audit-*.jsonl"))
	require.NoError(t, err)
	lines := 0
	for _, name := range files {
		fh, err := os.Open(name)
		require.NoError(t, err)
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			assert.True(t, strings.HasPrefix(sc.Text(), `{"time":"`), sc.Text())
			assert.NotContains(t, sc.Text(), "sf_test_key")
			lines++
		}
		require.NoError(t, fh.Close())
	}
	assert.EqualValues(t, answered.Load(), lines, "one audit line per answered request, none lost on SIGTERM")
	assert.EqualValues(t, 50, answered.Load(), "the in-flight requests were answered while draining")
	assert.EqualValues(t, 30, ok.Load(), "and they succeeded")
}
