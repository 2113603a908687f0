package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/shopfront/shared/edge/auth"
)

// HeaderXCache tells the client how the response was served: HIT, MISS or STALE.
const HeaderXCache = "X-Cache"

// HeaderCacheStatus is the standard form of X-Cache (RFC 9211), e.g.
// "shopfront-web; hit; ttl=12" or "shopfront-web; fwd=uri-miss; stored".
const HeaderCacheStatus = "Cache-Status"

// CacheName names this cache in Cache-Status.
const CacheName = "shopfront-web"

// Results of a cache lookup, as X-Cache values and metric labels.
const (
	ResultHit   = "HIT"
	ResultMiss  = "MISS"
	ResultStale = "STALE"
)

// replayed are the response headers kept in an entry; everything else
// (request id, rate-limit and CORS headers, Vary) belongs to each request.
var replayed = []string{echo.HeaderContentType, "Cache-Control", "ETag"}

// Config configures the cache.
type Config struct {
	// Store keeps the entries. Optional. Default an in-process LRU
	// (NewMemory with its defaults).
	Store Store
	// Fresh is how long an entry is served as a HIT. Optional. Default 30 s.
	Fresh time.Duration
	// Stale is how long after Fresh an entry is still served (as STALE)
	// while one background refresh runs. Optional. Default 60 s.
	Stale time.Duration
	// FillTimeout bounds a fan-out that fills or refreshes an entry; it runs
	// detached from the client that started it, so that the client leaving
	// does not fail the requests coalesced behind it. It also bounds how
	// long a miss waits for its entry, whoever fills it: the gateway sets it
	// to the route budget plus a second to render. Optional. Default 10 s.
	FillTimeout time.Duration
	// MaxEntryBytes bounds the body of a stored entry: a larger response
	// is served but not stored, so that one page cannot take a shared
	// Redis's memory from the rest (bff-partner's idempotency records
	// included, when they share it). Optional. Default 1 MiB.
	MaxEntryBytes int
	// LockTTL bounds the claim on a key's background refresh, in case the
	// instance holding it dies. Optional. Default FillTimeout.
	LockTTL time.Duration
	// PollInterval is how often a miss waiting for another instance's fill
	// of the same key looks for the entry. Optional. Default 20 ms.
	PollInterval time.Duration
	// RetryStoreAfter is how long the store is left alone after it failed
	// (Redis down or not answering) before it is tried again; meanwhile
	// every request is served uncached, misses still coalesced within the
	// instance, without paying the store's timeout each time. Optional.
	// Default 1 s.
	RetryStoreAfter time.Duration
	// Now is the clock that ages entries and times RetryStoreAfter.
	// Optional. Default time.Now.
	Now func() time.Time
	// Registry receives shopfront_cache_requests_total{result}. Optional.
	// Default none (counted but not exported).
	Registry prometheus.Registerer
	// Logger receives store failures. Optional. Default zap.NewNop().
	Logger *zap.Logger
}

// Validate reports bad durations, one line each, in the order of the
// fields.
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"fresh", c.Fresh}, {"stale", c.Stale}, {"fill timeout", c.FillTimeout}, {"lock TTL", c.LockTTL}, {"poll interval", c.PollInterval}, {"retry store after", c.RetryStoreAfter}} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("cache %s must not be negative, got %s", d.name, d.d))
		}
	}
	if c.MaxEntryBytes < 0 {
		errs = append(errs, fmt.Errorf("cache max entry bytes must not be negative, got %d", c.MaxEntryBytes))
	}
	return errors.Join(errs...)
}

// Cache serves and fills entries for the routes it is installed on.
type Cache struct {
	cfg        Config
	group      singleflight.Group
	refreshing sync.Map // key -> struct{}: this instance's running refreshes.
	wg         sync.WaitGroup
	requests   *prometheus.CounterVec
	// retryAt is when the store may be used again after a failure (Unix
	// ns of cfg.Now); failing makes an outage logged once.
	retryAt atomic.Int64
	failing atomic.Bool
}

