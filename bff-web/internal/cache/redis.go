package cache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisStore shares entries and refresh locks between instances. Keys are
// hashed so that long query strings make short Redis keys.
type redisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Store = (*redisStore)(nil)

// NewRedis returns a store in rdb under prefix (Optional. Default
// "shopfront:web:cache:"). The client's timeouts bound how long a failing
// Redis can delay a request; keep them short.
func NewRedis(rdb redis.UniversalClient, prefix string) Store {
	if prefix == "" {
		prefix = "shopfront:web:cache:"
	}
	return &redisStore{rdb: rdb, prefix: prefix}
}

func (s *redisStore) key(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.prefix + kind + hex.EncodeToString(sum[:])
}

func (s *redisStore) Get(ctx context.Context, key string) (*Entry, error) {
	b, err := s.rdb.Get(ctx, s.key("e:", key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading cache entry: %w", err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decoding cache entry: %w", err)
	}
	return &e, nil
}

func (s *redisStore) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding cache entry: %w", err)
	}
	if err := s.rdb.Set(ctx, s.key("e:", key), b, ttl).Err(); err != nil {
		return fmt.Errorf("writing cache entry: %w", err)
	}
	return nil
}

// unlock deletes the lock only while it still holds our token, so a late
// release never frees another instance's claim.
var unlock = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

func (s *redisStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	k := s.key("l:", key)
	ok, err := s.rdb.SetNX(ctx, k, token, ttl).Result()
	if err != nil {
		return func() {}, false, fmt.Errorf("taking refresh lock: %w", err)
	}
	if !ok {
		return func() {}, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = unlock.Run(ctx, s.rdb, []string{k}, token).Err()
	}, true, nil
}
