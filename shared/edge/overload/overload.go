// Package overload is the gateways' adaptive concurrency limit: it admits as
// many requests at once as the instance serves without its latency
// climbing, and sheds the rest at once with 503 overloaded and Retry-After,
// before authentication, rate limits or the body cost anything.
//
// The limit is failsafe-go's adaptivelimiter (a Netflix-style gradient
// limiter): it compares the recent p90 latency of admitted requests with a
// moving baseline and lowers the limit when latency grows with
// concurrency, raises it while latency holds. There is no queue: a request
// over the limit waits for nothing, so a shed costs microseconds and the
// client can go to another instance.
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

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/problem"
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

// Defaults of Config. The limit is off unless asked for: on one core at
// twice the saturating load it did not bring the admitted requests' p99
// near the unloaded one (docs/overload.md). The limits are the
// library's, but for a floor of 4 rather than 1, so that one slow request
// never sheds every other.
const (
	DefaultMode         = ModeOff
	DefaultMinLimit     = 4
	DefaultMaxLimit     = 200
	DefaultInitialLimit = 20
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
	return errors.Join(errs...)
}

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
	l := &Limiter{
		// The library's defaults otherwise: the p90 of at least 50 samples
		// per window of 1 to 30 s against a moving baseline, the limit at
		// most 5 times the requests in flight.
		limiter: adaptivelimiter.NewBuilder[any]().WithLimits(c.MinLimit, c.MaxLimit, c.InitialLimit).Build(),
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
// The request's latency is what the limit learns from, unless the client
// left before the answer (a cancelled request says nothing of the
// instance's speed).
func (l *Limiter) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if l.skip != nil && l.skip(c) {
			return next(c)
		}
		permit, ok := l.limiter.TryAcquirePermit()
		if !ok {
			l.shed.Inc()
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