// New returns a cache; its metrics are registered on cfg.Registry.
func New(cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Fresh == 0 {
		cfg.Fresh = 30 * time.Second
	}
	if cfg.Stale == 0 {
		cfg.Stale = 60 * time.Second
	}
	if cfg.FillTimeout == 0 {
		cfg.FillTimeout = 10 * time.Second
	}
	if cfg.LockTTL == 0 {
		cfg.LockTTL = cfg.FillTimeout
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	if cfg.MaxEntryBytes == 0 {
		cfg.MaxEntryBytes = 1 << 20
	}
	if cfg.RetryStoreAfter == 0 {
		cfg.RetryStoreAfter = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Store == nil {
		s, err := NewMemory(MemoryConfig{Now: cfg.Now})
		if err != nil {
			return nil, err
		}
		cfg.Store = s
	}
	c := &Cache{cfg: cfg, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopfront_cache_requests_total",
		Help: "Lookups of bff-web's response cache by result: hit, miss, stale, bypass (authenticated), error (store failed; served uncached).",
	}, []string{"result"})}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(c.requests); err != nil {
			return nil, fmt.Errorf("registering cache metrics: %w", err)
		}
	}
	return c, nil
}

// Wait blocks until the background refreshes started so far are done or
// ctx ends; the gateway calls it while shutting down.
func (c *Cache) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Route describes one cached route.
type Route struct {
	// Query lists the query parameters that select the response. Others are
	// left out of the key, so that junk parameters cannot split or flood the
	// cache. Optional. Default none.
	Query []string
}

// Key returns the cache key of r: method, path and the known query
// parameters sorted by name. Every value the handler could read stays
// apart, in the order given: an empty value (?page=) is not an absent one
// and ?page=2&page=1 is not ?page=1&page=2, so a request the handler
// refuses or reads differently never shares another request's entry.
func (rt Route) Key(r *http.Request) string {
	q := r.URL.Query()
	norm := url.Values{}
	for _, name := range rt.Query {
		if vs, ok := q[name]; ok {
			norm[name] = slices.Clone(vs)
		}
	}
	// url.Values.Encode sorts by name and keeps each name's values in order.
	return r.Method + " " + r.URL.EscapedPath() + "?" + norm.Encode()
}

// Middleware serves anonymous GETs of the route from the cache. It goes
// after authentication (optional auth: a principal means bypass) and before
// the handler. The handler decides cacheability with Cache-Control: only a
// 200 marked public (not private, not no-store, as degraded responses are)
// is stored.
func (c *Cache) Middleware(rt Route) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			req := ec.Request()
			if req.Method != http.MethodGet {
				return next(ec)
			}
			if _, ok := auth.FromContext(req.Context()); ok {
				c.requests.WithLabelValues("bypass").Inc()
				ec.Response().Header().Set(HeaderCacheStatus, CacheName+"; fwd=bypass")
				return next(ec)
			}
			key := rt.Key(req)
			e, err := c.get(req.Context(), key)
			if err != nil && !errors.Is(err, ErrNotFound) {
				// The cache is an optimisation; a broken store must not
				// fail the request. It is served uncached, but concurrent
				// misses of one key still cost one fan-out per instance.
				c.requests.WithLabelValues("error").Inc()
			}
			if e != nil {
				age := c.cfg.Now().Sub(e.StoredAt)
				// Freshness left, negative while stale (RFC 9211 §2.7).
				hit := fmt.Sprintf("%s; hit; ttl=%d", CacheName, int64((c.cfg.Fresh-age)/time.Second))
				switch {
				case age < c.cfg.Fresh:
					c.requests.WithLabelValues("hit").Inc()
					return write(ec, e, ResultHit, hit, age)
				case age < c.cfg.Fresh+c.cfg.Stale:
					c.requests.WithLabelValues("stale").Inc()
					c.refresh(ec, next, key)
					return write(ec, e, ResultStale, hit, age)
				}
			}
			if err == nil || errors.Is(err, ErrNotFound) {
				c.requests.WithLabelValues("miss").Inc()
			}
			// A miss waits for its entry no longer than a fill may take,
			// even behind another instance's lock (a browser would wait).
			ctx, cancel := context.WithTimeout(req.Context(), c.cfg.FillTimeout)
			defer cancel()
			f, err := c.coalesce(ctx, key, c.filler(ec, next))
			if err != nil {
				return err
			}
			status := CacheName + "; fwd=uri-miss"
			if f.stored {
				status += "; stored"
			}
			if f.collapsed {
				status += "; collapsed"
			}
			return write(ec, f.entry, ResultMiss, status, 0)
		}
	}
}

