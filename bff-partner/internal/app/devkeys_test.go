package app_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/bff-partner/internal/app"
	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestDevKeysWarnAtStartUp boots the gateway without BFF_PARTNER_KEYS_FILE
// inside the repository: it picks up the development keys file, whose
// plaintext keys docs/bff-partner.md publishes, and must say so at start-up, naming
// the file and no key. Naming the file explicitly (as make run does) is a
// choice, not an accident, and stays quiet.
func TestDevKeysWarnAtStartUp(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	require.NoError(t, err)
	devFile := config.FindDevKeysFile(wd)
	require.NotEmpty(t, devFile, "the repository's development keys file")
	tests := []struct {
		name       string
		env        map[string]string
		expectWarn bool
	}{
		{name: "ok, development keys found by searching", expectWarn: true},
		{name: "ok, keys file named explicitly", env: map[string]string{config.VarKeysFile: devFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, base := fakestest.Start(t)
			vars := map[string]string{"BFF_AUDIT_DIR": t.TempDir()}
			for k, v := range tt.env {
				vars[k] = v
			}
			cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, vars)))
			require.NoError(t, err)
			core, logs := observer.New(zapcore.DebugLevel)
			gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.New(core)) })

			warnings := logs.FilterMessageSnippet("DEVELOPMENT partner keys").All()
			if !tt.expectWarn {
				assert.Empty(t, warnings)
				return
			}
			require.Len(t, warnings, 1)
			w := warnings[0]
			assert.Equal(t, zapcore.WarnLevel, w.Level)
			assert.Contains(t, w.Message, config.VarKeysFile, "says what to set")
			assert.Equal(t, devFile, w.ContextMap()["keysFile"])
			// The file's comments hold the plaintexts: no log may quote it.
			for _, e := range logs.All() {
				line := e.Message + fmt.Sprint(e.ContextMap())
				assert.NotContains(t, strings.ToLower(line), "sf_dev_", "no development key in the start-up logs")
			}
		})
	}
}
