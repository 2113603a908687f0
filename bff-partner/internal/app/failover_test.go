package app_test

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
)

// The keys of the failover tests: two partners whose plan never
// refills within the test (1 a minute, 3 at once), so every admitted
// request shows in the counts, and two that no test run exhausts: one
// placing the order, one warming the gateways' Redis clients up.
const (
	keyWarm  = "sf_test_warm_full"
	keySlow  = "sf_test_slow_plan"
	keyFresh = "sf_test_fresh_plan"
	keyBuyer = "sf_test_buyer_full"
)

func clusterKeysFile(t *testing.T) string {
	t.Helper()
	return edgetest.TempFile(t, "partner-keys.yaml", fmt.Sprintf(`
partners:
  - id: slow
    name: Slow Plan
    plan: {per_minute: 1, burst: 3}
    keys:
      - {id: slow-4, sha256: %s, scopes: [catalog:read]}
  - id: fresh
    name: Fresh Plan
    plan: {per_minute: 1, burst: 3}
    keys:
      - {id: fresh-1, sha256: %s, scopes: [catalog:read]}
  - id: buyer
    name: Buyer
    plan: {per_minute: 100000, burst: 10000}
    keys:
      - {id: buyer-1, sha256: %s, scopes: [catalog:read, orders:write]}
  - id: warm
    name: Warm-up
    plan: {per_minute: 100000, burst: 10000}
    keys:
      - {id: warm-1, sha256: %s, scopes: [catalog:read]}
`, sha(keySlow), sha(keyFresh), sha(keyBuyer), sha(keyWarm)))
}

// statuses counts answers by status code.
type statuses map[int]int

func (s statuses) String() string {
	var b strings.Builder
	for _, code := range []int{200, 201, 429, 500, 502, 503, 504} {
		if s[code] > 0 {
			fmt.Fprintf(&b, "%d x%d ", code, s[code])
		}
	}
	return strings.TrimSpace(b.String())
}

// fallbacks reads the gateway's count of rate-limit decisions made per
// instance because Redis could not decide.
func (g *gw) fallbacks() float64 {
	g.t.Helper()
	res, err := http.Get(g.admin + "/metrics")
	require.NoError(g.t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "shopfront_ratelimit_fallback_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			require.NoError(g.t, err)
			return n
		}
	}
	return 0
}

// failover is a Redis deployment the partner gateways run on, and how the
// test takes its primary away.
type failover struct {
	url string
	// idemKey returns the Idempotency-Key of the order under test, given
	// the slow partner's rate-limit key, so that one failover takes both
	// away.
	idemKey func(t *testing.T, bucket string) string
	// check runs before the failover, once the record is stored.
	check func(t *testing.T, record string)
	// fail takes the primary away; promoted reports a new one serving.
	fail     func(t *testing.T)
	promoted func(t *testing.T) bool
	// keys lists the keys matching a pattern.
	keys func(t testing.TB, pattern string) []string
	// crash says fail kills the primary, so that the retried order's
	// record is unreachable for a while (a planned failover may hide
	// itself entirely).
	crash bool
}