// coalesce returns the entry of a missing key, filled once for all the
// concurrent misses of this instance (singleflight). Each caller waits only
// as long as its own context lives: the fill runs detached (see fill), so a
// caller that gives up neither fails it nor is held by it. When the caller
// that led the call gives up while it was still waiting for another
// instance's fill (errWaitEnded), the others start a new call and keep
// waiting under their own contexts.
func (c *Cache) coalesce(ctx context.Context, key string, fill func(ctx context.Context) (*Entry, error)) (filled, error) {
	for {
		// Only the leader's function runs: a caller whose led stays false
		// waited for another request's fill.
		led := false
		ch := c.group.DoChan(key, func() (any, error) {
			led = true
			return c.fillOnce(ctx, key, fill)
		})
		select {
		case <-ctx.Done():
			return filled{}, ctx.Err()
		case r := <-ch:
			if errors.Is(r.Err, errWaitEnded) && ctx.Err() == nil {
				continue
			}
			if r.Err != nil {
				return filled{}, r.Err
			}
			f := r.Val.(filled)
			f.collapsed = f.collapsed || !led
			return f, nil
		}
	}
}

// filled is the entry a miss is answered with and how it was obtained, for
// Cache-Status.
type filled struct {
	entry *Entry
	// stored: the entry is in the store (this fill stored it, or another
	// instance's fill did).
	stored bool
	// collapsed: the request waited for another request's fill instead of
	// running its own.
	collapsed bool
}

// errWaitEnded is fillOnce's error when its caller's context ended while it
// waited for another instance's fill.
var errWaitEnded = errors.New("waiting for another instance's cache fill ended")

// fillOnce fills a missing key. Concurrent misses of one instance are
// already one call (singleflight); the store's lock makes the instances
// sharing a Redis store take turns too: the lock holder fills, the others
// poll until its entry appears or the lock is free again (the holder failed),
// so a cold key costs one fan-out across instances. If the store cannot lock
// (Redis down) or the wait exceeds LockTTL, the caller fills without waiting.
// The wait is bounded by ctx, the caller's request: a request never outlives
// its own budget waiting for someone else's fill. The fill itself is not.
func (c *Cache) fillOnce(ctx context.Context, key string, fill func(ctx context.Context) (*Entry, error)) (filled, error) {
	deadline := time.Now().Add(c.cfg.LockTTL)
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return filled{}, fmt.Errorf("%w: %w", errWaitEnded, ctx.Err())
		case <-poll.C:
		}
		e, err := c.get(ctx, key)
		if err == nil && c.cfg.Now().Sub(e.StoredAt) < c.cfg.Fresh {
			return filled{entry: e, stored: true, collapsed: true}, nil
		}
		if err := ctx.Err(); err != nil {
			// The store failed because the caller left; not a store problem.
			return filled{}, fmt.Errorf("%w: %w", errWaitEnded, err)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			// The store is away: this instance's misses are already one
			// call, so fill at once rather than wait on a lock that will
			// not come.
			return c.fillNow(ctx, key, fill)
		}
		release, ok, err := c.lock(ctx, key)
		if ok {
			defer release()
			// Another instance may have filled and unlocked between the
			// look-up above and this lock: look again before fanning out.
			if e, err := c.cfg.Store.Get(ctx, key); err == nil && c.cfg.Now().Sub(e.StoredAt) < c.cfg.Fresh {
				return filled{entry: e, stored: true, collapsed: true}, nil
			}
			return c.fillNow(ctx, key, fill)
		}
		if ctx.Err() != nil {
			continue
		}
		if err != nil || time.Now().After(deadline) {
			return c.fillNow(ctx, key, fill)
		}
		poll.Reset(c.cfg.PollInterval)
	}
}

// fillNow is fill for a miss, reporting whether the entry was stored.
func (c *Cache) fillNow(ctx context.Context, key string, fill func(ctx context.Context) (*Entry, error)) (filled, error) {
	e, stored, err := c.fill(ctx, key, fill)
	return filled{entry: e, stored: stored}, err
}

// refresh starts the one background refresh of key, unless this instance
// or (with Redis) another one is already refreshing it.
func (c *Cache) refresh(ec echo.Context, next echo.HandlerFunc, key string) {
	if _, running := c.refreshing.LoadOrStore(key, struct{}{}); running {
		return
	}
	ctx := context.WithoutCancel(ec.Request().Context())
	release, ok, err := c.lock(ctx, key)
	if err != nil || !ok {
		c.refreshing.Delete(key)
		return
	}
	// The echo context goes back to its pool when this request ends, so the
	// refresh gets everything it needs now.
	fill := c.filler(ec, next)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.refreshing.Delete(key)
		defer release()
		if _, _, err := c.fill(ctx, key, fill); err != nil {
			c.cfg.Logger.Info("background cache refresh failed; keeping the stale entry", zap.Error(err))
		}
	}()
}

