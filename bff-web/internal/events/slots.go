package events

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Slots counts each user's open streams.
type Slots interface {
	// Acquire takes one of user's max slots for stream, or reports false
	// when all are taken.
	Acquire(ctx context.Context, user, stream string, max int) (bool, error)
	// Release gives stream's slot back.
	Release(ctx context.Context, user, stream string)
}

// memorySlots counts in process.
type memorySlots struct {
	mu   sync.Mutex
	open map[string]int
}

// NewMemorySlots counts the streams of this instance only.
func NewMemorySlots() Slots { return &memorySlots{open: map[string]int{}} }

var _ Slots = (*memorySlots)(nil)

func (m *memorySlots) Acquire(_ context.Context, user, _ string, max int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.open[user] >= max {
		return false, nil
	}
	m.open[user]++
	return true, nil
}

func (m *memorySlots) Release(_ context.Context, user, _ string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.open[user]--; m.open[user] <= 0 {
		delete(m.open, user)
	}
}

// Redis slot lifetimes: an instance refreshes the entries of its open
// streams every SlotRefresh, and an entry not refreshed for SlotTTL (its
// instance died) no longer counts.
const (
	SlotTTL     = 30 * time.Second
	SlotRefresh = 10 * time.Second
)

// acquireScript keeps, per user, a sorted set of stream ids scored by the
// time their entry expires, on Redis's own clock so that instances' clocks
// need not agree: expired entries go, then the stream is added if fewer
// than max remain. KEYS[1] the user's set; ARGV max, ttl ms, stream id.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// refreshScript pushes the expiry of stream ids still in the set.
// KEYS[1] the user's set; ARGV ttl ms, stream ids.
var refreshScript = redis.NewScript(`
local t = redis.call('TIME')
local until = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', until, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// redisSlots counts across every instance sharing the Redis. When Redis
// fails, it counts in process instead (logged): a Redis outage must not
// stop live events, and the cap is then per instance until it is back.
type redisSlots struct {
	rdb      redis.Scripter
	prefix   string
	log      *zap.Logger
	fallback Slots

	mu   sync.Mutex
	held map[string]map[string]bool // user -> stream -> counted in Redis
	stop chan struct{}
	done chan struct{}
}

// NewRedisSlots counts in Redis under prefix+user and refreshes this
// instance's entries until ctx is done or Close; each refresh is bounded by
// ctx too, so that a stopping process does not wait on Redis. Pass the
// process's context, which ends at shutdown.
func NewRedisSlots(ctx context.Context, rdb redis.Scripter, prefix string, log *zap.Logger) *redisSlots {
	if log == nil {
		log = zap.NewNop()
	}
	s := &redisSlots{rdb: rdb, prefix: prefix, log: log, fallback: NewMemorySlots(),
		held: map[string]map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.refreshLoop(ctx)
	return s
}

var _ Slots = (*redisSlots)(nil)

func (s *redisSlots) Acquire(ctx context.Context, user, stream string, max int) (bool, error) {
	ok, err := acquireScript.Run(ctx, s.rdb, []string{s.prefix + user}, max, SlotTTL.Milliseconds(), stream).Bool()
	if err != nil {
		s.log.Warn("event stream slots: Redis unavailable, counting in process", zap.Error(err))
		ok, _ = s.fallback.Acquire(ctx, user, stream, max)
		if ok {
			s.remember(user, stream, false)
		}
		return ok, nil
	}
	if ok {
		s.remember(user, stream, true)
	}
	return ok, nil
}

func (s *redisSlots) remember(user, stream string, inRedis bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[user] == nil {
		s.held[user] = map[string]bool{}
	}
	s.held[user][stream] = inRedis
}

func (s *redisSlots) Release(ctx context.Context, user, stream string) {
	s.mu.Lock()
	inRedis, ok := s.held[user][stream]
	delete(s.held[user], stream)
	if len(s.held[user]) == 0 {
		delete(s.held, user)
	}
	s.mu.Unlock()
	if !ok {
		return
	}
	if !inRedis {
		s.fallback.Release(ctx, user, stream)
		return
	}
	if c, ok := s.rdb.(redis.Cmdable); ok {
		if err := c.ZRem(ctx, s.prefix+user, stream).Err(); err != nil {
			// The entry expires by itself within SlotTTL.
			s.log.Warn("event stream slots: releasing in Redis failed", zap.Error(err))
		}
	}
}

func (s *redisSlots) refreshLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(SlotRefresh)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			s.refresh(ctx)
		}
	}
}

// refresh pushes the expiry of every stream this instance holds in Redis.
func (s *redisSlots) refresh(ctx context.Context) {
	s.mu.Lock()
	batch := make(map[string][]any, len(s.held))
	for user, streams := range s.held {
		for id, inRedis := range streams {
			if inRedis {
				batch[user] = append(batch[user], id)
			}
		}
	}
	s.mu.Unlock()
	for user, ids := range batch {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		err := refreshScript.Run(ctx, s.rdb, []string{s.prefix + user}, append([]any{SlotTTL.Milliseconds()}, ids...)...).Err()
		cancel()
		if err != nil {
			s.log.Warn("event stream slots: refreshing in Redis failed", zap.Error(err))
			return
		}
	}
}

// Close stops the refreshes; the entries left expire within SlotTTL.
func (s *redisSlots) Close() error {
	close(s.stop)
	<-s.done
	return nil
}
