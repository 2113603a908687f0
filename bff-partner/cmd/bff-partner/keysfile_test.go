package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestMissingKeysFileSaysWhatToSet runs the binary outside the repository
// without BFF_PARTNER_KEYS_FILE: it must refuse to start with exit 2 and
// one line that names the variable to set and where it looked.
func TestMissingKeysFileSaysWhatToSet(t *testing.T) {
	t.Parallel()
	bin := gatewaytest.Build(t, "bff-partner", ".")
	dir := t.TempDir()
	dir, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	tests := []struct {
		name        string
		env         []string
		expectExit  int
		expectLines []string
	}{
		{name: "nok, no keys file outside the repository", expectExit: gateway.ExitUsage, expectLines: []string{
			"bff-partner: BFF_PARTNER_KEYS_FILE: not set, and no deploy/dev/partner-keys.yaml in " + dir + " or its parents; " +
				"set BFF_PARTNER_KEYS_FILE=/path/to/partner-keys.yaml (the partners and hashed keys; for local use the " +
				"repository's deploy/dev/partner-keys.yaml) or start bff-partner inside the repository",
		}},
		{name: "nok, keys file that does not exist", env: []string{"BFF_PARTNER_KEYS_FILE=" + filepath.Join(dir, "nope.yaml")},
			expectExit: gateway.ExitUsage, expectLines: []string{
				"bff-partner: BFF_PARTNER_KEYS_FILE: reading " + filepath.Join(dir, "nope.yaml") + ": no such file or directory",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin)
			cmd.Dir = dir
			cmd.Env = append(withoutBFF(os.Environ()), "BFF_AUDIT_DIR="+filepath.Join(t.TempDir(), "audit"))
			cmd.Env = append(cmd.Env, tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "output: %s", stdout.String())
			assert.Equal(t, tt.expectExit, exit.ExitCode())
			assert.Equal(t, tt.expectLines, strings.Split(strings.TrimSpace(stderr.String()), "\n"))
			assert.Empty(t, stdout.String(), "nothing starts")
		})
	}
}

// withoutBFF drops the gateway's variables a developer may have exported.
func withoutBFF(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "BFF_") {
			out = append(out, kv)
		}
	}
	return out
}
