package idempotency_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-partner/internal/idempotency"
	"github.com/shopfront/shared/edge/edgetest"
)

// fakeClock is a settable clock for the memory store.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

const lock = 30 * time.Second

func key(scope string, i int) idempotency.Key {
	return idempotency.Key{Scope: scope, ID: fmt.Sprintf("k-%d", i)}
}

// complete claims and completes one record with a body of size bytes.
func complete(t *testing.T, s idempotency.Store, k idempotency.Key, size int) {
	t.Helper()
	rec := idempotency.Record{Fingerprint: "fp", Token: "tok-" + k.String()}
	existing, err := s.Claim(context.Background(), k, rec, lock)
	require.NoError(t, err)
	require.Nil(t, existing, "%s is new", k)
	rec.Done, rec.Status, rec.Body = true, http.StatusCreated, []byte(strings.Repeat("x", size))
	require.NoError(t, s.Complete(context.Background(), k, rec, 24*time.Hour))
}

// kept reports whether the store still answers k with a completed record.
// A record that is gone is claimed by the look-up, which may evict another
// record, and then released: tests look up the records they expect kept
// before those they expect gone.
func kept(t *testing.T, s idempotency.Store, k idempotency.Key) bool {
	t.Helper()
	existing, err := s.Claim(context.Background(), k, idempotency.Record{Fingerprint: "fp", Token: "probe"}, lock)
	require.NoError(t, err)
	if existing == nil {
		require.NoError(t, s.Release(context.Background(), k, "probe"))
		return false
	}
	return existing.Done
}

// TestMemoryStoreKeepsClaimsInFlight fills the store with claims still in
// flight: a new key is refused with ErrFull rather than evicting one (which
// would let that order's retry run again), until a claim expires.
func TestMemoryStoreKeepsClaimsInFlight(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxRecords: 3, MaxPartnerRecords: 3, Now: clk.Now})
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 3 {
		existing, err := s.Claim(ctx, key("acme", i), idempotency.Record{Fingerprint: "fp", Token: fmt.Sprint(i)}, lock)
		require.NoError(t, err)
		require.Nil(t, existing)
	}
	_, err = s.Claim(ctx, key("acme", 3), idempotency.Record{Fingerprint: "fp", Token: "3"}, lock)
	require.ErrorIs(t, err, idempotency.ErrFull)
	_, err = s.Claim(ctx, key("globex", 0), idempotency.Record{Fingerprint: "fp", Token: "g"}, lock)
	require.ErrorIs(t, err, idempotency.ErrFull, "nor for another partner")
	for i := range 3 {
		existing, err := s.Claim(ctx, key("acme", i), idempotency.Record{Fingerprint: "fp", Token: "dup"}, lock)
		require.NoError(t, err)
		require.NotNil(t, existing, "claim %d is still held", i)
		assert.Equal(t, fmt.Sprint(i), existing.Token)
	}

	clk.Add(lock) // the claims' owners died: their claims expire.
	existing, err := s.Claim(ctx, key("globex", 0), idempotency.Record{Fingerprint: "fp", Token: "g"}, lock)
	require.NoError(t, err)
	assert.Nil(t, existing, "an expired claim makes room")
}

// TestMemoryStoreIsFairBetweenPartners floods the store from one partner:
// another partner's records survive it.
func TestMemoryStoreIsFairBetweenPartners(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  idempotency.MemoryConfig
		size int
	}{
		{name: "ok, bounded by records", cfg: idempotency.MemoryConfig{MaxRecords: 20}},
		{name: "ok, bounded by bytes", cfg: idempotency.MemoryConfig{MaxBytes: 40 << 10}, size: 1 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := idempotency.NewMemoryStore(tt.cfg)
			require.NoError(t, err)
			for i := range 3 {
				complete(t, s, key("globex", i), tt.size)
			}
			for i := range 500 {
				complete(t, s, key("acme", i), tt.size)
			}
			for i := range 3 {
				assert.True(t, kept(t, s, key("globex", i)), "globex's record %d survives acme's flood", i)
			}
			assert.True(t, kept(t, s, key("acme", 499)), "acme keeps its newest records")
			assert.False(t, kept(t, s, key("acme", 0)), "and loses its oldest")
		})
	}
}

// TestMemoryStoreEvictsFromTheLargestPartner fills the store from several
// partners within their shares: room for a new record is taken from the
// partner holding the most, oldest first.
func TestMemoryStoreEvictsFromTheLargestPartner(t *testing.T) {
	t.Parallel()
	s, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxRecords: 6, MaxPartnerRecords: 4})
	require.NoError(t, err)
	complete(t, s, key("globex", 0), 0)
	complete(t, s, key("globex", 1), 0)
	for i := range 4 {
		complete(t, s, key("acme", i), 0)
	}
	complete(t, s, key("initech", 0), 0) // the store is full: one record must go.
	assert.True(t, kept(t, s, key("globex", 0)), "the smaller partner keeps even its oldest record")
	assert.True(t, kept(t, s, key("globex", 1)))
	assert.True(t, kept(t, s, key("acme", 1)))
	assert.True(t, kept(t, s, key("initech", 0)))
	assert.False(t, kept(t, s, key("acme", 0)), "the largest partner gives up its oldest")
}

