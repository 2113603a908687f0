package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-partner/internal/config"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	keys := edgetest.TempFile(t, "keys.yaml", "partners: []\n")
	auditFile := edgetest.TempFile(t, "not-a-dir", "x")
	auditDir := t.TempDir()
	yaml := edgetest.TempFile(t, "partner.yaml", `
partner:
  currency: EUR
  idempotency_wait: 3s
  v1:
    deprecated: 2026-01-01T00:00:00Z
    sunset: 2026-12-31T00:00:00Z
    link: https://docs.shopfront.dev/partners/v1
`)
	tokenYAML := edgetest.TempFile(t, "token.yaml", "partner:\n  token_url: https://auth.shopfront.example/oauth/token\n")
	badTokenYAML := edgetest.TempFile(t, "bad-token.yaml", "partner:\n  token_url: /oauth/token\n")
	badYAML := edgetest.TempFile(t, "bad.yaml", `
partner:
  currency: EURO
  v1:
    deprecated: 2026-06-01T00:00:00Z
    sunset: 2026-01-01T00:00:00Z
`)
	tests := []struct {
		name      string
		env       map[string]string
		check     func(t *testing.T, c config.Config)
		expectErr []string
	}{
		{name: "ok, defaults", env: map[string]string{config.VarKeysFile: keys}, check: func(t *testing.T, c config.Config) {
			assert.Equal(t, ":8083", c.Server.Addr)
			assert.Equal(t, "shopfront-partner", c.JWT.Audience)
			assert.EqualValues(t, 1<<20, c.Server.BodyLimit)
			assert.Equal(t, "USD", c.Partner.Currency)
			assert.Equal(t, 24*time.Hour, c.Partner.IdempotencyTTL)
			assert.Equal(t, 90*24*time.Hour, c.Partner.AuditRetention)
			assert.Equal(t, config.DefaultV1Sunset(), c.Partner.V1.Sunset)
			assert.Equal(t, "http://127.0.0.1:9000/identity/oauth/token", c.Partner.TokenURL, "the identity upstream's")
		}},
		{name: "ok, token URL follows the identity upstream", env: map[string]string{config.VarKeysFile: keys,
			"BFF_UPSTREAM_IDENTITY_URL": "https://identity.internal:8443/"}, check: func(t *testing.T, c config.Config) {
			assert.Equal(t, "https://identity.internal:8443/oauth/token", c.Partner.TokenURL)
		}},
		{name: "ok, token URL from the environment", env: map[string]string{config.VarKeysFile: keys,
			config.VarTokenURL: "https://auth.shopfront.example/oauth/token", "BFF_CONFIG": tokenYAML,
			"BFF_UPSTREAM_IDENTITY_URL": "https://identity.internal:8443"}, check: func(t *testing.T, c config.Config) {
			assert.Equal(t, "https://auth.shopfront.example/oauth/token", c.Partner.TokenURL)
		}},
		{name: "ok, token URL from BFF_CONFIG", env: map[string]string{config.VarKeysFile: keys, "BFF_CONFIG": tokenYAML},
			check: func(t *testing.T, c config.Config) {
				assert.Equal(t, "https://auth.shopfront.example/oauth/token", c.Partner.TokenURL)
			}},
		{name: "nok, token URL not absolute", env: map[string]string{config.VarKeysFile: keys, config.VarTokenURL: "/oauth/token"},
			expectErr: []string{`BFF_PARTNER_TOKEN_URL: "/oauth/token" is not an absolute http(s) URL`}},
		{name: "nok, token URL in BFF_CONFIG not absolute", env: map[string]string{config.VarKeysFile: keys, "BFF_CONFIG": badTokenYAML},
			expectErr: []string{`BFF_PARTNER_TOKEN_URL: "/oauth/token" is not an absolute http(s) URL`}},
		{name: "ok, environment", env: map[string]string{config.VarKeysFile: keys, config.VarAuditDir: auditDir},
			check: func(t *testing.T, c config.Config) {
				assert.Equal(t, keys, c.Partner.KeysFile)
				assert.Equal(t, auditDir, c.Partner.AuditDir)
			}},
		{name: "nok, client CA without TLS", env: map[string]string{config.VarKeysFile: keys, "BFF_TLS_CLIENT_CA_FILE": keys},
			expectErr: []string{"BFF_TLS_CLIENT_CA_FILE"}},
		{name: "ok, partner section from BFF_CONFIG", env: map[string]string{config.VarKeysFile: keys, "BFF_CONFIG": yaml},
			check: func(t *testing.T, c config.Config) {
				assert.Equal(t, "EUR", c.Partner.Currency)
				assert.Equal(t, 3*time.Second, c.Partner.IdempotencyWait)
				assert.Equal(t, "https://docs.shopfront.dev/partners/v1", c.Partner.V1.Link)
				assert.Equal(t, time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), c.Partner.V1.Sunset)
			}},
		{name: "nok, keys file missing", env: map[string]string{config.VarKeysFile: "/nonexistent/keys.yaml"},
			expectErr: []string{"BFF_PARTNER_KEYS_FILE"}},
		{name: "nok, audit dir is a file", env: map[string]string{config.VarKeysFile: keys, config.VarAuditDir: auditFile},
			expectErr: []string{"BFF_AUDIT_DIR"}},
		{name: "nok, bad partner section", env: map[string]string{config.VarKeysFile: keys, "BFF_CONFIG": badYAML},
			expectErr: []string{"partner.currency", "partner.v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(edgeconfig.MapLookup(tt.env))
			if tt.expectErr != nil {
				require.Error(t, err)
				for _, w := range tt.expectErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestFindDevKeysFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	nested := filepath.Join(root, "bff-partner", "internal", "app")
	require.NoError(t, os.MkdirAll(nested, 0o755))
	assert.Empty(t, config.FindDevKeysFile(nested), "none yet")
	want := filepath.Join(root, config.DevKeysFile)
	require.NoError(t, os.MkdirAll(filepath.Dir(want), 0o755))
	require.NoError(t, os.WriteFile(want, []byte("partners: []\n"), 0o600))
	assert.Equal(t, want, config.FindDevKeysFile(nested), "found from a subdirectory")
	assert.Equal(t, want, config.FindDevKeysFile(root))
}

// TestRepositoryDevKeysFile checks the committed development keys file is
// found from this package and loads.
func TestRepositoryDevKeysFile(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	require.NoError(t, err)
	p := config.FindDevKeysFile(wd)
	require.NotEmpty(t, p)
	c, err := config.Load(edgeconfig.MapLookup(nil))
	require.NoError(t, err)
	assert.Equal(t, p, c.Partner.KeysFile)
	assert.True(t, c.DevKeys(), "picked up by searching: the gateway warns")

	named, err := config.Load(edgeconfig.MapLookup(map[string]string{config.VarKeysFile: p}))
	require.NoError(t, err)
	assert.False(t, named.DevKeys(), "named explicitly: no warning")
}
