package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
)

// TestCacheOnRedisCluster runs two web gateways on a real Redis Cluster
// (three primaries, one replica each): a product page filled through one
// instance is a HIT on the other; with the primary holding the entry
// killed, every request is still answered 200, uncached, and once the
// replica is promoted both instances serve the replicated entry again.
func TestCacheOnRedisCluster(t *testing.T) {
	t.Parallel()
	c := edgetest.StartRedisCluster(t)
	mon := c.Monitor(t)
	f, base := fakestest.Start(t)
	// The cache's clock follows the wall clock here, so that the store's
	// back-off after a failure ends as in production; moved by hand, it
	// cannot race the entry's freshness (30 s).
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	env := map[string]string{"BFF_REDIS_URL": c.URL()}
	ws := []*web{bootWeb(t, webOptions{env: env, fakes: f, base: base, clock: clk}),
		bootWeb(t, webOptions{env: env, fakes: f, base: base, clock: clk})}
	ct := newContract(t)
	page := "/v1/pages/product/p-0007"
	get := func(w *web) answer {
		cl := newClient(t, ct)
		cl.http.Timeout = 2 * time.Second
		return cl.do(http.MethodGet, w.url+page, "", nil)
	}

	// A client's first calls load the cluster's slot map, dial and load
	// the scripts, which a loaded machine may not fit in the cache's
	// 100 ms (the page is then served uncached): warm both up on another
	// page first. A machine busy with other work was seen to need more
	// than 20 s for it; an idle one takes well under a second, so the
	// long bound costs nothing when the test passes.
	require.Eventually(t, func() bool {
		warm := func(w *web) string {
			cl := newClient(t, ct)
			return cl.do(http.MethodGet, w.url+"/v1/pages/product/p-0001", "", nil).header.Get("X-Cache")
		}
		warm(ws[0])
		return warm(ws[1]) == "HIT" && warm(ws[0]) == "HIT"
	}, time.Minute, 50*time.Millisecond, "both instances use the cluster")
	warmEntries := c.Keys(t, "bff-web:cache:e:*")
	require.Len(t, warmEntries, 1)
	warmEntry := warmEntries[0]

	f.ResetStats()
	a := get(ws[0])
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "MISS", a.header.Get("X-Cache"))
	b := get(ws[1])
	assert.Equal(t, "HIT", b.header.Get("X-Cache"), "the second instance serves the first one's entry")
	assert.Equal(t, 1, f.Requests(domain.ServiceReviews), "one fan-out for two instances")
	// The other users of Redis: sign-in throttling and the event streams'
	// per-user cap.
	signIn := newClient(t, ct).do(http.MethodPost, ws[0].url+"/v1/session", `{"username":"alice","password":"wrong"}`, nil)
	require.Equal(t, http.StatusUnauthorized, signIn.status)
	openSSE(t, ws[1].url, bearer(t, f, "u-003")...).res.Body.Close()

	// Every key the gateway used so far: one slot per command, and the
	// shapes, so that a new one shows in the log.
	require.Eventually(t, func() bool {
		shapes, _ := c.KeyShapes(t, mon.Commands())
		return slices.ContainsFunc(shapes, func(s string) bool { return strings.Contains(s, ":events:") || strings.Contains(s, "slots") })
	}, 5*time.Second, 50*time.Millisecond, "the event stream's slot reached Redis")
	shapes, crossSlot := c.KeyShapes(t, mon.Commands())
	assert.Empty(t, crossSlot, "every multi-key command's keys in one slot")
	t.Logf("key shapes:\n%s", strings.Join(shapes, "\n"))

	entries := c.Keys(t, "bff-web:cache:e:*")
	require.Len(t, entries, 2, "the pages' entries are in the cluster")
	entries = slices.DeleteFunc(entries, func(k string) bool { return k == warmEntry })
	require.Len(t, entries, 1, "the page's entry is in the cluster")
	c.WaitReplicated(t)
	victim := c.PrimaryOf(t, entries[0])
	require.NotNil(t, victim)

	victim.Stop()
	killed, last := time.Now(), time.Now()
	var (
		during   = map[string]int{}
		requests int
		promoted time.Duration
		hitAgain = make([]time.Duration, len(ws)) // per instance
	)
	for i := 0; hitAgain[0] == 0 || hitAgain[1] == 0; i++ {
		require.Less(t, time.Since(killed), 60*time.Second, "the cache did not come back: %v", during)
		clk.Advance(time.Since(last))
		last = time.Now()
		a := get(ws[i%2])
		requests++
		during[fmt.Sprintf("%d %s", a.status, a.header.Get("X-Cache"))]++
		require.Equal(t, http.StatusOK, a.status, "served uncached while the entry's primary is away")
		if a.header.Get("X-Cache") == "HIT" && hitAgain[i%2] == 0 && promoted != 0 {
			hitAgain[i%2] = time.Since(killed)
		}
		if promoted == 0 && c.PrimaryOf(t, entries[0]) != nil {
			promoted = time.Since(killed)
		}
	}
	assert.Positive(t, during["200 MISS"], "the cache was bypassed during the failover")
	t.Logf("failover: %d requests, %v; replica promoted after %s, both instances HIT again after %s",
		requests, during, promoted.Round(10*time.Millisecond), max(hitAgain[0], hitAgain[1]).Round(10*time.Millisecond))
}
