// Package cache is bff-web's shared response cache: anonymous GETs
// of the catalog pages are kept fresh for 30 s, served stale for 60 s more
// while exactly one background refresh runs, and concurrent misses of one key
// cause one upstream fan-out (request coalescing).
//
// Entries live in a Store: an in-process LRU bounded in entries and bytes by
// default, or Redis when BFF_REDIS_URL is set so that every instance shares
// them. Coalescing is singleflight within an instance plus the store's
// short lock across instances (one fills, the others wait for its entry).
// A failing store never fails a request: the response is served as if the
// cache were not there.
//
// The middleware is written here because the maintained Go HTTP caches are
// either client-side (gregjones/httpcache) or lack what bff-web needs
// together: one background refresh per key while stale copies are served,
// coalesced misses, a lock shared between instances and a store that fails
// open. The parts that libraries do well are theirs: the LRU
// (hashicorp/golang-lru), Redis (go-redis) and coalescing
// (golang.org/x/sync/singleflight).
package cache

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrNotFound is returned by Store.Get when the key holds no entry.
var ErrNotFound = errors.New("cache entry not found")

// Entry is one stored response. Entries are immutable once stored.
type Entry struct {
	// Status is the HTTP status; only 200 is ever stored.
	Status int `json:"status"`
	// Header holds the few response headers replayed on a hit
	// (Content-Type, Cache-Control, ETag).
	Header http.Header `json:"header"`
	// Body is the uncompressed body; compression happens on the way out.
	Body []byte `json:"body"`
	// StoredAt is when the response was produced, by the cache's clock.
	StoredAt time.Time `json:"storedAt"`
}

// size is the entry's approximate footprint, for the memory store's byte bound.
func (e *Entry) size(key string) int64 {
	n := len(key) + len(e.Body) + 64
	for k, vs := range e.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return int64(n)
}

// Store keeps entries for the cache. NewMemory and NewRedis implement it.
type Store interface {
	// Get returns the entry under key, or ErrNotFound.
	Get(ctx context.Context, key string) (*Entry, error)
	// Set stores e under key for at least ttl.
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error
	// Lock claims the refresh of key for at most ttl. ok is false when
	// someone else holds the claim; release gives it back early.
	Lock(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error)
}