// TestPartnerOnRedisCluster runs two partner gateways on a real Redis
// Cluster (three primaries, one replica each) and kills the primary that
// holds a partner's rate-limit bucket and an order's idempotency record.
// See partnerAcrossFailover for what it shows.
func TestPartnerOnRedisCluster(t *testing.T) {
	t.Parallel()
	c := edgetest.StartRedisCluster(t)
	mon := c.Monitor(t)
	var (
		victim     *edgetest.Redis
		slowBucket string
	)
	partnerAcrossFailover(t, failover{
		url: c.URL(),
		idemKey: func(t *testing.T, bucket string) string {
			slowBucket = bucket
			victim = c.PrimaryOf(t, bucket)
			require.NotNil(t, victim)
			// A partner's records share the slot of its {partner} tag,
			// so the key id slow-4 is the one whose bucket hashes to
			// that slot's primary (slots 1814 and 4092, both in the
			// first of three primaries' ranges).
			for i := 0; ; i++ {
				if i == 100 {
					t.Fatal("the order's record is not on the primary of the slow bucket")
				}
				k := fmt.Sprintf("order-%d", i)
				if p := c.PrimaryOf(t, "bff-partner:idem:{buyer}:"+sha(k)); p != nil && p.Addr == victim.Addr {
					return k
				}
			}
		},
		check: func(t *testing.T, record string) {
			require.Equal(t, []string{record}, c.Keys(t, record), "the record is where the test expects it")
			c.WaitReplicated(t)
			// Every key the gateway used so far: one slot per command,
			// and the shapes, so that a new one shows in the log.
			var shapes, crossSlot []string
			require.Eventually(t, func() bool {
				shapes, crossSlot = c.KeyShapes(t, mon.Commands())
				return slices.Contains(shapes, "EVALSHA rate:bff-partner:partner:slow:key:slow-<n>") &&
					slices.ContainsFunc(shapes, func(s string) bool { return strings.Contains(s, " bff-partner:idem:{buyer}:<hex>") })
			}, 5*time.Second, 50*time.Millisecond, "the monitor saw the limit and the record")
			assert.Empty(t, crossSlot, "every multi-key command's keys in one slot")
			t.Logf("key shapes:\n%s", strings.Join(shapes, "\n"))
		},
		fail:     func(*testing.T) { victim.Stop() },
		crash:    true,
		promoted: func(t *testing.T) bool { return c.PrimaryOf(t, slowBucket) != nil },
		keys:     c.Keys,
	})
}

// TestPartnerOnRedisSentinel runs two partner gateways on a primary, its
// replica and three sentinels, and takes the primary away: planned, by
// SENTINEL FAILOVER, and by a crash (SIGKILL). See partnerAcrossFailover
// for what it shows.
func TestPartnerOnRedisSentinel(t *testing.T) {
	t.Parallel()
	for _, crash := range []bool{false, true} {
		name := "ok, SENTINEL FAILOVER"
		if crash {
			name = "ok, primary killed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := edgetest.StartRedisSentinel(t)
			var old *edgetest.Redis
			partnerAcrossFailover(t, failover{
				url:     s.URL(),
				idemKey: func(*testing.T, string) string { return "order-sentinel" },
				check:   func(*testing.T, string) {},
				fail: func(t *testing.T) {
					if !crash {
						old = s.Failover(t)
						return
					}
					s.WaitReplicated(t)
					old = s.Primary(t)
					old.Stop()
				},
				promoted: func(t *testing.T) bool {
					p := s.Primary(t)
					return p != nil && p != old
				},
				keys:  s.Keys,
				crash: crash,
			})
		})
	}
}