// fill runs the handler once and stores its response if it is cacheable,
// reporting whether it did.
func (c *Cache) fill(ctx context.Context, key string, fill func(ctx context.Context) (*Entry, error)) (*Entry, bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.FillTimeout)
	defer cancel()
	e, err := fill(ctx)
	if err != nil {
		return nil, false, err
	}
	if !cacheable(e) || len(e.Body) > c.cfg.MaxEntryBytes || !c.available() {
		return e, false, nil
	}
	if err := c.cfg.Store.Set(ctx, key, e, c.cfg.Fresh+c.cfg.Stale); err != nil {
		c.failed(ctx, err)
		return e, false, nil
	}
	c.recovered()
	return e, true, nil
}

// errStoreResting is get's and lock's error while the store is left alone
// after a failure (RetryStoreAfter).
var errStoreResting = errors.New("cache store failed recently; not tried until its retry time")

// available reports whether the store may be tried: it has not failed in
// the last RetryStoreAfter.
func (c *Cache) available() bool { return c.cfg.Now().UnixNano() >= c.retryAt.Load() }

// get is Store.Get unless the store is resting, recording the outcome.
func (c *Cache) get(ctx context.Context, key string) (*Entry, error) {
	if !c.available() {
		return nil, errStoreResting
	}
	e, err := c.cfg.Store.Get(ctx, key)
	switch {
	case err == nil || errors.Is(err, ErrNotFound):
		c.recovered()
	default:
		c.failed(ctx, err)
	}
	return e, err
}

// lock is Store.Lock unless the store is resting, recording the outcome.
func (c *Cache) lock(ctx context.Context, key string) (func(), bool, error) {
	if !c.available() {
		return nil, false, errStoreResting
	}
	release, ok, err := c.cfg.Store.Lock(ctx, key, c.cfg.LockTTL)
	if err != nil {
		c.failed(ctx, err)
		return nil, false, err
	}
	c.recovered()
	return release, ok, nil
}

// failed rests the store for RetryStoreAfter after err, unless the caller
// left (its context ended), which says nothing about the store. The first
// failure of an outage is logged; the rest are counted.
func (c *Cache) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	c.retryAt.Store(c.cfg.Now().Add(c.cfg.RetryStoreAfter).UnixNano())
	if c.failing.CompareAndSwap(false, true) {
		c.cfg.Logger.Warn("cache store failed; serving uncached until it answers again", zap.Error(err))
	}
}

// recovered ends an outage the store answered after.
func (c *Cache) recovered() {
	if c.failing.CompareAndSwap(true, false) {
		c.cfg.Logger.Info("cache store answers again")
	}
}

// filler captures what the handler needs from ec (request, route, path
// parameters) and returns a function that runs the handler on a private
// echo context writing into a recorder.
func (c *Cache) filler(ec echo.Context, next echo.HandlerFunc) func(ctx context.Context) (*Entry, error) {
	e, req, path := ec.Echo(), ec.Request(), ec.Path()
	names, values := slices.Clone(ec.ParamNames()), slices.Clone(ec.ParamValues())
	return func(ctx context.Context) (*Entry, error) {
		rec := &recorder{header: http.Header{}}
		fc := e.NewContext(req.Clone(ctx), rec)
		fc.SetPath(path)
		fc.SetParamNames(names...)
		fc.SetParamValues(values...)
		if err := next(fc); err != nil {
			return nil, err
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		out := &Entry{Status: rec.status, Header: http.Header{}, Body: rec.body.Bytes(), StoredAt: c.cfg.Now()}
		for _, h := range replayed {
			if vs := rec.header.Values(h); len(vs) > 0 {
				out.Header[h] = slices.Clone(vs)
			}
		}
		return out, nil
	}
}

// cacheable reports whether the handler marked e as shareable.
func cacheable(e *Entry) bool {
	if e.Status != http.StatusOK {
		return false
	}
	cc := strings.ToLower(e.Header.Get("Cache-Control"))
	return strings.Contains(cc, "public") && !strings.Contains(cc, "private") && !strings.Contains(cc, "no-store")
}

// write sends e on ec with X-Cache, Cache-Status (RFC 9211) and Age
// (RFC 9111 §5.1).
func write(ec echo.Context, e *Entry, result, cacheStatus string, age time.Duration) error {
	h := ec.Response().Header()
	for k, vs := range e.Header {
		h[k] = slices.Clone(vs)
	}
	h.Set(HeaderXCache, result)
	h.Set(HeaderCacheStatus, cacheStatus)
	if age > 0 {
		h.Set("Age", strconv.Itoa(int(age/time.Second)))
	}
	ec.Response().WriteHeader(e.Status)
	_, err := ec.Response().Write(e.Body)
	return err
}

// recorder is the ResponseWriter of a fill: the response is kept whole so
// that it can be stored and written to every coalesced request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