// TestMemoryStoreIsBoundedInBytes stores responses of 1 MiB under a byte
// bound far below what the record count allows.
func TestMemoryStoreIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	s, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxBytes: 3<<20 + 4096, MaxPartnerBytes: 3<<20 + 4096})
	require.NoError(t, err)
	for i := range 4 {
		complete(t, s, key("acme", i), 1<<20)
	}
	for i := 1; i < 4; i++ {
		assert.True(t, kept(t, s, key("acme", i)), "record %d", i)
	}
	assert.False(t, kept(t, s, key("acme", 0)), "the fourth MiB evicted the first")

	// A response larger than a partner may hold is not kept at all.
	small, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxBytes: 4 << 10, MaxPartnerBytes: 2 << 10})
	require.NoError(t, err)
	k := key("acme", 9)
	rec := idempotency.Record{Fingerprint: "fp", Token: "t"}
	_, err = small.Claim(context.Background(), k, rec, lock)
	require.NoError(t, err)
	rec.Done, rec.Body = true, make([]byte, 3<<10)
	assert.ErrorIs(t, small.Complete(context.Background(), k, rec, time.Hour), idempotency.ErrFull)
	assert.False(t, kept(t, small, k), "the claim is released, so a retry can run")
}

func TestMemoryConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  idempotency.MemoryConfig
		ok   bool
	}{
		{name: "ok, defaults", ok: true},
		{name: "ok, partner bounds within the store's", cfg: idempotency.MemoryConfig{MaxRecords: 10, MaxPartnerRecords: 10}, ok: true},
		{name: "nok, negative bytes", cfg: idempotency.MemoryConfig{MaxBytes: -1}},
		{name: "nok, partner records over the store's", cfg: idempotency.MemoryConfig{MaxRecords: 10, MaxPartnerRecords: 11}},
		{name: "nok, partner bytes over the store's", cfg: idempotency.MemoryConfig{MaxBytes: 10, MaxPartnerBytes: 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := idempotency.NewMemoryStore(tt.cfg)
			assert.Equal(t, tt.ok, err == nil, err)
		})
	}
}

// TestFullStoreAnswers503 keeps one order in flight in a store with room
// for one record: another key gets 503 with Retry-After, not an eviction
// of the order in flight; once that order completed, its record makes room.
func TestFullStoreAnswers503(t *testing.T) {
	t.Parallel()
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxRecords: 1})
	require.NoError(t, err)
	up, release := heldOrders(t)
	gw := gateway(t, store, up, 0)
	done := make(chan result, 1)
	go func() { done <- post(t, gw.URL, "acme", "first", order) }()
	require.Eventually(t, func() bool { return up.posts.Load() == 1 }, 5*time.Second, 5*time.Millisecond)

	full := post(t, gw.URL, "globex", "second", order)
	assert.Equal(t, http.StatusServiceUnavailable, full.status)
	assert.Equal(t, idempotency.CodeStoreFull, full.code)
	assert.Equal(t, "1", full.retryAfter)
	assert.EqualValues(t, 1, up.posts.Load(), "the refused order never reached the orders service")

	release()
	assert.Equal(t, http.StatusCreated, (<-done).status)
	assert.Equal(t, http.StatusCreated, post(t, gw.URL, "globex", "second", order).status, "a completed record makes room")
}

// TestFingerprintComparesNumbersExactly checks that bodies differing only
// in a number are told apart exactly, beyond float64's 2^53, while equal
// numbers spelled differently still replay.
func TestFingerprintComparesNumbersExactly(t *testing.T) {
	t.Parallel()
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	require.NoError(t, err)
	up := newOrders(t, 0)
	gw := gateway(t, store, up, 0)
	body := func(quantity string) string {
		return `{"items":[{"productId":"p-1","quantity":` + quantity + `}],"currency":"USD"}`
	}
	tests := []struct {
		name         string
		first, again string
		expectReplay bool
	}{
		{name: "ok, the same integer above 2^53", first: "9007199254740993", again: "9007199254740993", expectReplay: true},
		{name: "ok, 2.0 is 2", first: "2", again: "2.0", expectReplay: true},
		{name: "ok, 0.2e1 is 2", first: "2", again: "0.2e1", expectReplay: true},
		{name: "ok, 20E-1 is 2", first: "2", again: "20E-1", expectReplay: true},
		{name: "ok, -0 is 0", first: "0", again: "-0.0", expectReplay: true},
		{name: "nok, 2^53+1 is not 2^53", first: "9007199254740993", again: "9007199254740992"},
		{name: "nok, 1.5 is not 15", first: "1.5", again: "15"},
		{name: "nok, -2 is not 2", first: "2", again: "-2"},
		{name: "nok, digits far past float64's precision", first: "0.30000000000000000001", again: "0.3"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := fmt.Sprintf("numbers-%d", i)
			first := post(t, gw.URL, "acme", k, body(tt.first))
			require.Equal(t, http.StatusCreated, first.status, first.body)
			again := post(t, gw.URL, "acme", k, body(tt.again))
			if tt.expectReplay {
				assert.Equal(t, http.StatusCreated, again.status)
				assert.Equal(t, "true", again.replayed)
				assert.Equal(t, first.body, again.body)
				return
			}
			assert.Equal(t, http.StatusUnprocessableEntity, again.status)
			assert.Equal(t, "idempotency_key_reused", again.code)
		})
	}
}

