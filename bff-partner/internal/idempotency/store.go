package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"
)

// Record is what a store keeps under one idempotency key: the fingerprint
// of the request that claimed it and, once done, its response.
type Record struct {
	// Fingerprint is the hash of the request (method, path, canonical body).
	Fingerprint string `json:"fp"`
	// Token identifies the claim, so that only its owner completes or
	// releases it (a late owner must not overwrite a newer claim).
	Token string `json:"tok"`
	// Done is false while the first request is in flight.
	Done bool `json:"done"`
	// Status, ContentType, Location and Body are the stored response.
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"ct,omitempty"`
	Location    string `json:"loc,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// Store keeps idempotency records. Implementations are safe for concurrent
// use; Redis ones are shared between gateway instances.
type Store interface {
	// Claim stores rec under key unless the key holds a record; the record
	// expires after lock unless completed. It returns (nil, nil) when the
	// claim succeeded and the existing record otherwise.
	Claim(ctx context.Context, key string, rec Record, lock time.Duration) (*Record, error)
	// Complete replaces the claim made with rec.Token by rec, kept for ttl.
	Complete(ctx context.Context, key string, rec Record, ttl time.Duration) error
	// Release deletes the claim made with token, so a retry can proceed.
	Release(ctx context.Context, key, token string) error
}

// ErrNotOwner is returned when a claim expired and another request holds
// the key now.
var ErrNotOwner = errors.New("idempotency claim no longer held")

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// DefaultMemorySize bounds the in-process store.
const DefaultMemorySize = 100_000

type memoryEntry struct {
	rec     Record
	expires time.Time
}

// memoryStore is the in-process store of one instance: a bounded LRU whose
// entries also expire by the injected clock.
type memoryStore struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, memoryEntry]
	now func() time.Time
}

var _ Store = (*memoryStore)(nil)

// NewMemoryStore returns an in-process store holding at most size records
// (DefaultMemorySize when size <= 0); now is the clock (time.Now when nil).
// When full, the least recently used record is dropped first.
func NewMemoryStore(size int, now func() time.Time) (Store, error) {
	if size <= 0 {
		size = DefaultMemorySize
	}
	if now == nil {
		now = time.Now
	}
	lru, err := simplelru.NewLRU[string, memoryEntry](size, nil)
	if err != nil {
		return nil, fmt.Errorf("creating idempotency LRU: %w", err)
	}
	return &memoryStore{lru: lru, now: now}, nil
}

func (s *memoryStore) get(key string) (memoryEntry, bool) {
	e, ok := s.lru.Get(key)
	if ok && !s.now().Before(e.expires) {
		s.lru.Remove(key)
		return memoryEntry{}, false
	}
	return e, ok
}

func (s *memoryStore) Claim(_ context.Context, key string, rec Record, lock time.Duration) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.get(key); ok {
		r := e.rec
		return &r, nil
	}
	s.lru.Add(key, memoryEntry{rec: rec, expires: s.now().Add(lock)})
	return nil, nil
}

func (s *memoryStore) Complete(_ context.Context, key string, rec Record, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.get(key); !ok || e.rec.Token != rec.Token {
		return ErrNotOwner
	}
	s.lru.Add(key, memoryEntry{rec: rec, expires: s.now().Add(ttl)})
	return nil
}

func (s *memoryStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.get(key); ok && e.rec.Token == token {
		s.lru.Remove(key)
	}
	return nil
}

// redisStore keeps records as JSON strings with a TTL: SET NX claims,
// Lua scripts complete and release only the caller's own claim.
type redisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Store = (*redisStore)(nil)

// NewRedisStore returns a store shared by every instance using rdb; keys
// are prefixed with prefix (e.g. "sf:partner:idem:").
func NewRedisStore(rdb redis.UniversalClient, prefix string) Store {
	return &redisStore{rdb: rdb, prefix: prefix}
}

// compareAndSet replaces the value only while it still carries the token.
var compareAndSet = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, rec = pcall(cjson.decode, cur)
if not ok or rec['tok'] ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`)

func (s *redisStore) Claim(ctx context.Context, key string, rec Record, lock time.Duration) (*Record, error) {
	val, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding idempotency record: %w", err)
	}
	for range 3 {
		ok, err := s.rdb.SetNX(ctx, s.prefix+key, val, lock).Result()
		if err != nil {
			return nil, fmt.Errorf("claiming idempotency key: %w", err)
		}
		if ok {
			return nil, nil
		}
		cur, err := s.rdb.Get(ctx, s.prefix+key).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // released or expired between SET NX and GET: claim again.
		}
		if err != nil {
			return nil, fmt.Errorf("reading idempotency record: %w", err)
		}
		var existing Record
		if err := json.Unmarshal(cur, &existing); err != nil {
			return nil, fmt.Errorf("decoding idempotency record: %w", err)
		}
		return &existing, nil
	}
	return nil, errors.New("claiming idempotency key: the key keeps changing")
}

func (s *redisStore) Complete(ctx context.Context, key string, rec Record, ttl time.Duration) error {
	val, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding idempotency record: %w", err)
	}
	n, err := compareAndSet.Run(ctx, s.rdb, []string{s.prefix + key}, rec.Token, string(val), ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("storing idempotent response: %w", err)
	}
	if n == 0 {
		return ErrNotOwner
	}
	return nil
}

func (s *redisStore) Release(ctx context.Context, key, token string) error {
	if err := compareAndSet.Run(ctx, s.rdb, []string{s.prefix + key}, token, "", 0).Err(); err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	return nil
}
