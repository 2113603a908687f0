package idempotency

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

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

// Key names a record: the owner of the client's key (the partner) and the
// hash of the key, so that two partners never share a record.
type Key struct {
	// Scope is the partner.
	Scope string
	// ID is the hex SHA-256 of the client's Idempotency-Key.
	ID string
}

// String is the key as stores write it: "<scope>:<id>".
func (k Key) String() string { return k.Scope + ":" + k.ID }

// Store keeps idempotency records. Implementations are safe for concurrent
// use; Redis ones are shared between gateway instances.
type Store interface {
	// Claim stores rec under key unless the key holds a record; the record
	// expires after lock unless completed. It returns (nil, nil) when the
	// claim succeeded and the existing record otherwise, and ErrFull when
	// there is no room for a claim.
	Claim(ctx context.Context, key Key, rec Record, lock time.Duration) (*Record, error)
	// Complete replaces the claim made with rec.Token by rec, kept for ttl.
	Complete(ctx context.Context, key Key, rec Record, ttl time.Duration) error
	// Release deletes the claim made with token, so a retry can proceed.
	Release(ctx context.Context, key Key, token string) error
}

// ErrNotOwner is returned when a claim expired and another request holds
// the key now.
var ErrNotOwner = errors.New("idempotency claim no longer held")

// ErrFull is returned when a record does not fit without evicting a claim
// still in flight: evicting it would let a retry of that request run
// again and create a second order.
var ErrFull = errors.New("idempotency store full")

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Defaults of MemoryConfig.
const (
	DefaultMemoryRecords = 100_000
	DefaultMemoryBytes   = 128 << 20
	// DefaultPartnerShare is the part of the store one partner may fill
	// when MaxPartnerRecords and MaxPartnerBytes are not set.
	DefaultPartnerShare = 4
	// entryOverhead approximates what a record costs besides its strings
	// and body: the map entry, the list element, the struct and its times.
	entryOverhead = 256
)

// MemoryConfig bounds the in-process store.
type MemoryConfig struct {
	// MaxRecords bounds the records of all partners. Optional. Default
	// 100,000.
	MaxRecords int
	// MaxBytes bounds the approximate memory of all records (keys, tokens,
	// fingerprints and the stored responses of up to 1 MiB each).
	// Optional. Default 128 MiB.
	MaxBytes int64
	// MaxPartnerRecords bounds the records of one partner, so that one
	// partner cannot fill the store. Optional. Default MaxRecords / 4.
	MaxPartnerRecords int
	// MaxPartnerBytes bounds the bytes of one partner. Optional. Default
	// MaxBytes / 4.
	MaxPartnerBytes int64
	// Now is the clock. Optional. Default time.Now.
	Now func() time.Time
}

type memoryEntry struct {
	key     Key
	rec     Record
	expires time.Time
	size    int64
}

func (e *memoryEntry) claim() bool { return !e.rec.Done }

// usage is what one partner holds: its in-flight claims and its completed
// records, each oldest first, and their totals.
type usage struct {
	claims, done list.List
	records      int
	bytes        int64
}

// memoryStore is the in-process store of one instance, bounded in records
// and bytes overall and per partner. Records expire by the injected clock.
// When a record does not fit, expired records go first, then the oldest
// completed record of the partner over its share or, for the overall bound,
// of the partner holding the most bytes; a claim still in flight is never
// evicted (ErrFull instead). Hand-written because no LRU library bounds by
// owner and pins entries.
type memoryStore struct {
	mu       sync.Mutex
	cfg      MemoryConfig
	entries  map[Key]*list.Element // of *memoryEntry
	partners map[string]*usage
	records  int
	bytes    int64
}

var _ Store = (*memoryStore)(nil)

// NewMemoryStore returns the in-process store.
func NewMemoryStore(cfg MemoryConfig) (Store, error) {
	if cfg.MaxRecords == 0 {
		cfg.MaxRecords = DefaultMemoryRecords
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMemoryBytes
	}
	if cfg.MaxPartnerRecords == 0 {
		cfg.MaxPartnerRecords = max(1, cfg.MaxRecords/DefaultPartnerShare)
	}
	if cfg.MaxPartnerBytes == 0 {
		cfg.MaxPartnerBytes = cfg.MaxBytes / DefaultPartnerShare
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxRecords < 0 || cfg.MaxBytes < 0 || cfg.MaxPartnerRecords < 0 || cfg.MaxPartnerBytes < 0 {
		return nil, errors.New("idempotency: memory bounds must not be negative")
	}
	if cfg.MaxPartnerRecords > cfg.MaxRecords || cfg.MaxPartnerBytes > cfg.MaxBytes {
		return nil, errors.New("idempotency: a partner's bounds must not exceed the store's")
	}
	return &memoryStore{cfg: cfg, entries: map[Key]*list.Element{}, partners: map[string]*usage{}}, nil
}

func entrySize(key Key, rec Record) int64 {
	return int64(entryOverhead + len(key.Scope) + len(key.ID) + len(rec.Fingerprint) + len(rec.Token) +
		len(rec.ContentType) + len(rec.Location) + len(rec.Body))
}

// get returns the live entry of key, dropping an expired one.
func (s *memoryStore) get(key Key) (*memoryEntry, bool) {
	el, ok := s.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*memoryEntry)
	if s.expired(e) {
		s.remove(el)
		return nil, false
	}
	return e, true
}

