package cluster_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/deploy/cluster"
)

// TestRunScriptFillsEveryToken keeps run.sh, which fills the template with
// sed, in step with the template.
func TestRunScriptFillsEveryToken(t *testing.T) {
	t.Parallel()
	script, err := os.ReadFile("run.sh")
	require.NoError(t, err)
	tokens := cluster.Tokens()
	require.NotEmpty(t, tokens)
	for _, tok := range tokens {
		assert.True(t, strings.Contains(string(script), "s|"+tok+"|"), "run.sh does not fill %s", tok)
	}
}

// TestNginxAcceptsTheConfiguration renders the template and has the real
// nginx check it (nginx -t), as the current user under its own prefix.
func TestNginxAcceptsTheConfiguration(t *testing.T) {
	t.Parallel()
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		nginx, err = exec.LookPath("/usr/sbin/nginx")
	}
	require.NoError(t, err, "nginx is needed (apt-get install -y nginx)")
	dir := t.TempDir()
	conf, err := cluster.Nginx{
		Dir:              dir,
		Listen:           map[string]int{"mobile": 1, "web": 2, "partner": 3},
		Upstreams:        map[string][2]int{"mobile": {4, 5}, "web": {6, 7}, "partner": {8, 9}},
		KeepaliveTimeout: time.Second,
	}.Render()
	require.NoError(t, err)
	for _, want := range []string{"server 127.0.0.1:4 max_fails=1", "listen 127.0.0.1:3;", "keepalive_timeout 1000ms;"} {
		assert.Contains(t, conf, want)
	}
	for _, line := range strings.Split(conf, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "proxy_next_upstream ") {
			assert.NotContains(t, line, "non_idempotent", "a POST must never be sent twice")
		}
	}
	path := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	out, err := exec.Command(nginx, "-t", "-p", dir, "-e", "stderr", "-c", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.True(t, strings.Contains(string(out), "test is successful"), "%s", out)
}

func TestRenderRefusesMissingPorts(t *testing.T) {
	t.Parallel()
	_, err := cluster.Nginx{Dir: "/x", KeepaliveTimeout: time.Second,
		Listen: map[string]int{"mobile": 1, "web": 2}, Upstreams: map[string][2]int{"mobile": {4, 5}, "web": {6, 7}}}.Render()
	assert.ErrorContains(t, err, "partner")
}
