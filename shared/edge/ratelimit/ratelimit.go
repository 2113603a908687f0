// Package ratelimit is the gateways' GCRA rate limiter: per user,
// per partner key and per anonymous client IP, with the documented
// X-RateLimit-* and IETF draft RateLimit headers on every limited response.
//
// Counters live in Redis (redis_rate) when a Redis client is given, so all
// instances share one bucket per key; otherwise, and whenever Redis fails,
// in an in-process store. A Redis failure never fails a request: decisions
// fall back to the per-instance store (logged once per outage, counted in
// shopfront_ratelimit_fallback_total, reported by Status for /readyz) and
// Redis is tried again after RetryRedisAfter.
//
// A gateway wires it after authentication:
//
//	lim, _ := ratelimit.New(ratelimit.LimiterConfig{Redis: rdb, Prefix: "bff-mobile:", ...})
//	authn, _ := jwtauth.Config{Verifier: v, ErrorHandler: lim.ChargeFailure}.ToMiddleware()
//	limit, _ := ratelimit.Config{Limiter: lim, Policy: ratelimit.PerUser(ratelimit.UserLimit)}.ToMiddleware()
//	g := e.Group("/v1", authn, limit)
//
// The authentication middleware hands its failures to ChargeFailure, which
// charges the client IP's anonymous bucket and answers 429 once it is empty,
// so failed logins are limited like anonymous traffic; requests
// that pass authentication are charged by the policy in the second middleware.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/redisurl"
)

// UserLimit is the default mobile and web per-user limit.
func UserLimit() Limit { return Limit{Rate: 600, Burst: 100} }

// AnonymousLimit is the default per-client-IP limit of unauthenticated
// requests.
func AnonymousLimit() Limit { return Limit{Rate: 120, Burst: 30} }

// PartnerLimit is the plan of a partner the keys file gives none.
func PartnerLimit() Limit { return Limit{Rate: 100, Burst: 20} }

// Policy names, used in RateLimit-Policy and metric labels.
const (
	PolicyUser      = "user"
	PolicyPartner   = "partner"
	PolicyAnonymous = "anonymous"
)

// ErrRedisUnavailable is reported by Status while decisions are local.
var ErrRedisUnavailable = errors.New("redis unreachable: rate limits are per instance")

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// Redis is the client of the shared store. The limiter does not own it:
	// whoever made it closes it, after the last request. Optional. Default
	// nil: in-process counters only.
	Redis redis.UniversalClient
	// RedisTimeout bounds one Redis decision, dial included, through the
	// call's context (the client must honour context deadlines). Optional.
	// Default 100 ms.
	RedisTimeout time.Duration
	// RetryRedisAfter is how long decisions stay local after a Redis
	// failure before Redis is tried again. Optional. Default 1 s.
	RetryRedisAfter time.Duration
	// Prefix namespaces the keys in Redis; gateways set their own name so
	// that their budgets are independent. Optional. Default "shopfront:".
	Prefix string
	// Anonymous is the per-client-IP limit of unauthenticated requests and
	// of failed authentications. Optional. Default AnonymousLimit().
	Anonymous Limit
	// MemorySize bounds the keys of the in-process store. Optional. Default
	// 100000.
	MemorySize int
	// Logger receives one line when Redis fails and one when it is back.
	// Optional. Default zap.NewNop().
	Logger *zap.Logger
	// Registry receives the metrics. Optional. Default none (not exported).
	Registry prometheus.Registerer
	// Now is the clock of the in-process store and of the reset header.
	// Optional. Default time.Now.
	Now func() time.Time
}

// Validate reports every bad field.
func (c LimiterConfig) Validate() error {
	var errs []error
	if c.Anonymous != (Limit{}) {
		if err := c.Anonymous.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: Anonymous: %w", err))
		}
	}
	if c.RedisTimeout < 0 || c.RetryRedisAfter < 0 {
		errs = append(errs, errors.New("ratelimit: durations must not be negative"))
	}
	return errors.Join(errs...)
}

// Limiter decides requests and renders the rate-limit headers. It is safe for
// concurrent use.
type Limiter struct {
	cfg       LimiterConfig
	local     Store
	shared    Store
	failing   atomic.Bool
	retryAt   atomic.Int64 // Unix ns before which Redis is not asked
	decisions *prometheus.CounterVec
	fallbacks prometheus.Counter
}

