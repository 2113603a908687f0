// Package overload is the gateways' adaptive concurrency limit: it admits as
// many requests at once as the instance serves without its latency
// climbing, and sheds the rest at once with 503 overloaded and Retry-After,
// before authentication, rate limits or the body cost anything.
//
// The limit is failsafe-go's adaptivelimiter (a Netflix-style gradient
// limiter): it compares the recent p90 latency of admitted requests with a
// moving baseline and lowers the limit when latency grows with
// concurrency, raises it while latency holds. By default there is no
// queue: a request over the limit waits for nothing and the client can go
// to another instance (Config.MaxWait allows a short wait). The limit's
// own cost is about a microsecond. It runs right after routing, ahead of
// the request id, tracing, metrics and access log, so a shed costs the
// instance little more than net/http's reading of the request and writing
// of the answer: about a quarter of a served request on the pass-through
// route, which is what bounds how much an overloaded instance can still
// serve (docs/overload.md).
//
// Long-lived requests (event streams, upload chunks with their own slot
// limit) must be skipped (Config.Skipper): they would hold a slot for
// minutes and teach the limiter that requests take minutes.
package overload

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
)

// The modes of Config.Mode, as BFF_OVERLOAD spells them.
const (
	// ModeAdaptive limits concurrency adaptively.
	ModeAdaptive = "adaptive"
	// ModeOff admits every request.
	ModeOff = "off"
)

// Modes returns the accepted values of Config.Mode.
func Modes() []string { return []string{ModeAdaptive, ModeOff} }

// Defaults of Config. The limit is off unless asked for: at twice the
// saturating arrival rate on one core it kept the instance from timing
// requests out but served fewer of them than no limit, with an admitted
// p99 far above the unloaded one, and it sheds at the pass-through
// benchmark's saturating closed-loop load (docs/overload.md). The limits
// are the library's but for a floor of 4 rather than 1, so that one slow
// request never sheds every other. The window is a tenth of the
// library's, so that the limit moves up to ten steps a second and follows
// an overload that builds in under one, and the baseline is ten times as
// many windows, so that it still remembers about ten seconds; the
// factor of 2 keeps the limit near what is in flight rather than five
// times it, so that a sudden overload meets a limit close to the
// instance's concurrency. With these, the admitted requests' p50 under
// overload stayed near the unloaded one in most runs, against ten times
// it with the library's settings (docs/overload.md). The floor stays at
// 4 although 2 did as well: with a factor of 2 a lightly loaded
// instance's limit is about the floor, and a lower one sheds its bursts.
const (
	DefaultMode         = ModeOff
	DefaultMinLimit     = 4
	DefaultMaxLimit     = 200
	DefaultInitialLimit = 20

	DefaultMaxLimitFactor  = 2.0
	DefaultWindow          = 100 * time.Millisecond
	DefaultWindowSamples   = 20
	DefaultQuantile        = 0.9
	DefaultBaselineWindows = 100
)

// retryAfter is the Retry-After of a shed, in seconds: an overload the
// limiter reacts to within a second or so.
const retryAfter = "1"

