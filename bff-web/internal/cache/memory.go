package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// MemoryConfig configures the in-process store.
type MemoryConfig struct {
	// MaxEntries bounds the number of entries. Optional. Default 10000.
	MaxEntries int
	// MaxBytes bounds the summed size of keys, headers and bodies; the least
	// recently used entries are evicted beyond it. Optional. Default 64 MiB.
	MaxBytes int64
	// Now is the clock of the refresh locks. Optional. Default time.Now.
	Now func() time.Time
}

// Validate reports a bad bound.
func (c MemoryConfig) Validate() error {
	var errs []error
	if c.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("cache max entries must not be negative, got %d", c.MaxEntries))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("cache max bytes must not be negative, got %d", c.MaxBytes))
	}
	return errors.Join(errs...)
}

// memory is an LRU bounded in entries (hashicorp/golang-lru) and in bytes
// (counted here, since the library bounds entries only).
type memory struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, *Entry]
	bytes    int64
	maxBytes int64
	now      func() time.Time
	locks    map[string]time.Time
}

var _ Store = (*memory)(nil)

// NewMemory returns the in-process store.
func NewMemory(cfg MemoryConfig) (Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &memory{maxBytes: cfg.MaxBytes, now: cfg.Now, locks: map[string]time.Time{}}
	l, err := simplelru.NewLRU(cfg.MaxEntries, func(key string, e *Entry) { m.bytes -= e.size(key) })
	if err != nil {
		return nil, fmt.Errorf("creating LRU: %w", err)
	}
	m.lru = l
	return m, nil
}

func (m *memory) Get(_ context.Context, key string) (*Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.lru.Get(key)
	if !ok {
		return nil, ErrNotFound
	}
	return e, nil
}

// Set ignores ttl: the cache judges age by StoredAt, and the LRU bound
// removes what is no longer read.
func (m *memory) Set(_ context.Context, key string, e *Entry, _ time.Duration) error {
	n := e.size(key)
	if n > m.maxBytes {
		return nil // Larger than the whole cache: not worth evicting everything for.
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Remove(key)
	m.lru.Add(key, e)
	m.bytes += n
	for m.bytes > m.maxBytes {
		if _, _, ok := m.lru.RemoveOldest(); !ok {
			break
		}
	}
	return nil
}

func (m *memory) Lock(_ context.Context, key string, ttl time.Duration) (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if until, held := m.locks[key]; held && now.Before(until) {
		return func() {}, false, nil
	}
	until := now.Add(ttl)
	m.locks[key] = until
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.locks[key] == until {
			delete(m.locks, key)
		}
	}, true, nil
}

// Len returns the number of entries, for tests of the bound.
func (m *memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}