// New validates cfg and returns a Limiter.
func New(cfg LimiterConfig) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RedisTimeout == 0 {
		cfg.RedisTimeout = 100 * time.Millisecond
	}
	if cfg.RetryRedisAfter == 0 {
		cfg.RetryRedisAfter = time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "shopfront:"
	}
	if cfg.Anonymous == (Limit{}) {
		cfg.Anonymous = AnonymousLimit()
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, local: NewMemoryStore(cfg.MemorySize, cfg.Now)}
	if cfg.Redis != nil {
		// Every call is bounded by RedisTimeout through its context: a
		// slow Redis costs a request at most that before the local store
		// answers.
		l.shared = NewRedisStore(cfg.Redis)
	}
	l.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopfront_ratelimit_decisions_total",
		Help: "Rate limit decisions by policy and decision (allowed, limited).",
	}, []string{"policy", "decision"})
	l.fallbacks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shopfront_ratelimit_fallback_total",
		Help: "Rate limit decisions taken by the per-instance store because Redis was unavailable.",
	})
	if cfg.Registry != nil {
		var err error
		if l.decisions, err = metrics.Register(cfg.Registry, l.decisions); err != nil {
			return nil, fmt.Errorf("registering rate limit metrics: %w", err)
		}
		if l.fallbacks, err = metrics.Register(cfg.Registry, l.fallbacks); err != nil {
			return nil, fmt.Errorf("registering rate limit metrics: %w", err)
		}
	}
	return l, nil
}

// Status reports, for /readyz's body, whether decisions are shared:
// ErrRedisUnavailable while the limiter falls back to per-instance limits.
// It is informational; a gateway must not fail readiness on it.
// While failing, it pings Redis (at most once per RetryRedisAfter) so that
// the report recovers even when no request has tried Redis yet.
func (l *Limiter) Status(ctx context.Context) error {
	if l.cfg.Redis == nil || !l.failing.Load() {
		return nil
	}
	if l.cfg.Now().UnixNano() >= l.retryAt.Load() {
		pctx, cancel := context.WithTimeout(ctx, l.cfg.RedisTimeout)
		err := redisurl.Ping(pctx, l.cfg.Redis)
		cancel()
		if err == nil {
			l.recovered()
			return nil
		}
		l.retryAt.Store(l.cfg.Now().Add(l.cfg.RetryRedisAfter).UnixNano())
	}
	return ErrRedisUnavailable
}

func (l *Limiter) recovered() {
	if l.failing.CompareAndSwap(true, false) {
		l.retryAt.Store(0)
		l.cfg.Logger.Info("rate limiting shared through redis again")
	}
}

// Allow decides one request of the bucket against its limit, in Redis when
// configured and healthy, else in the per-instance store. It never fails.
// A bucket with an invalid limit (a plan of zero) is decided against the
// anonymous limit rather than admitting everything or nothing.
func (l *Limiter) Allow(ctx context.Context, b Bucket) Result {
	b = l.sanitize(b)
	key := l.cfg.Prefix + b.Policy + ":" + b.Key
	if l.shared != nil && l.cfg.Now().UnixNano() >= l.retryAt.Load() {
		rctx, cancel := context.WithTimeout(ctx, l.cfg.RedisTimeout)
		res, err := l.shared.Allow(rctx, key, b.Limit)
		cancel()
		if err == nil {
			l.recovered()
			return l.count(b, res)
		}
		if ctx.Err() == nil { // a caller that went away says nothing about Redis
			l.retryAt.Store(l.cfg.Now().Add(l.cfg.RetryRedisAfter).UnixNano())
			if l.failing.CompareAndSwap(false, true) {
				l.cfg.Logger.Error("redis unavailable: rate limiting per instance until it is back", zap.Error(err))
			}
		}
	}
	if l.shared != nil {
		l.fallbacks.Inc()
	}
	res, _ := l.local.Allow(ctx, key, b.Limit) // the memory store cannot fail
	return l.count(b, res)
}

func (l *Limiter) sanitize(b Bucket) Bucket {
	if b.Limit.Validate() != nil {
		b.Limit = l.cfg.Anonymous
	}
	return b
}

func (l *Limiter) count(b Bucket, r Result) Result {
	decision := "allowed"
	if !r.Allowed {
		decision = "limited"
	}
	l.decisions.WithLabelValues(b.Policy, decision).Inc()
	return r
}

// Bucket is what a request is charged to.
type Bucket struct {
	// Policy names the limit in headers and metrics (PolicyUser, ...).
	Policy string
	// Key identifies the caller within the policy (user id, key id, IP).
	Key string
	// Limit is the caller's limit.
	Limit Limit
}

// Policy picks the bucket of an authenticated request; ok false charges the
// client IP's anonymous bucket instead.
type Policy func(c echo.Context) (b Bucket, ok bool)

// PerUser charges a principal's Subject against limit (mobile, web).
func PerUser(limit Limit) Policy {
	return func(c echo.Context) (Bucket, bool) {
		p, ok := auth.FromContext(c.Request().Context())
		if !ok || p.Subject == "" {
			return Bucket{}, false
		}
		return Bucket{Policy: PolicyUser, Key: p.Subject, Limit: limit}, true
	}
}