// Config configures the concurrency limit. The zero value is the default
// adaptive limit; its fields are the `overload:` section of BFF_CONFIG.
type Config struct {
	// Mode is ModeAdaptive or ModeOff. Optional. Default DefaultMode.
	Mode string `yaml:"mode"`
	// MinLimit is the floor of the limit: however slow requests get, this
	// many are always admitted at once. Optional. Default DefaultMinLimit.
	MinLimit uint `yaml:"min_limit"`
	// MaxLimit is the ceiling of the limit. Optional. Default
	// DefaultMaxLimit.
	MaxLimit uint `yaml:"max_limit"`
	// InitialLimit is the limit at start, before any latency was seen.
	// Optional. Default DefaultInitialLimit, raised to MinLimit or lowered
	// to MaxLimit when outside them.
	InitialLimit uint `yaml:"initial_limit"`
	// MaxLimitFactor caps the limit at this many times the most requests
	// seen in flight in the last window: headroom for bursts, and how far
	// the limit can sit above what the instance actually serves at once.
	// Optional. Default DefaultMaxLimitFactor. At least 1.
	MaxLimitFactor float64 `yaml:"max_limit_factor"`
	// Window is the shortest window of admitted requests' latencies the
	// limit is moved on (at most one step a window). Optional. Default
	// DefaultWindow. From 10ms to 30s.
	Window time.Duration `yaml:"window"`
	// WindowSamples is the fewest latencies a window needs before the
	// limit moves. Optional. Default DefaultWindowSamples.
	WindowSamples uint `yaml:"window_samples"`
	// Quantile is the latency quantile of a window compared with the
	// baseline. Optional. Default DefaultQuantile. Between 0 and 1.
	Quantile float64 `yaml:"quantile"`
	// BaselineWindows is the age, in windows, of the moving average the
	// recent latency is compared with: the longer, the longer a sustained
	// overload stays measured against the latency from before it.
	// Optional. Default DefaultBaselineWindows.
	BaselineWindows uint `yaml:"baseline_windows"`
	// MaxWait, when set, lets a request over the limit wait this long for
	// a slot (in a queue of at most the limit) before it is shed: a short
	// burst is served late rather than refused. Optional. Default 0: no
	// wait, every request over the limit is shed at once. At most 1s.
	MaxWait time.Duration `yaml:"max_wait"`

	// Skipper selects requests that neither take a slot nor are shed: the
	// long-lived ones. Not a YAML key. Optional. Default none skipped.
	Skipper middleware.Skipper `yaml:"-"`
	// Registry receives the limit, in-flight and shed metrics. Not a YAML
	// key. Optional. Default none: not exported.
	Registry prometheus.Registerer `yaml:"-"`
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Mode == "" {
		c.Mode = DefaultMode
	}
	if c.MinLimit == 0 {
		c.MinLimit = DefaultMinLimit
	}
	if c.MaxLimit == 0 {
		c.MaxLimit = DefaultMaxLimit
	}
	if c.InitialLimit == 0 {
		c.InitialLimit = max(c.MinLimit, min(DefaultInitialLimit, c.MaxLimit))
	}
	if c.MaxLimitFactor == 0 {
		c.MaxLimitFactor = DefaultMaxLimitFactor
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.WindowSamples == 0 {
		c.WindowSamples = DefaultWindowSamples
	}
	if c.Quantile == 0 {
		c.Quantile = DefaultQuantile
	}
	if c.BaselineWindows == 0 {
		c.BaselineWindows = DefaultBaselineWindows
	}
	return c
}

// Validate reports every problem of c once its defaults are filled in,
// each naming its YAML key.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	switch c.Mode {
	case ModeAdaptive, ModeOff:
	default:
		errs = append(errs, fmt.Errorf("overload.mode: %q is not one of %s, %s", c.Mode, ModeAdaptive, ModeOff))
	}
	if c.MinLimit > c.MaxLimit {
		errs = append(errs, fmt.Errorf("overload.min_limit: %d is above overload.max_limit %d", c.MinLimit, c.MaxLimit))
	} else if c.InitialLimit < c.MinLimit || c.InitialLimit > c.MaxLimit {
		errs = append(errs, fmt.Errorf("overload.initial_limit: %d is not between overload.min_limit %d and overload.max_limit %d",
			c.InitialLimit, c.MinLimit, c.MaxLimit))
	}
	if c.MaxLimitFactor < 1 {
		errs = append(errs, fmt.Errorf("overload.max_limit_factor: %g is below 1", c.MaxLimitFactor))
	}
	if c.Window < 10*time.Millisecond || c.Window > maxWindow {
		errs = append(errs, fmt.Errorf("overload.window: %s is not between 10ms and %s", c.Window, maxWindow))
	}
	if c.Quantile <= 0 || c.Quantile >= 1 {
		errs = append(errs, fmt.Errorf("overload.quantile: %g is not between 0 and 1", c.Quantile))
	}
	if c.MaxWait < 0 || c.MaxWait > time.Second {
		errs = append(errs, fmt.Errorf("overload.max_wait: %s is not between 0 and 1s", c.MaxWait))
	}
	return errors.Join(errs...)
}

// maxWindow is the library's longest window: a window closes after it
// whatever the samples.
const maxWindow = 30 * time.Second