func (s *memoryStore) expired(e *memoryEntry) bool { return !s.cfg.Now().Before(e.expires) }

func (s *memoryStore) remove(el *list.Element) {
	e := el.Value.(*memoryEntry)
	u := s.partners[e.key.Scope]
	if e.claim() {
		u.claims.Remove(el)
	} else {
		u.done.Remove(el)
	}
	u.records--
	u.bytes -= e.size
	s.records--
	s.bytes -= e.size
	delete(s.entries, e.key)
	if u.records == 0 {
		delete(s.partners, e.key.Scope)
	}
}

// victim is the element u would give up first: an expired claim, else its
// oldest completed record (expired or not); nil when it holds only claims
// in flight.
func (s *memoryStore) victim(u *usage) *list.Element {
	if f := u.claims.Front(); f != nil && s.expired(f.Value.(*memoryEntry)) {
		return f
	}
	return u.done.Front()
}

// makeRoom evicts until a record of size bytes fits for scope.
func (s *memoryStore) makeRoom(scope string, size int64) error {
	if size > s.cfg.MaxPartnerBytes {
		return ErrFull
	}
	if u := s.partners[scope]; u != nil {
		for u.records+1 > s.cfg.MaxPartnerRecords || u.bytes+size > s.cfg.MaxPartnerBytes {
			v := s.victim(u)
			if v == nil {
				return ErrFull
			}
			s.remove(v)
			if s.partners[scope] == nil {
				break
			}
		}
	}
	for s.records+1 > s.cfg.MaxRecords || s.bytes+size > s.cfg.MaxBytes {
		// Expired records first, wherever they are; else the oldest
		// completed record of the partner holding the most bytes.
		var pick *list.Element
		var most int64 = -1
		for _, u := range s.partners {
			v := s.victim(u)
			if v == nil {
				continue
			}
			if s.expired(v.Value.(*memoryEntry)) {
				pick = v
				break
			}
			if u.bytes > most {
				pick, most = v, u.bytes
			}
		}
		if pick == nil {
			return ErrFull
		}
		s.remove(pick)
	}
	return nil
}

func (s *memoryStore) insert(key Key, rec Record, ttl time.Duration) error {
	size := entrySize(key, rec)
	if err := s.makeRoom(key.Scope, size); err != nil {
		return err
	}
	u := s.partners[key.Scope]
	if u == nil {
		u = &usage{}
		s.partners[key.Scope] = u
	}
	e := &memoryEntry{key: key, rec: rec, expires: s.cfg.Now().Add(ttl), size: size}
	if e.claim() {
		s.entries[key] = u.claims.PushBack(e)
	} else {
		s.entries[key] = u.done.PushBack(e)
	}
	u.records++
	u.bytes += size
	s.records++
	s.bytes += size
	return nil
}

func (s *memoryStore) Claim(_ context.Context, key Key, rec Record, lock time.Duration) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.get(key); ok {
		r := e.rec
		return &r, nil
	}
	rec.Done = false
	if err := s.insert(key, rec, lock); err != nil {
		return nil, fmt.Errorf("claiming idempotency key: %w", err)
	}
	return nil, nil
}

func (s *memoryStore) Complete(_ context.Context, key Key, rec Record, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.get(key)
	if !ok || e.rec.Token != rec.Token {
		return ErrNotOwner
	}
	s.remove(s.entries[key])
	rec.Done = true
	if err := s.insert(key, rec, ttl); err != nil {
		// The claim is gone: a retry runs again, which the orders
		// service's own Idempotency-Key handling absorbs.
		return fmt.Errorf("storing idempotent response: %w", err)
	}
	return nil
}

func (s *memoryStore) Release(_ context.Context, key Key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.get(key); ok && e.rec.Token == token {
		s.remove(s.entries[key])
	}
	return nil
}

// DefaultRedisPartnerRecords is the default RedisConfig.MaxPartnerRecords:
// a partner's share of the in-process store's default.
const DefaultRedisPartnerRecords = DefaultMemoryRecords / DefaultPartnerShare

// RedisConfig configures the Redis store.
type RedisConfig struct {
	// Prefix starts every key, e.g. "bff-partner:idem:". Required.
	Prefix string
	// MaxPartnerRecords bounds the records of one partner across every
	// instance sharing the Redis, so that one partner cannot fill it. A
	// claim over the bound evicts the partner's oldest completed record;
	// when only claims in flight are left it fails with ErrFull, as the
	// in-process store does. Optional. Default 25,000
	// (DefaultRedisPartnerRecords).
	MaxPartnerRecords int
}