// PerPartner charges each partner credential (API key id, or the OAuth
// client of a client-credentials JWT) against its partner's plan.
func PerPartner(plan func(partnerID string) Limit) Policy {
	return func(c echo.Context) (Bucket, bool) {
		p, ok := auth.FromContext(c.Request().Context())
		if !ok || p.Partner == "" {
			return Bucket{}, false
		}
		cred := "key:" + p.KeyID
		if p.KeyID == "" {
			cred = "client:" + p.Subject
		}
		return Bucket{Policy: PolicyPartner, Key: p.Partner + ":" + cred, Limit: plan(p.Partner)}, true
	}
}

func (l *Limiter) anonymous(c echo.Context) Bucket {
	return Bucket{Policy: PolicyAnonymous, Key: clientKey(c.RealIP()), Limit: l.cfg.Anonymous}
}

// clientKey is the anonymous bucket of a client address: an IPv4 address
// (mapped ones included) is its own bucket, an IPv6 address is charged to
// its /64. A /64 is what one subscriber or host gets (RFC 6177, RFC 4291's
// interface identifiers), and privacy addresses (RFC 8981) rotate inside
// it at will: keyed by the full address, one client would get a fresh
// bucket per address and could push the buckets that limit it out of the
// in-process LRU. An address that does not parse is kept as it is.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// ChargeFailure is the authentication middlewares' ErrorHandler: it charges
// the failed request to its client IP's anonymous bucket and returns a 429
// once that is empty, else err unchanged.
func (l *Limiter) ChargeFailure(c echo.Context, err error) error {
	b := l.anonymous(c)
	if lerr := l.apply(c, b, l.Allow(c.Request().Context(), b)); lerr != nil {
		return lerr
	}
	return err
}

// apply writes the rate-limit headers and returns the 429 problem when denied.
func (l *Limiter) apply(c echo.Context, b Bucket, r Result) error {
	h := c.Response().Header()
	reset := ceilSeconds(r.ResetAfter)
	rate := strconv.Itoa(b.Limit.Rate)
	remaining := strconv.Itoa(r.Remaining)
	// Direct assignment with canonical keys: Header.Set would canonicalise
	// (and allocate) the mixed-case names on every request. The five
	// one-value slices share one array, each capped at its value so that
	// an Add to one field cannot overwrite the next.
	vs := [...]string{
		rate,
		remaining,
		strconv.FormatInt(l.cfg.Now().Add(r.ResetAfter).Add(time.Second-1).Unix(), 10),
		`"` + b.Policy + `";q=` + rate + ";w=60",
		`"` + b.Policy + `";r=` + remaining + ";t=" + strconv.FormatInt(reset, 10),
	}
	all := vs[:]
	h[headerLimit] = all[0:1:1]
	h[headerRemaining] = all[1:2:2]
	h[headerReset] = all[2:3:3]
	h[headerPolicy] = all[3:4:4]
	h[headerRateLimit] = all[4:5:5]
	if r.Allowed {
		return nil
	}
	return problem.New(http.StatusTooManyRequests, problem.CodeRateLimited, "Too many requests; retry later.").
		WithHeader("Retry-After", strconv.FormatInt(max(ceilSeconds(r.RetryAfter), 1), 10))
}

// The rate-limit headers in canonical form.
var (
	headerLimit     = http.CanonicalHeaderKey("X-RateLimit-Limit")
	headerRemaining = http.CanonicalHeaderKey("X-RateLimit-Remaining")
	headerReset     = http.CanonicalHeaderKey("X-RateLimit-Reset")
	headerPolicy    = http.CanonicalHeaderKey("RateLimit-Policy")
	headerRateLimit = http.CanonicalHeaderKey("RateLimit")
)

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// Config configures the rate limit middleware.
type Config struct {
	// Limiter decides. Required.
	Limiter *Limiter
	// Policy picks the bucket of authenticated requests. Optional. Default
	// every request is charged to its client IP's anonymous bucket.
	Policy Policy
	// Skipper skips the middleware. Optional. Default never skip.
	Skipper middleware.Skipper
}

// ToMiddleware returns the middleware: it charges each request to the
// Policy's bucket (or the anonymous per-IP bucket), sets the headers, and
// returns 429 rate_limited with Retry-After when the bucket is empty.
func (cfg Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Limiter == nil {
		return nil, errors.New("ratelimit: Limiter is required")
	}
	if cfg.Skipper == nil {
		cfg.Skipper = middleware.DefaultSkipper
	}
	l := cfg.Limiter
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			b, ok := Bucket{}, false
			if cfg.Policy != nil {
				b, ok = cfg.Policy(c)
			}
			if !ok {
				b = l.anonymous(c)
			}
			b = l.sanitize(b)
			if err := l.apply(c, b, l.Allow(c.Request().Context(), b)); err != nil {
				return err
			}
			return next(c)
		}
	}, nil
}
