package edgetest

import (
	"os"
	"os/exec"
	"testing"
)

// chromiumNames are the executables a headless-capable Chromium goes by:
// Debian's package, Ubuntu's, Google's build and chromedp's headless-shell.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"}

// Chromium returns the path of a Chromium on PATH for browser tests. Like
// StartRedis, without one the test is skipped locally and fails under CI
// (CI=true), where .ci/run installs it.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "no Chromium on PATH (apt-get install -y chromium)")
	return ""
}

// missing ends a test that needs a program that is not installed: a failure
// under CI, whose machine must have it, a skip elsewhere.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(what)
		return
	}
	t.Skip(what)
}
