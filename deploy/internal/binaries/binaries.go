// Package binaries builds and starts the real Shopfront binaries for the
// deploy module's long-running tests (make soak, make rolling-restart):
// the fakes and the three gateways, built side by side as make build does,
// and the fakes started on a free port.
package binaries

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
)

// Set is the path of each binary.
type Set struct{ Fakes, Mobile, Web, Partner string }

// Build compiles the four binaries in parallel into temporary directories.
// root is the repository root relative to the test's directory.
func Build(t testing.TB, root string) Set {
	t.Helper()
	dirs := map[string]string{
		"fakes":       filepath.Join(root, "contracts", "cmd", "fakes"),
		"bff-mobile":  filepath.Join(root, "bff-mobile", "cmd", "bff-mobile"),
		"bff-web":     filepath.Join(root, "bff-web", "cmd", "bff-web"),
		"bff-partner": filepath.Join(root, "bff-partner", "cmd", "bff-partner"),
	}
	var mu sync.Mutex
	bins := map[string]string{}
	var wg sync.WaitGroup
	for name, dir := range dirs {
		wg.Go(func() {
			bin := filepath.Join(t.TempDir(), name)
			out, err := exec.Command(goBin(), "build", "-o", bin, dir).CombinedOutput()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("go build %s: %v: %s", dir, err, out)
			}
			bins[name] = bin
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return Set{Fakes: bins["fakes"], Mobile: bins["bff-mobile"], Web: bins["bff-web"], Partner: bins["bff-partner"]}
}

// goBin is the go command of the toolchain running the test.
func goBin() string { return filepath.Join(runtime.GOROOT(), "bin", "go") }

// StartFakes runs the fakes binary on a free port until the test ends and
// returns its base URL.
func StartFakes(t testing.TB, bin string) string {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(edgetest.FreePort(t))
	cmd := exec.Command(bin, "-addr", addr)
	cmd.Dir = t.TempDir()
	log, err := os.Create(filepath.Join(cmd.Dir, "output"))
	require.NoError(t, err)
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the fakes never listened on %s", addr)
	return "http://" + addr
}

// PasswordToken asks the fakes' identity service at base for a user's
// token, as a mobile or web client does.
func PasswordToken(t testing.TB, base, user, client string) string {
	t.Helper()
	res, err := http.PostForm(base+"/identity/oauth/token", url.Values{
		"grant_type": {"password"}, "username": {user}, "password": {"shopfront"}, "client_id": {client},
	})
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "token for %s", user)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.NotEmpty(t, body.AccessToken)
	return body.AccessToken
}