// partnerAcrossFailover runs two partner gateways on the Redis of fo and
// shows, around the failover of its primary:
//
//   - before: the partner's burst is enforced once across both instances,
//     and a retried order is replayed by the other instance;
//   - during the failover: no 500; limits fall back to each instance's own
//     counters, and the retried order fails closed (503 with Retry-After,
//     answered within 2 s) rather than reaching the orders service again;
//   - after the promotion: limits are shared again, the retry is replayed
//     from the promoted replica, and the orders service saw one order in
//     all.
//
// It logs the requests sent during the failover, their statuses and how
// long each shared behaviour took to come back.
func partnerAcrossFailover(t *testing.T, fo failover) {
	t.Helper()
	f, base := fakestest.Start(t)
	env := map[string]string{"BFF_REDIS_URL": fo.url, "BFF_PARTNER_KEYS_FILE": clusterKeysFile(t)}
	gws := []*gw{startPartnerWith(t, f, base, env), startPartnerWith(t, f, base, env)}
	f.ResetStats()
	read := func(g *gw, apiKey string) (reply, error) {
		return g.within(2*time.Second, call{method: "GET", path: "/v2/products/p-0001", header: key(apiKey)})
	}

	// A client's first calls load the cluster's slot map, dial and load
	// the scripts, which a loaded machine may not fit in the limiter's
	// 100 ms: each instance serves until a request is decided in Redis.
	inRedis := func(g *gw) bool {
		before := g.fallbacks()
		_, err := read(g, keyWarm)
		return err == nil && g.fallbacks() == before
	}
	for _, g := range gws {
		require.Eventually(t, func() bool { return inRedis(g) }, 20*time.Second, 50*time.Millisecond, "decided in Redis")
	}

	// Shared limits: 3 admitted of 8 spread over both instances.
	admitted := func(apiKey string) int {
		n := 0
		for i := range 8 {
			r, err := read(gws[i%2], apiKey)
			require.NoError(t, err)
			require.Contains(t, []int{http.StatusOK, http.StatusTooManyRequests}, r.status, string(r.body))
			if r.status == http.StatusOK {
				n++
			}
		}
		return n
	}
	require.Equal(t, 3, admitted(keySlow), "the burst of 3 holds across two instances")
	bucket := fo.keys(t, "*partner:slow:*")
	require.Len(t, bucket, 1, "the slow partner's bucket is in Redis")
	idemKey := fo.idemKey(t, bucket[0])
	record := "bff-partner:idem:{buyer}:" + sha(idemKey)
	h := with(key(keyBuyer), "Idempotency-Key", idemKey)
	first := gws[0].do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order, header: h})
	require.Equal(t, http.StatusCreated, first.status, string(first.body))
	replay := gws[1].do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order, header: h})
	require.Equal(t, http.StatusCreated, replay.status, string(replay.body))
	assert.Equal(t, "true", replay.header.Get("Idempotent-Replayed"), "the other instance replays")
	assert.Equal(t, first.json["id"], replay.json["id"])
	fo.check(t, record)

	fo.fail(t)
	killed := time.Now()
	var (
		during              = statuses{}
		requests            int
		promoted, replaying time.Duration
		shared              = make([]time.Duration, len(gws)) // per instance
	)
	for i := 0; promoted == 0 || shared[0] == 0 || shared[1] == 0 || replaying == 0; i++ {
		require.Less(t, time.Since(killed), 60*time.Second, "the cluster did not recover: %s", during)
		g := gws[i%2]
		before := g.fallbacks()
		r, err := read(g, keySlow)
		require.NoError(t, err, "a read answered within 2 s")
		during[r.status]++
		requests++
		assert.Contains(t, []int{http.StatusOK, http.StatusTooManyRequests}, r.status, string(r.body))
		if shared[i%2] == 0 && promoted != 0 && g.fallbacks() == before {
			shared[i%2] = time.Since(killed) // decided in Redis again
		}

		sent := time.Now()
		r, err = g.within(2*time.Second, call{method: "POST", path: "/v2/orders", body: order, header: h})
		require.NoError(t, err, "an order answered within 2 s")
		during[r.status]++
		requests++
		switch r.status {
		case http.StatusServiceUnavailable:
			assert.Equal(t, "1", r.header.Get("Retry-After"))
			assert.Less(t, time.Since(sent), 2*time.Second)
		case http.StatusCreated:
			assert.Equal(t, "true", r.header.Get("Idempotent-Replayed"), "a retry never places a second order")
			assert.Equal(t, first.json["id"], r.json["id"])
			if replaying == 0 {
				replaying = time.Since(killed)
			}
		default:
			t.Errorf("order retry during the failover: %d %s", r.status, r.body)
		}
		if promoted == 0 && fo.promoted(t) {
			promoted = time.Since(killed)
		}
	}
	if fo.crash {
		assert.Positive(t, during[http.StatusServiceUnavailable], "the retried order failed closed while its record was away")
	}
	assert.Zero(t, during[http.StatusInternalServerError])
	t.Logf("failover: %d requests, %s; replica promoted after %s, shared limits after %s (both instances), idempotency replays after %s",
		requests, during, promoted.Round(10*time.Millisecond), max(shared[0], shared[1]).Round(10*time.Millisecond), replaying.Round(10*time.Millisecond))

	// Shared again: a fresh partner's burst holds across both instances
	// (per-instance counters would admit 6), and the promoted replica
	// kept the slow partner's drained bucket.
	assert.Equal(t, 3, admitted(keyFresh), "the burst of 3 holds across two instances after the failover")
	assert.Zero(t, admitted(keySlow), "the slow partner's bucket survived the failover")
	assert.Equal(t, 1, f.Requests(domain.ServiceOrders), "one order in all")
}
