package upload_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/app"
	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// tusJSDir is the Node project whose package-lock.json pins tus-js-client.
const tusJSDir = "testdata/tus-js"

// TestTusJSClientUploads drives tus-js-client, the client of the web and
// React Native apps, under Node through bff-mobile against the fakes: a
// file of 2.5 MiB and a bit, in 1 MiB chunks, with the user's bearer token
// and the filename and contentType metadata. The client must report
// success after three chunks and the media service must hold the file byte
// for byte, as the user's.
//
// It needs node and npm (and the npm registry, for npm ci): without them
// it is skipped locally and fails under CI (CI=true), whose machine must
// have them.
func TestTusJSClientUploads(t *testing.T) {
	t.Parallel()
	node, npm := nodeTools(t)
	dir := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json", "upload.mjs"} {
		b, err := os.ReadFile(filepath.Join(tusJSDir, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	run(t, 5*time.Minute, dir, nil, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")

	f, base := fakestest.Start(t)
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, nil)))
	require.NoError(t, err)
	a, _ := gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.NewNop()) })
	gatewaytest.WaitReady(t, a.AdminAddr())
	gw := "http://" + a.Addr()

	file := make([]byte, 5<<19+123) // three chunks, the last a part
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range file {
		file[i] = byte(rng.Uint32())
	}
	path := filepath.Join(dir, "photo.jpg")
	require.NoError(t, os.WriteFile(path, file, 0o600))

	out := run(t, 2*time.Minute, dir, []string{"TUS_TOKEN=" + fakestest.UserToken(t, f, "u-001", "mobile")},
		node, "upload.mjs", gw+"/v1/uploads", path, "Strand im Mai.jpg", "image/jpeg")
	var done struct {
		URL    string `json:"url"`
		Chunks int    `json:"chunks"`
	}
	require.NoError(t, json.Unmarshal(out, &done), "upload.mjs printed %q", out)
	require.True(t, strings.HasPrefix(done.URL, gw+"/v1/uploads/"), "the upload's URL under the gateway: %s", done.URL)
	assert.Equal(t, 3, done.Chunks, "1 MiB chunks")

	id := strings.TrimPrefix(done.URL, gw+"/v1/uploads/")
	u, ok := f.Upload(id)
	require.True(t, ok, "the media service knows upload %s", id)
	assert.Equal(t, "u-001", u.UserID, "the token's user owns it")
	assert.Equal(t, "Strand im Mai.jpg", u.Filename)
	assert.Equal(t, "image/jpeg", u.ContentType)
	assert.Equal(t, int64(len(file)), u.Length)
	assert.Equal(t, int64(len(file)), u.Offset)
	held, ok := f.UploadData(id)
	require.True(t, ok)
	assert.Equal(t, sha256.Sum256(file), sha256.Sum256(held), "the media service holds the file byte for byte")
}

// nodeTools returns the paths of node and npm: without them the test is
// skipped locally and fails under CI, as edgetest does for Chromium.
func nodeTools(t *testing.T) (node, npm string) {
	t.Helper()
	node, nerr := exec.LookPath("node")
	npm, perr := exec.LookPath("npm")
	if nerr == nil && perr == nil {
		return node, npm
	}
	const what = "node and npm are needed on PATH (apt-get install -y nodejs npm)"
	if os.Getenv("CI") != "" {
		t.Fatal(what)
	}
	t.Skip(what)
	return "", ""
}

// run runs name with args in dir with env added to the test's own and
// returns its stdout, failing the test with stderr when it fails or
// outlives within.
func run(t *testing.T, within time.Duration, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s %s: %s", filepath.Base(name), strings.Join(args, " "), stderr.String())
	return stdout.Bytes()
}
