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

func (s *redisStore) Claim(ctx context.Context, key Key, rec Record, lock time.Duration) (*Record, error) {
	val, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding idempotency record: %w", err)
	}
	for range 3 {
		ok, err := s.rdb.SetNX(ctx, s.prefix+key.String(), val, lock).Result()
		if err != nil {
			return nil, fmt.Errorf("claiming idempotency key: %w", err)
		}
		if ok {
			return nil, nil
		}
		cur, err := s.rdb.Get(ctx, s.prefix+key.String()).Bytes()
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

func (s *redisStore) Complete(ctx context.Context, key Key, rec Record, ttl time.Duration) error {
	val, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding idempotency record: %w", err)
	}
	n, err := compareAndSet.Run(ctx, s.rdb, []string{s.prefix + key.String()}, rec.Token, string(val), ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("storing idempotent response: %w", err)
	}
	if n == 0 {
		return ErrNotOwner
	}
	return nil
}

func (s *redisStore) Release(ctx context.Context, key Key, token string) error {
	if err := compareAndSet.Run(ctx, s.rdb, []string{s.prefix + key.String()}, token, "", 0).Err(); err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	return nil
}
