package edgetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records how a helper ended the test instead
// of ending it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()        {}
func (r *recorder) Fatal(a ...any) { r.fatal = fmt.Sprint(a...) }
func (r *recorder) Skip(a ...any)  { r.skip = fmt.Sprint(a...) }
func (r *recorder) Fatalf(string, ...any) {
	panic("unexpected Fatalf")
}

// These tests change PATH and CI, so they cannot run in parallel.

func TestChromiumFound(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "chromium-browser")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	t.Setenv("PATH", dir)
	t.Setenv("CI", "true")
	rec := &recorder{TB: t}

	got := Chromium(rec)

	assert.Equal(t, bin, got)
	assert.Empty(t, rec.fatal)
	assert.Empty(t, rec.skip)
}

func TestChromiumMissing(t *testing.T) {
	tests := []struct {
		name string
		// given
		ci string
		// expect
		fatal, skip bool
	}{
		{name: "nok, fails under CI", ci: "true", fatal: true},
		{name: "ok, skips locally", ci: "", skip: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv("CI", tc.ci)
			rec := &recorder{TB: t}

			got := Chromium(rec)

			assert.Empty(t, got)
			assert.Equal(t, tc.fatal, rec.fatal != "", "fatal: %q", rec.fatal)
			assert.Equal(t, tc.skip, rec.skip != "", "skip: %q", rec.skip)
			assert.Contains(t, rec.fatal+rec.skip, "apt-get install -y chromium")
		})
	}
}
