package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-partner/internal/audit"
)

// TestWriteFailuresAreCounted fills the disk for real: today's audit file
// is /dev/full, whose every write fails with ENOSPC. The failure is counted
// in shopfront_audit_write_failures_total and reported by Status; once the
// disk has room again, writing resumes in a fresh file.
func TestWriteFailuresAreCounted(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	dir := t.TempDir()
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	today := filepath.Join(dir, "audit-2026-03-04.jsonl")
	require.NoError(t, os.Symlink("/dev/full", today))
	reg := prometheus.NewRegistry()
	w, err := audit.Open(audit.WriterConfig{Dir: dir, Now: func() time.Time { return now }, FlushInterval: time.Hour, Registry: reg})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	failures := func() float64 {
		n, err := testutil.GatherAndCount(reg, "shopfront_audit_write_failures_total")
		require.NoError(t, err)
		require.Equal(t, 1, n)
		mfs, err := reg.Gather()
		require.NoError(t, err)
		return mfs[0].GetMetric()[0].GetCounter().GetValue()
	}

	require.NoError(t, w.Write(audit.Entry{Time: now, RequestID: "lost"}), "buffered")
	err = w.Flush()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no space left on device")
	assert.Equal(t, 1.0, failures())
	assert.Error(t, w.Status(context.Background()), "reported in /readyz")

	// Room again: the next entry opens the file afresh and reaches it.
	require.NoError(t, os.Remove(today))
	require.NoError(t, w.Write(audit.Entry{Time: now, RequestID: "kept"}))
	require.NoError(t, w.Flush())
	assert.NoError(t, w.Status(context.Background()))
	assert.Equal(t, 1.0, failures())
	b, err := os.ReadFile(today)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"kept"`)
	assert.False(t, strings.Contains(string(b), `"lost"`))
}
