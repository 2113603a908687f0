//go:build cluster

package cluster_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/deploy/internal/binaries"
	"github.com/shopfront/shared/edge/edgetest"
)

// TestRunClusterScript runs make run-cluster's script as a newcomer would,
// every port moved to a free one: it gets ready, passes every check of
// make cluster-check, and Ctrl-C (SIGINT to its process group) stops all
// nine processes with status 0 and leaves no port listening.
func TestRunClusterScript(t *testing.T) {
	bins := binaries.Build(t, filepath.Join("..", ".."))
	// run.sh takes the four binaries from one directory, as make build
	// leaves them.
	binDir := t.TempDir()
	for name, path := range map[string]string{"fakes": bins.Fakes, "bff-mobile": bins.Mobile, "bff-web": bins.Web, "bff-partner": bins.Partner} {
		require.NoError(t, os.Symlink(path, filepath.Join(binDir, name)))
	}
	work := t.TempDir()
	state := filepath.Join(work, "cluster.env")
	env := append(cleanEnv(), "BIN="+binDir, "CLUSTER_STATE="+state, "CLUSTER_AUDIT_DIR="+filepath.Join(work, "audit"))
	var ports []int
	for _, v := range []string{"REDIS_PORT", "FAKES_PORT", "MOBILE_PORT", "WEB_PORT", "PARTNER_PORT",
		"MOBILE_1_PORT", "MOBILE_2_PORT", "WEB_1_PORT", "WEB_2_PORT", "PARTNER_1_PORT", "PARTNER_2_PORT",
		"MOBILE_1_ADMIN", "MOBILE_2_ADMIN", "WEB_1_ADMIN", "WEB_2_ADMIN", "PARTNER_1_ADMIN", "PARTNER_2_ADMIN"} {
		p := edgetest.FreePort(t)
		ports = append(ports, p)
		env = append(env, "CLUSTER_"+v+"="+strconv.Itoa(p))
	}

	log := filepath.Join(work, "run.log")
	out, err := os.Create(log)
	require.NoError(t, err)
	defer out.Close()
	cmd := exec.Command("bash", "run.sh")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, as a terminal gives it: Ctrl-C reaches the
	// script and every process it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(state); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run.sh exited before the cluster was ready (%v):\n%s", err, readFile(log))
		case <-time.After(100 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "not ready within 60 s:\n%s", readFile(log))
	}

	checkAll(t, readCluster(t, state))

	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	select {
	case err := <-done:
		require.NoError(t, err, "run.sh exit status after Ctrl-C:\n%s", readFile(log))
	case <-time.After(40 * time.Second):
		t.Fatalf("run.sh still running 40 s after Ctrl-C:\n%s", readFile(log))
	}
	output := readFile(log)
	for _, name := range []string{"redis", "fakes", "mobile-1", "mobile-2", "web-1", "web-2", "partner-1", "partner-2", "nginx"} {
		assert.Contains(t, output, "[cluster] "+name+" exited with status 0\n")
	}
	for _, p := range ports {
		assert.False(t, listening(p), "port %d still accepts connections after Ctrl-C", p)
	}
	_, err = os.Stat(state)
	assert.True(t, os.IsNotExist(err), "the state file is removed")
	if t.Failed() {
		t.Logf("run.sh output:\n%s", tail(output, 60))
	}
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err == nil {
		_ = c.Close()
	}
	return err == nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
