package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/apikey"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// keysWith is a keys file with one partner whose keys are plaintexts, each
// allowed to read the catalog.
func keysWith(plaintexts ...string) string {
	var b strings.Builder
	b.WriteString("partners:\n  - id: acme\n    name: Acme Retail\n    plan: {per_minute: 100, burst: 20}\n    keys:\n")
	for i, p := range plaintexts {
		sum := sha256.Sum256([]byte(p))
		fmt.Fprintf(&b, "      - id: acme-%d\n        sha256: %s\n        scopes: [catalog:read]\n", i, hex.EncodeToString(sum[:]))
	}
	return b.String()
}

// TestSIGHUPReloadsTheKeysFile runs the binary, adds a key to its keys
// file and sends SIGHUP: the new key works, and the process says the
// reload came from the signal (the file is also polled, more slowly).
func TestSIGHUPReloadsTheKeysFile(t *testing.T) {
	t.Parallel()
	bin := gatewaytest.Build(t, "bff-partner", ".")
	_, base := fakestest.Start(t)
	path := edgetest.TempFile(t, "keys.yaml", keysWith("sf_test_old_key"))
	p := gatewaytest.Start(t, bin, base, "BFF_PARTNER_KEYS_FILE="+path)
	status := func(key string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+p.Addr+"/v2/products/p-0001", nil)
		require.NoError(t, err)
		req.Header.Set(apikey.HeaderAPIKey, key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		return res.StatusCode
	}
	require.Equal(t, http.StatusOK, status("sf_test_old_key"))
	require.Equal(t, http.StatusUnauthorized, status("sf_test_new_key"))

	require.NoError(t, os.WriteFile(path, []byte(keysWith("sf_test_old_key", "sf_test_new_key")), 0o600))
	p.Signal(t, syscall.SIGHUP)

	assert.Eventually(t, func() bool { return status("sf_test_new_key") == http.StatusOK },
		gatewaytest.ReadyTimeout, 20*time.Millisecond, "output:\n%s", p.Output())
	assert.Eventually(t, func() bool { return strings.Contains(p.Output(), `"msg":"reloaded"`) },
		gatewaytest.ReadyTimeout, 20*time.Millisecond, "SIGHUP reached the reload hook; output:\n%s", p.Output())
	p.Signal(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.Wait(t))
}
