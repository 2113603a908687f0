package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"
)

// Period is the window every Limit's Rate is counted over; the documented
// headers speak of per-minute rates (w=60).
const Period = time.Minute

// Limit is a GCRA limit: Rate requests per minute, at most Burst at once.
// It is the one rate-limit type of every gateway: a partner's plan in the
// keys file and a gateway's configured limit decode into it.
type Limit struct {
	// Rate is the sustained number of requests per minute. Required (> 0).
	Rate int `yaml:"per_minute"`
	// Burst is the number of requests allowed back to back. Required (> 0).
	Burst int `yaml:"burst"`
}

// Validate reports a limit that cannot admit anything.
func (l Limit) Validate() error {
	if l.Rate <= 0 || l.Burst <= 0 {
		return fmt.Errorf("rate limit %d/min burst %d: both must be positive", l.Rate, l.Burst)
	}
	return nil
}

// Result is one decision.
type Result struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Remaining is the number of requests allowed right now after this one.
	Remaining int
	// RetryAfter is how long a denied caller must wait; 0 when allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until Remaining is back at Burst.
	ResetAfter time.Duration
}

// Store decides one request against the bucket of key.
type Store interface {
	// Allow charges one request to key's bucket under l and returns the
	// decision; an error means the store could not decide.
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

// NewMemoryStore returns the in-process store: GCRA state (one timestamp per
// key) in 64 mutex-guarded LRU shards holding at most size keys in all.
// Evicting a key only forgets a bucket that is refilling, so memory stays
// bounded whatever the number of client IPs. Clock is optional (time.Now).
//
// GCRA is hand-written here because no well-kept in-process library returns
// the remaining count and reset time in the same terms as redis_rate's Lua
// script; the arithmetic below mirrors that script so both stores produce
// the same headers.
func NewMemoryStore(size int, clock func() time.Time) Store {
	if size <= 0 {
		size = 100_000
	}
	if clock == nil {
		clock = time.Now
	}
	s := &memoryStore{now: clock, seed: maphash.MakeSeed()}
	per := max(size/len(s.shards), 1)
	for i := range s.shards {
		s.shards[i].tat, _ = simplelru.NewLRU[string, int64](per, nil)
	}
	return s
}

type memoryStore struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [64]struct {
		mu  sync.Mutex
		tat *simplelru.LRU[string, int64] // theoretical arrival time, Unix ns
	}
}

var _ Store = (*memoryStore)(nil)

func (s *memoryStore) Allow(_ context.Context, key string, l Limit) (Result, error) {
	emission := max(int64(Period)/int64(max(l.Rate, 1)), 1)
	burstOffset := emission * int64(l.Burst)
	now := s.now().UnixNano()
	sh := &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]

	sh.mu.Lock()
	defer sh.mu.Unlock()
	tat, ok := sh.tat.Get(key)
	if !ok || tat < now {
		tat = now
	}
	newTAT := tat + emission
	diff := now - (newTAT - burstOffset)
	if diff < 0 {
		return Result{RetryAfter: time.Duration(-diff), ResetAfter: time.Duration(tat - now)}, nil
	}
	sh.tat.Add(key, newTAT)
	return Result{Allowed: true, Remaining: int(diff / emission), ResetAfter: time.Duration(newTAT - now)}, nil
}

// NewRedisStore returns the shared store: redis_rate's GCRA, atomic in one
// Lua script, so every instance draws from the same bucket.
func NewRedisStore(client redis.UniversalClient) Store {
	return redisStore{limiter: redis_rate.NewLimiter(client)}
}

type redisStore struct{ limiter *redis_rate.Limiter }

var _ Store = redisStore{}

func (s redisStore) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	r, err := s.limiter.Allow(ctx, key, redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: Period})
	if err != nil {
		return Result{}, fmt.Errorf("asking redis: %w", err)
	}
	res := Result{Allowed: r.Allowed > 0, Remaining: r.Remaining, ResetAfter: max(r.ResetAfter, 0)}
	if !res.Allowed {
		res.RetryAfter = max(r.RetryAfter, 0)
	}
	return res, nil
}
