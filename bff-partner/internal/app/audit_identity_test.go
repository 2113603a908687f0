package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// auditLine is one line of the audit log, as an auditor's tool reads it.
type auditLine struct {
	RequestID   string `json:"requestId"`
	PartnerID   string `json:"partnerId"`
	KeyID       string `json:"keyId"`
	ClientIP    string `json:"clientIp"`
	Query       string `json:"query"`
	Status      int    `json:"status"`
	RequestBody struct {
		Currency   string `json:"currency"`
		CardNumber string `json:"cardNumber"`
	} `json:"requestBody"`
}

// auditLines stops g and returns its audit lines by request id.
func auditLines(t *testing.T, g *gw) (map[string]*auditLine, string) {
	t.Helper()
	g.stop()
	files, err := filepath.Glob(filepath.Join(g.audit, "audit-*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	out := map[string]*auditLine{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var l auditLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		out[l.RequestID] = &l
	}
	require.NoError(t, sc.Err())
	return out, string(raw)
}

// TestPartnerAuditNamesKnownKeys checks that the audit names the partner
// and key of every request carrying a key the gateway knows, also when the
// request is refused by authentication (revoked key, allow-list) or before
// it runs (413 by Content-Length, 405), and never records the key itself.
func TestPartnerAuditNamesKnownKeys(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	huge := `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD","pad":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name          string
		given         call
		expectStatus  int
		expectPartner string
		expectKey     string
	}{
		{name: "ok, accepted request", given: call{method: "GET", path: "/v2/products/p-0001", header: key(keyFull)},
			expectStatus: 200, expectPartner: "acme", expectKey: "acme-full"},
		{name: "nok, revoked key", given: call{method: "GET", path: "/v2/products", header: key(keyRevoked)},
			expectStatus: 401, expectPartner: "acme", expectKey: "acme-revoked"},
		{name: "nok, address outside the partner's allow-list", given: call{method: "GET", path: "/v2/products", header: key(keyGlobex)},
			expectStatus: 403, expectPartner: "globex", expectKey: "globex-1"},
		{name: "nok, body over 1 MiB refused before authentication", given: call{method: "POST", path: "/v2/orders", body: huge,
			header: with(key(keyFull), "Idempotency-Key", "big")}, expectStatus: 413, expectPartner: "acme", expectKey: "acme-full"},
		{name: "nok, wrong method", given: call{method: "DELETE", path: "/v2/products", header: key(keyReadOnly)},
			expectStatus: 405, expectPartner: "acme", expectKey: "acme-readonly"},
		{name: "nok, unknown key stays unnamed", given: call{method: "GET", path: "/v2/products", header: key("sf_nope")},
			expectStatus: 401},
		{name: "nok, no credential", given: call{method: "GET", path: "/v2/products"}, expectStatus: 401},
	}
	ids := make([]string, len(tests))
	for i, tt := range tests {
		ids[i] = "audit-identity-" + string(rune('a'+i))
		r := g.do(call{method: tt.given.method, path: tt.given.path, body: tt.given.body,
			header: with(tt.given.header, "X-Request-Id", ids[i])})
		require.Equal(t, tt.expectStatus, r.status, "%s: %s", tt.name, r.body)
	}
	lines, raw := auditLines(t, g)
	for _, secret := range []string{keyFull, keyRevoked, keyGlobex, keyReadOnly, "sf_nope"} {
		assert.NotContains(t, raw, secret, "no key in the audit log")
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lines[ids[i]]
			require.NotNil(t, l, "one line for the request")
			assert.Equal(t, tt.expectStatus, l.Status)
			assert.Equal(t, tt.expectPartner, l.PartnerID)
			assert.Equal(t, tt.expectKey, l.KeyID)
		})
	}
}
