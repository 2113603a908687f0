package apikey

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/ratelimit"
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Path is the keys file (BFF_PARTNER_KEYS_FILE). Required.
	Path string
	// PollInterval is how often Watch checks the file's content for changes;
	// a change is loaded once two polls saw the same content. Optional.
	// Default 2 s; negative disables polling (signals only).
	PollInterval time.Duration
	// Logger receives one line per reload and one per rejected file.
	// Optional. Default zap.NewNop().
	Logger *zap.Logger
}

// Store holds the current keys file as an immutable snapshot swapped
// atomically on reload, so a request sees either the old or the new file,
// never a mix, and reloading never blocks or drops requests.
type Store struct {
	cfg      StoreConfig
	current  atomic.Pointer[Keys]
	mu       sync.Mutex // serialises reloads
	lastSeen [sha256.Size]byte
	pending  [sha256.Size]byte
}

// Open loads and validates the keys file; an invalid file is an error here,
// since the gateway must not start without keys.
func Open(cfg StoreConfig) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("apikey: Path is required")
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &Store{cfg: cfg}
	data, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("reading keys file: %w", err)
	}
	keys, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("loading keys file %s: %w", cfg.Path, err)
	}
	s.current.Store(keys)
	s.lastSeen = sha256.Sum256(data)
	return s, nil
}

// Keys returns the current snapshot.
func (s *Store) Keys() *Keys { return s.current.Load() }

// Plan returns the rate limit plan of partner id, ratelimit.PartnerLimit()
// for partners without one or not in the file (client-credentials
// partners).
func (s *Store) Plan(id string) ratelimit.Limit {
	if p, ok := s.Keys().Partner(id); ok {
		return p.Plan
	}
	return ratelimit.PartnerLimit()
}

// Identify names the partner and key of a presented API key without
// authorising it: revoked keys and keys refused by their partner's
// allow-list are named too. It is for records such as the audit log, which
// must say whose key a rejected request carried; it never admits a request. The look-up is Lookup's,
// constant-time over every stored digest.
func (s *Store) Identify(presented string) (partnerID, keyID string, ok bool) {
	if presented == "" {
		return "", "", false
	}
	k, ok := s.Keys().Lookup(presented)
	if !ok {
		return "", "", false
	}
	return k.Partner.ID, k.ID, true
}

// Reload reads the file again and swaps it in when valid. An invalid or
// unreadable file leaves the current keys in force, logs one error and is
// returned.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.cfg.Path)
	if err != nil {
		err = fmt.Errorf("reading keys file: %w", err)
		s.cfg.Logger.Error("keeping the previous partner keys", zap.Error(err))
		return err
	}
	return s.apply(data)
}

// apply parses data and swaps it in; the caller holds mu.
func (s *Store) apply(data []byte) error {
	s.lastSeen = sha256.Sum256(data)
	keys, err := Parse(data)
	if err != nil {
		s.cfg.Logger.Error("keeping the previous partner keys: the new keys file is invalid",
			zap.String("path", s.cfg.Path), zap.Error(err))
		return err
	}
	s.current.Store(keys)
	s.cfg.Logger.Info("partner keys reloaded", zap.String("path", s.cfg.Path), zap.Int("keys", keys.Len()))
	return nil
}

// reloadIfChanged reloads when the file's content differs from the last one
// seen and has stayed the same for two polls in a row: a file being written
// in place (truncated, then filled) is never loaded half-written, and a bad
// file is reported once, not at every poll.
func (s *Store) reloadIfChanged() {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.cfg.Path)
	if err != nil {
		return // a file being replaced; the next poll or a signal retries
	}
	sum := sha256.Sum256(data)
	if sum == s.lastSeen {
		return
	}
	if sum != s.pending {
		s.pending = sum
		return
	}
	_ = s.apply(data)
}

// Watch reloads the file on every value from reload (the gateway passes a
// channel registered with signal.Notify for SIGHUP) and whenever its content
// changes, until ctx is done.
func (s *Store) Watch(ctx context.Context, reload <-chan os.Signal) {
	var tick <-chan time.Time
	if s.cfg.PollInterval > 0 {
		t := time.NewTicker(s.cfg.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			_ = s.Reload()
		case <-tick:
			s.reloadIfChanged()
		}
	}
}