// TestRedisPartnerBoundIsShared runs two stores (two gateway instances) on
// one real Redis with room for three records per partner: the bound holds
// across both, a claim over it evicts the partner's oldest completed
// record, another partner is untouched, and with only claims in flight
// left the next claim is ErrFull, as in-process. Every key of a partner
// shares its hash tag, so the scripts stay on one Redis Cluster slot.
func TestRedisPartnerBoundIsShared(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	var two []idempotency.Store
	for range 2 {
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
		t.Cleanup(func() { _ = rdb.Close() })
		two = append(two, redisStore(t, rdb, idempotency.RedisConfig{Prefix: "sf:idem:", MaxPartnerRecords: 3}))
	}
	a, b := two[0], two[1]
	ctx := context.Background()

	complete(t, a, key("acme", 1), 10)
	complete(t, b, key("acme", 2), 10)
	complete(t, a, key("globex", 1), 10)
	complete(t, b, key("acme", 3), 10)
	// The fourth record of acme, on either instance, evicts its oldest.
	complete(t, a, key("acme", 4), 10)
	assert.True(t, kept(t, b, key("acme", 4)))
	assert.True(t, kept(t, a, key("acme", 3)))
	assert.True(t, kept(t, b, key("acme", 2)))
	assert.True(t, kept(t, b, key("globex", 1)), "another partner's record is untouched")
	assert.False(t, kept(t, b, key("acme", 1)), "acme's oldest record made room")

	// Three claims in flight, on both instances, fill acme's share: the
	// next claim is refused rather than evicting one.
	for i, s := range []idempotency.Store{a, b, a} {
		existing, err := s.Claim(ctx, key("acme", 10+i), idempotency.Record{Fingerprint: "fp", Token: fmt.Sprint("t", i)}, lock)
		require.NoError(t, err)
		require.Nil(t, existing)
	}
	_, err := b.Claim(ctx, key("acme", 20), idempotency.Record{Fingerprint: "fp", Token: "t20"}, lock)
	require.ErrorIs(t, err, idempotency.ErrFull)
	existing, err := b.Claim(ctx, key("globex", 2), idempotency.Record{Fingerprint: "fp", Token: "g2"}, lock)
	require.NoError(t, err, "globex still has room")
	assert.Nil(t, existing)

	// A released claim makes room again.
	require.NoError(t, a.Release(ctx, key("acme", 10), "t0"))
	existing, err = b.Claim(ctx, key("acme", 20), idempotency.Record{Fingerprint: "fp", Token: "t20"}, lock)
	require.NoError(t, err)
	assert.Nil(t, existing)

	keys, err := redis.NewClient(&redis.Options{Addr: r.Addr}).Keys(ctx, "sf:idem:*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(k, "sf:idem:{acme}:") || strings.HasPrefix(k, "sf:idem:{globex}:"), "%s carries its partner's hash tag", k)
	}
}

// TestRedisClaimsExpireFromTheBound: a claim whose lock ran out (its
// request died) no longer counts against its partner's bound.
func TestRedisClaimsExpireFromTheBound(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	s := redisStore(t, rdb, idempotency.RedisConfig{Prefix: "sf:idem:", MaxPartnerRecords: 1})
	ctx := context.Background()
	_, err := s.Claim(ctx, key("acme", 1), idempotency.Record{Fingerprint: "fp", Token: "t1"}, 50*time.Millisecond)
	require.NoError(t, err)
	_, err = s.Claim(ctx, key("acme", 2), idempotency.Record{Fingerprint: "fp", Token: "t2"}, lock)
	require.ErrorIs(t, err, idempotency.ErrFull)
	require.Eventually(t, func() bool {
		existing, err := s.Claim(ctx, key("acme", 2), idempotency.Record{Fingerprint: "fp", Token: "t2"}, lock)
		return err == nil && existing == nil
	}, 10*time.Second, 20*time.Millisecond, "the expired claim left the bound")
}
