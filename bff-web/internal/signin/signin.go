// Package signin throttles password guessing on bff-web's sign-in per
// username: after MaxFailures failed sign-ins for one username within
// Window, further attempts for it are refused with 429 rate_limited and
// Retry-After until the window ends, whatever the client IP. The per-IP
// anonymous limit in front of the route cannot do this: a guesser spread
// over many addresses gets a fresh bucket per address, but only one per
// username here.
//
// Failures are counted in Redis when a client is given, so that every
// instance shares them; while Redis fails the count falls back to the
// instance's own memory (logged once per outage) rather than failing or
// admitting every sign-in. The username never reaches a log or a key in
// clear: keys hold its SHA-256.
package signin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/problem"
)

// Config configures the throttle.
type Config struct {
	// MaxFailures is how many failed sign-ins a username may have within
	// Window before further attempts are refused. Optional. Default 5.
	MaxFailures int
	// Window is the span failures are counted over, from the first one;
	// the refusal lasts until it ends. Optional. Default 15 min.
	Window time.Duration
	// Redis shares the counts between instances. Optional. Default nil:
	// counts kept per instance.
	Redis redis.UniversalClient
	// Prefix namespaces the keys in Redis. Optional. Default "signin:".
	Prefix string
	// RedisTimeout bounds each call to Redis. Optional. Default 100 ms.
	RedisTimeout time.Duration
	// MaxUsernames bounds the usernames the in-process counts remember;
	// the least recently failed are forgotten first. Optional. Default
	// 100 000.
	MaxUsernames int
	// Now is the clock of the windows. Optional. Default time.Now.
	Now func() time.Time
	// Logger receives Redis outages, never a username. Optional. Default
	// zap.NewNop().
	Logger *zap.Logger
}

// Validate reports bad fields, one line each.
func (c Config) Validate() error {
	var errs []error
	if c.MaxFailures < 0 {
		errs = append(errs, fmt.Errorf("sign-in throttle: max failures must not be negative, got %d", c.MaxFailures))
	}
	if c.Window < 0 || c.RedisTimeout < 0 {
		errs = append(errs, errors.New("sign-in throttle: durations must not be negative"))
	}
	if c.MaxUsernames < 0 {
		errs = append(errs, fmt.Errorf("sign-in throttle: max usernames must not be negative, got %d", c.MaxUsernames))
	}
	return errors.Join(errs...)
}

// Throttle counts failed sign-ins per username.
type Throttle struct {
	cfg     Config
	local   *memoryCounts
	shared  *redisCounts
	failing atomic.Bool
}

// New returns a throttle with cfg's defaults filled in.
func New(cfg Config) (*Throttle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Window == 0 {
		cfg.Window = 15 * time.Minute
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "signin:"
	}
	if cfg.RedisTimeout == 0 {
		cfg.RedisTimeout = 100 * time.Millisecond
	}
	if cfg.MaxUsernames == 0 {
		cfg.MaxUsernames = 100_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	lru, err := simplelru.NewLRU[string, window](cfg.MaxUsernames, nil)
	if err != nil {
		return nil, fmt.Errorf("sign-in throttle: %w", err)
	}
	t := &Throttle{cfg: cfg, local: &memoryCounts{lru: lru}}
	if cfg.Redis != nil {
		t.shared = &redisCounts{rdb: cfg.Redis}
	}
	return t, nil
}

// window is one username's failures: how many, and when their window ends.
type window struct {
	failures int
	end      time.Time
}

// Check returns a 429 rate_limited problem with Retry-After while username
// has MaxFailures failures in its window, else nil. Call it before the
// credentials are checked.
func (t *Throttle) Check(ctx context.Context, username string) error {
	now := t.cfg.Now()
	w := t.read(ctx, t.key(username), now)
	if w.failures < t.cfg.MaxFailures || !now.Before(w.end) {
		return nil
	}
	wait := max(int64((w.end.Sub(now)+time.Second-1)/time.Second), 1)
	return problem.New(http.StatusTooManyRequests, problem.CodeRateLimited,
		"Too many failed sign-ins for this username; try again later.").
		WithHeader("Retry-After", strconv.FormatInt(wait, 10))
}

// Fail counts one failed sign-in of username.
func (t *Throttle) Fail(ctx context.Context, username string) {
	now := t.cfg.Now()
	key := t.key(username)
	if t.shared != nil {
		rctx, cancel := context.WithTimeout(ctx, t.cfg.RedisTimeout)
		err := t.shared.fail(rctx, key, now, t.cfg.Window)
		cancel()
		if err == nil {
			t.recovered()
			return
		}
		t.failed(ctx, err)
	}
	t.local.fail(key, now, t.cfg.Window)
}

func (t *Throttle) read(ctx context.Context, key string, now time.Time) window {
	if t.shared != nil {
		rctx, cancel := context.WithTimeout(ctx, t.cfg.RedisTimeout)
		w, err := t.shared.read(rctx, key)
		cancel()
		if err == nil {
			t.recovered()
			return w
		}
		t.failed(ctx, err)
	}
	return t.local.read(key)
}

// key is username's key: case and surrounding space folded, so that
// "Alice " and "alice" share one count, and hashed, so that no username
// is stored in clear.
func (t *Throttle) key(username string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(username))))
	return t.cfg.Prefix + hex.EncodeToString(sum[:])
}

func (t *Throttle) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // the caller left; that says nothing about Redis
	}
	if t.failing.CompareAndSwap(false, true) {
		t.cfg.Logger.Error("redis unavailable: counting failed sign-ins per instance until it is back", zap.Error(err))
	}
}

func (t *Throttle) recovered() {
	if t.failing.CompareAndSwap(true, false) {
		t.cfg.Logger.Info("counting failed sign-ins through redis again")
	}
}

// memoryCounts keeps the windows of one instance.
type memoryCounts struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, window]
}

func (m *memoryCounts) read(key string) window {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, _ := m.lru.Peek(key)
	return w
}

func (m *memoryCounts) fail(key string, now time.Time, span time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.lru.Get(key)
	if !ok || !now.Before(w.end) {
		w = window{end: now.Add(span)}
	}
	w.failures++
	m.lru.Add(key, w)
}

// redisCounts keeps the windows in Redis: a hash of the failure count and
// the window's end (Unix ms of the throttle's clock, so that every instance
// and a test's clock agree on it), expiring with the window.
type redisCounts struct{ rdb redis.UniversalClient }

// failScript starts a new window when none is running, then counts the
// failure, atomically so that concurrent failures on several instances
// are all counted in one window.
var failScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local e = tonumber(redis.call('HGET', KEYS[1], 'end') or '0')
if e <= now then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'end', now + span)
  redis.call('PEXPIRE', KEYS[1], span)
end
return redis.call('HINCRBY', KEYS[1], 'n', 1)
`)

func (r *redisCounts) fail(ctx context.Context, key string, now time.Time, span time.Duration) error {
	return failScript.Run(ctx, r.rdb, []string{key}, now.UnixMilli(), span.Milliseconds()).Err()
}

func (r *redisCounts) read(ctx context.Context, key string) (window, error) {
	vs, err := r.rdb.HMGet(ctx, key, "n", "end").Result()
	if err != nil {
		return window{}, err
	}
	var w window
	if s, ok := vs[0].(string); ok {
		w.failures, _ = strconv.Atoi(s)
	}
	if s, ok := vs[1].(string); ok {
		ms, _ := strconv.ParseInt(s, 10, 64)
		w.end = time.UnixMilli(ms)
	}
	return w, nil
}
