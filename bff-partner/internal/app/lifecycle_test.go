package app_test

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/app"
	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/apikey"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// catalogKeys is a partner keys file with one partner whose keys are the
// given plaintexts, each allowed to read the catalog.
func catalogKeys(plaintexts ...string) string {
	var b strings.Builder
	b.WriteString("partners:\n  - id: acme\n    name: Acme Retail\n    plan: {per_minute: 100, burst: 20}\n    keys:\n")
	for i, p := range plaintexts {
		fmt.Fprintf(&b, "      - id: acme-%d\n        sha256: %s\n        scopes: [catalog:read]\n", i, sha(p))
	}
	return b.String()
}

// productWithKey is the status of GET /v2/products/p-0001 with key.
func productWithKey(t *testing.T, addr, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/products/p-0001", nil)
	require.NoError(t, err)
	req.Header.Set(apikey.HeaderAPIKey, key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	return res.StatusCode
}

// TestReloadReadsTheKeysFile: the reload hook (what SIGHUP runs, through
// gateway.Main) reads the keys file again; a key added to it works at once.
func TestReloadReadsTheKeysFile(t *testing.T) {
	t.Parallel()
	path := edgetest.TempFile(t, "keys.yaml", catalogKeys("sf_test_old_key"))
	a := boot(t, map[string]string{config.VarKeysFile: path})
	require.Equal(t, http.StatusOK, productWithKey(t, a.Addr(), "sf_test_old_key"))
	require.Equal(t, http.StatusUnauthorized, productWithKey(t, a.Addr(), "sf_test_new_key"))

	require.NoError(t, os.WriteFile(path, []byte(catalogKeys("sf_test_old_key", "sf_test_new_key")), 0o600))
	require.NoError(t, a.Reload(t.Context()))

	assert.Equal(t, http.StatusOK, productWithKey(t, a.Addr(), "sf_test_new_key"))
}

// TestFailedWiringClosesTheAuditLog makes wiring fail after the audit log
// was opened: New returns the error, and the audit writer's background
// flush no longer runs. Not parallel: every other test's gateway runs one.
func TestFailedWiringClosesTheAuditLog(t *testing.T) { //nolint:paralleltest // counts the process's goroutines.
	_, base := fakestest.Start(t)
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, map[string]string{"BFF_AUDIT_DIR": t.TempDir()})))
	require.NoError(t, err)
	// A setting Load would have refused: idempotency is built after the
	// audit log.
	cfg.Partner.IdempotencyTTL = -time.Second
	require.Zero(t, auditWriters(), "no audit writer runs before")

	_, err = app.New(t.Context(), cfg, zap.NewNop())
	require.ErrorContains(t, err, "building idempotency")

	assert.Zero(t, auditWriters(), "the audit writer was closed")
}

// auditWriters counts the goroutines running an audit writer's background
// flush.
func auditWriters() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "audit.(*Writer).loop")
		}
		buf = make([]byte, 2*len(buf))
	}
}
