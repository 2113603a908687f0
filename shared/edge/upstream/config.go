package upstream

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Defaults of upstream calls.
const (
	DefaultTimeout                    = 2 * time.Second
	DefaultBreakerConsecutiveFailures = 5
	DefaultBreakerFailureRatio        = 0.5
	DefaultBreakerMinRequests         = 20
	DefaultBreakerWindow              = 10 * time.Second
	DefaultBreakerOpenTimeout         = 5 * time.Second
	DefaultBreakerHalfOpenRequests    = 1
	DefaultRetryBackoff               = 50 * time.Millisecond
	DefaultRetryBudgetRatio           = 0.1
	DefaultRetryBudgetMinRetries      = 1
	DefaultRetryBudgetWindow          = 10 * time.Second
	DefaultMaxResponseBytes           = 8 << 20
)

// Config configures the client of one domain service. The zero value of
// every optional field means its default.
type Config struct {
	// BaseURL is the service's base URL, e.g. http://127.0.0.1:9000/catalog.
	// Required.
	BaseURL string `yaml:"baseURL"`
	// Timeout bounds one logical call, its retry included; a shorter
	// deadline of the caller's context wins. It is also the bar the breaker
	// judges the service by: a call cut by a shorter caller deadline (a
	// spent route budget) is not counted as the service's failure.
	// Optional. Default 2 s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxResponseBytes caps the body the client reads; a larger answer is a
	// bad response (502). Optional. Default 8 MiB.
	MaxResponseBytes int64 `yaml:"maxResponseBytes"`
	// Breaker configures the service's circuit breaker. Optional. Default
	// the documented thresholds (docs/configuration.md).
	Breaker BreakerConfig `yaml:"breaker"`
	// Retry configures the single retry of idempotent calls. Optional.
	// Default one retry within a 10 % budget.
	Retry RetryConfig `yaml:"retry"`
}

// BreakerConfig configures the gobreaker circuit breaker of one service.
type BreakerConfig struct {
	// ConsecutiveFailures opens the breaker after that many failures in a
	// row. Optional. Default 5.
	ConsecutiveFailures uint32 `yaml:"consecutiveFailures"`
	// FailureRatio opens the breaker when at least that share of the calls
	// in Window failed, once MinRequests calls were made. Optional.
	// Default 0.5.
	FailureRatio float64 `yaml:"failureRatio"`
	// MinRequests is the number of calls in Window before FailureRatio
	// applies. Optional. Default 20.
	MinRequests uint32 `yaml:"minRequests"`
	// Window is the rolling window (ten buckets) over which calls are
	// counted while the breaker is closed. Optional. Default 10 s.
	Window time.Duration `yaml:"window"`
	// OpenTimeout is how long the breaker stays open before it lets a
	// probe through (half-open). Optional. Default 5 s.
	OpenTimeout time.Duration `yaml:"openTimeout"`
	// HalfOpenRequests is the number of probes allowed while half-open;
	// that many successes close the breaker. Optional. Default 1.
	HalfOpenRequests uint32 `yaml:"halfOpenRequests"`
}

// RetryConfig configures retries. A call is retried at most once, only for
// idempotent methods (RFC 9110 §9.2.2), only after a connection error or a
// 502/503 answer, and only while the service's retry budget allows it.
type RetryConfig struct {
	// Disabled turns retries off. Optional. Default false.
	Disabled bool `yaml:"disabled"`
	// Backoff is the mean pause before the retry; the actual pause is
	// drawn uniformly from [Backoff/2, 3*Backoff/2). Optional. Default 50 ms.
	Backoff time.Duration `yaml:"backoff"`
	// BudgetRatio is the share of calls in BudgetWindow that may be
	// retried. Optional. Default 0.1.
	BudgetRatio float64 `yaml:"budgetRatio"`
	// BudgetMinRetries is the number of retries always allowed per
	// BudgetWindow on top of the ratio, so that a lone call at start-up or
	// on a quiet service can be retried: with the ratio alone, fewer than
	// ten calls in the window would never earn a retry. One is the floor:
	// a burst of failing calls
	// gets at most one retry beyond the 10 %, so retries never multiply
	// the load on a failing service. Optional. Default 1.
	BudgetMinRetries int `yaml:"budgetMinRetries"`
	// BudgetWindow is the rolling window of the budget. Optional.
	// Default 10 s.
	BudgetWindow time.Duration `yaml:"budgetWindow"`
}

// WithDefaults returns c with every zero optional field set to its default.
func (c Config) WithDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	b := &c.Breaker
	if b.ConsecutiveFailures == 0 {
		b.ConsecutiveFailures = DefaultBreakerConsecutiveFailures
	}
	if b.FailureRatio == 0 {
		b.FailureRatio = DefaultBreakerFailureRatio
	}
	if b.MinRequests == 0 {
		b.MinRequests = DefaultBreakerMinRequests
	}
	if b.Window == 0 {
		b.Window = DefaultBreakerWindow
	}
	if b.OpenTimeout == 0 {
		b.OpenTimeout = DefaultBreakerOpenTimeout
	}
	if b.HalfOpenRequests == 0 {
		b.HalfOpenRequests = DefaultBreakerHalfOpenRequests
	}
	r := &c.Retry
	if r.Backoff == 0 {
		r.Backoff = DefaultRetryBackoff
	}
	if r.BudgetRatio == 0 {
		r.BudgetRatio = DefaultRetryBudgetRatio
	}
	if r.BudgetMinRetries == 0 {
		r.BudgetMinRetries = DefaultRetryBudgetMinRetries
	}
	if r.BudgetWindow == 0 {
		r.BudgetWindow = DefaultRetryBudgetWindow
	}
	return c
}

// Validate reports every problem of c (after defaults) at once.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("baseURL is required"))
	} else if u, err := url.Parse(c.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("parsing baseURL: %w", err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("baseURL %q must be an absolute http(s) URL", c.BaseURL))
	} else if u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("baseURL %q must not have a query or fragment", c.BaseURL))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s must be positive", c.Timeout))
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, fmt.Errorf("maxResponseBytes %d must be positive", c.MaxResponseBytes))
	}
	b := c.Breaker
	if b.FailureRatio < 0 || b.FailureRatio > 1 {
		errs = append(errs, fmt.Errorf("breaker.failureRatio %g must be in (0, 1]", b.FailureRatio))
	}
	if b.Window < 0 {
		errs = append(errs, fmt.Errorf("breaker.window %s must be positive", b.Window))
	}
	if b.OpenTimeout < 0 {
		errs = append(errs, fmt.Errorf("breaker.openTimeout %s must be positive", b.OpenTimeout))
	}
	r := c.Retry
	if r.Backoff < 0 {
		errs = append(errs, fmt.Errorf("retry.backoff %s must be positive", r.Backoff))
	}
	if r.BudgetRatio < 0 || r.BudgetRatio > 1 {
		errs = append(errs, fmt.Errorf("retry.budgetRatio %g must be in (0, 1]", r.BudgetRatio))
	}
	if r.BudgetMinRetries < 0 {
		errs = append(errs, fmt.Errorf("retry.budgetMinRetries %d must not be negative", r.BudgetMinRetries))
	}
	if r.BudgetWindow < 0 {
		errs = append(errs, fmt.Errorf("retry.budgetWindow %s must be positive", r.BudgetWindow))
	}
	return errors.Join(errs...)
}