// redisStore keeps records as JSON strings with a TTL, and per partner two
// sorted sets of record ids scored by expiry: its claims in flight and its
// completed records. Lua scripts claim (checking the partner's bound and
// evicting in the same step), complete and release only the caller's own
// claim. Every key of a partner carries the partner in a hash tag
// ("<prefix>{<partner>}:..."), so that each script touches one slot and
// runs on Redis Cluster too.
type redisStore struct {
	rdb redis.UniversalClient
	cfg RedisConfig
}

var _ Store = (*redisStore)(nil)

// NewRedisStore returns a store shared by every instance using rdb.
func NewRedisStore(rdb redis.UniversalClient, cfg RedisConfig) (Store, error) {
	if cfg.MaxPartnerRecords == 0 {
		cfg.MaxPartnerRecords = DefaultRedisPartnerRecords
	}
	if cfg.Prefix == "" || cfg.MaxPartnerRecords < 0 {
		return nil, errors.New("idempotency: RedisConfig needs a Prefix and a positive MaxPartnerRecords")
	}
	return &redisStore{rdb: rdb, cfg: cfg}, nil
}

// keys returns the record key, the partner's claims and completed sets, and
// the prefix of the partner's record keys.
func (s *redisStore) keys(key Key) (rec, claims, done, partner string) {
	partner = s.cfg.Prefix + "{" + key.Scope + "}:"
	return partner + key.ID, partner + "claims", partner + "done", partner
}

// redisNow is the server's clock in milliseconds, so that instances with
// skewed clocks agree on what expired.
const redisNow = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function extend(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
`

// claimScript stores ARGV[1] under KEYS[1] for ARGV[2] ms unless the key
// holds a record, which it returns. The partner's sets (KEYS[2] claims,
// KEYS[3] completed) drop their expired ids; while the partner holds
// ARGV[3] records, its oldest completed record (its key is ARGV[5] ..
// id, in the same hash tag) is evicted. It returns 1 once claimed and 0
// when only claims in flight are left.
var claimScript = redis.NewScript(redisNow + `
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
local t = now()
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', t)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', t)
while redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) do
  local oldest = redis.call('ZPOPMIN', KEYS[3])
  if #oldest == 0 then return 0 end
  redis.call('DEL', ARGV[5] .. oldest[1])
end
local lock = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', lock)
redis.call('ZADD', KEYS[2], t + lock, ARGV[4])
extend(KEYS[2], lock)
return 1
`)

// compareAndSet replaces the record KEYS[1] only while it still carries
// the token ARGV[1]: with ARGV[2] kept for ARGV[3] ms, its id ARGV[4]
// moving from the claims (KEYS[2]) to the completed set (KEYS[3]), or,
// when ARGV[2] is empty, deleting it.
var compareAndSet = redis.NewScript(redisNow + `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, rec = pcall(cjson.decode, cur)
if not ok or rec['tok'] ~= ARGV[1] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[4])
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  local ttl = tonumber(ARGV[3])
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
  redis.call('ZADD', KEYS[3], now() + ttl, ARGV[4])
  extend(KEYS[3], ttl)
end
return 1
`)

func (s *redisStore) Claim(ctx context.Context, key Key, rec Record, lock time.Duration) (*Record, error) {
	val, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding idempotency record: %w", err)
	}
	recKey, claims, done, partner := s.keys(key)
	res, err := claimScript.Run(ctx, s.rdb, []string{recKey, claims, done},
		val, lock.Milliseconds(), s.cfg.MaxPartnerRecords, key.ID, partner).Result()
	if err != nil {
		return nil, fmt.Errorf("claiming idempotency key: %w", err)
	}
	switch v := res.(type) {
	case int64:
		if v == 0 {
			return nil, fmt.Errorf("claiming idempotency key: %w", ErrFull)
		}
		return nil, nil
	case string:
		var existing Record
		if err := json.Unmarshal([]byte(v), &existing); err != nil {
			return nil, fmt.Errorf("decoding idempotency record: %w", err)
		}
		return &existing, nil
	default:
		return nil, fmt.Errorf("claiming idempotency key: unexpected reply %T", res)
	}
}

func (s *redisStore) Complete(ctx context.Context, key Key, rec Record, ttl time.Duration) error {
	val, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding idempotency record: %w", err)
	}
	recKey, claims, done, _ := s.keys(key)
	n, err := compareAndSet.Run(ctx, s.rdb, []string{recKey, claims, done}, rec.Token, string(val), ttl.Milliseconds(), key.ID).Int()
	if err != nil {
		return fmt.Errorf("storing idempotent response: %w", err)
	}
	if n == 0 {
		return ErrNotOwner
	}
	return nil
}

func (s *redisStore) Release(ctx context.Context, key Key, token string) error {
	recKey, claims, done, _ := s.keys(key)
	if err := compareAndSet.Run(ctx, s.rdb, []string{recKey, claims, done}, token, "", 0, key.ID).Err(); err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	return nil
}
