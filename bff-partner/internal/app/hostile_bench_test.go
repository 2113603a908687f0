package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/app"
	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// BenchmarkHostileOrderRoute sends POST /v2/orders bodies of 1e999999
// quantities to a running bff-partner over a real socket, through the
// whole chain (API key, plan limit, scope, validation): 100 lines (4 KiB)
// and a body at the 1 MiB cap, each answered 400.
func BenchmarkHostileOrderRoute(b *testing.B) {
	_, base := fakestest.Start(b)
	keys := edgetest.TempFile(b, "partner-keys.yaml", fmt.Sprintf(`partners:
  - id: acme
    name: Acme Retail
    plan: {per_minute: 100000000, burst: 100000000}
    keys:
      - {id: acme-bench, sha256: %s, scopes: [orders:write]}
`, sha("bench-key")))
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, map[string]string{
		"BFF_PARTNER_KEYS_FILE": keys, "BFF_AUDIT_DIR": b.TempDir(),
	})))
	require.NoError(b, err)
	a, _ := gatewaytest.Serve(b, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.NewNop()) })
	gatewaytest.WaitReady(b, a.AdminAddr())
	url := "http://" + a.Addr() + "/v2/orders"

	order := func(size int) string {
		const line = `{"productId":"p-0001","quantity":1e999999}`
		var sb strings.Builder
		sb.WriteString(`{"currency":"USD","items":[`)
		for i := 0; sb.Len()+len(line)+3 < size; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(line)
		}
		sb.WriteString(`]}`)
		return sb.String()
	}
	for _, tc := range []struct {
		name string
		body string
	}{{"4KiB", order(4400)}, {"1MiB", order(1 << 20)}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(tc.body))
				require.NoError(b, err)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "bench-1")
				req.Header.Set("X-API-Key", "bench-key")
				resp, err := http.DefaultClient.Do(req)
				require.NoError(b, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
