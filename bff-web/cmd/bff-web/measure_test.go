//go:build measure

package main_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestMeasureIdleStreams reports the memory and goroutines 1000 idle
// streams cost the real binary. It is built only with the measure tag:
//
//	go test -tags measure -run TestMeasureIdleStreams -v ./cmd/bff-web/
func TestMeasureIdleStreams(t *testing.T) {
	bin := gatewaytest.Build(t, "bff-web", ".")
	f, base := fakestest.Start(t)
	p := gatewaytest.Start(t, bin, base, "BFF_LOG_LEVEL=error", "BFF_WEB_EVENTS_MAX_PER_USER=100000")
	tok := fakestest.UserToken(t, f, "u-001", "web")
	// A warm-up stream so that pools exist before the first reading.
	res, _ := openStream(t, p.Addr, tok)
	defer res.Body.Close()
	time.Sleep(time.Second)
	g0, rss0 := gauges(t, p.AdminAddr)
	const n = 1000
	var toks []string
	for i := range 20 {
		toks = append(toks, fakestest.UserToken(t, f, fmt.Sprintf("u-%03d", i+1), "web"))
	}
	for i := range n {
		// 50 per user, within each user's rate-limit burst of 100.
		res, _ := openStream(t, p.Addr, toks[i%20])
		defer res.Body.Close()
	}
	time.Sleep(time.Second)
	g1, rss1 := gauges(t, p.AdminAddr)
	t.Logf("%d idle streams: goroutines %d -> %d (%.1f per stream), RSS %.1f MiB -> %.1f MiB (%.1f KiB per stream)",
		n, g0, g1, float64(g1-g0)/n, rss0/(1<<20), rss1/(1<<20), (rss1-rss0)/1024/n)
}

var gaugeLine = regexp.MustCompile(`(?m)^(go_goroutines|process_resident_memory_bytes) ([0-9.e+]+)$`)

func gauges(t *testing.T, admin string) (goroutines int, rss float64) {
	t.Helper()
	res, err := http.Get("http://" + admin + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	for _, m := range gaugeLine.FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		if m[1] == "go_goroutines" {
			goroutines = int(v)
		} else {
			rss = v
		}
	}
	return goroutines, rss
}