// ToMiddleware builds the limit. With ModeOff it returns nil and no error:
// there is no layer to install.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	l, err := New(c)
	if err != nil || l == nil {
		return nil, err
	}
	return l.Middleware, nil
}

// Limiter is a built concurrency limit.
type Limiter struct {
	limiter adaptivelimiter.AdaptiveLimiter[any]
	maxWait time.Duration
	skip    middleware.Skipper
	shed    prometheus.Counter
}

// New builds the limit of c and registers its metrics; with ModeOff it
// returns nil and no error.
func New(c Config) (*Limiter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.WithDefaults()
	if c.Mode == ModeOff {
		return nil, nil
	}
	b := adaptivelimiter.NewBuilder[any]().
		WithLimits(c.MinLimit, c.MaxLimit, c.InitialLimit).
		WithMaxLimitFactor(c.MaxLimitFactor).
		WithRecentWindow(c.Window, maxWindow, c.WindowSamples).
		WithRecentQuantile(c.Quantile).
		WithBaselineWindow(c.BaselineWindows)
	if c.MaxWait > 0 {
		// Wait for a slot while fewer than the limit wait; beyond that
		// the library refuses as without a queue.
		b = b.WithQueueing(1, 1).WithMaxWaitTime(c.MaxWait)
	}
	l := &Limiter{
		limiter: b.Build(),
		maxWait: c.MaxWait,
		skip:    c.Skipper,
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "overload", Name: "shed_total",
			Help: "Requests refused with 503 overloaded because the concurrency limit was reached.",
		}),
	}
	if c.Registry != nil {
		for _, col := range []prometheus.Collector{
			l.shed,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: metrics.Namespace, Subsystem: "overload", Name: "limit",
				Help: "Current adaptive limit of requests served at once.",
			}, func() float64 { return float64(l.limiter.Limit()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: metrics.Namespace, Subsystem: "overload", Name: "in_flight",
				Help: "Requests holding a slot of the concurrency limit.",
			}, func() float64 { return float64(l.limiter.Inflight()) }),
		} {
			if err := c.Registry.Register(col); err != nil {
				return nil, fmt.Errorf("registering overload metrics: %w", err)
			}
		}
	}
	return l, nil
}

// Limit returns the current limit.
func (l *Limiter) Limit() int { return l.limiter.Limit() }

// InFlight returns the requests holding a slot.
func (l *Limiter) InFlight() int { return l.limiter.Inflight() }

// Middleware admits a request when a slot is free and sheds it otherwise.
// It belongs first after routing (server.Chain's Admission slot), ahead of
// the request id, tracing, metrics and access log: a shed then costs about
// what net/http's own reading and writing cost, and is counted by the
// shed metric rather than logged one by one.
// The request's latency is what the limit learns from, unless the client
// left before the answer (a cancelled request says nothing of the
// instance's speed).
func (l *Limiter) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if l.skip != nil && l.skip(c) {
			return next(c)
		}
		permit, ok := l.acquire(c.Request().Context())
		if !ok {
			l.shed.Inc()
			// The limit runs ahead of the request id layer, so that a shed
			// costs nothing more: its answer still carries the client's id
			// when valid, a new one otherwise, which the error handler
			// renders as the problem's requestId.
			c.Response().Header().Set(echo.HeaderXRequestID, requestid.KeepOrNew(c.Request().Header.Get(echo.HeaderXRequestID)))
			return problem.New(http.StatusServiceUnavailable, problem.CodeOverloaded,
				"The gateway is at its limit of concurrent requests; retry shortly.").
				WithHeader(echo.HeaderRetryAfter, retryAfter)
		}
		ctx := c.Request().Context()
		defer func() {
			if errors.Is(ctx.Err(), context.Canceled) {
				permit.Drop()
				return
			}
			permit.Record()
		}()
		return next(c)
	}
}

// acquire takes a slot: at once, or, with a wait configured, within it.
func (l *Limiter) acquire(ctx context.Context) (adaptivelimiter.Permit, bool) {
	if l.maxWait == 0 {
		return l.limiter.TryAcquirePermit()
	}
	p, err := l.limiter.AcquirePermitWithMaxWait(ctx, l.maxWait)
	return p, err == nil
}
