package server

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/shopfront/shared/edge/problem"
)

// Config is the listener configuration of a gateway. The zero value of every
// field means its default; New fills them with WithDefaults.
type Config struct {
	// Addr is the public listener, host:port. Optional. Default ":8080";
	// each gateway passes its own.
	Addr string `yaml:"addr"`
	// AdminAddr serves /healthz, /readyz and /metrics over plain HTTP, even
	// when the public listener uses TLS. Optional. Default "127.0.0.1:18080".
	AdminAddr string `yaml:"admin_addr"`
	// AdminPprof serves net/http/pprof under /debug/pprof/ on the admin
	// listener (BFF_ADMIN_PPROF): profiles expose memory contents and cost
	// CPU, so they are off unless asked for, and never on the public
	// listener. Optional. Default false.
	AdminPprof bool `yaml:"admin_pprof"`

	// ReadHeaderTimeout cuts off clients that trickle their headers
	// (slowloris). Optional. Default 5s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included. Optional.
	// Default 30s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing a response. Optional. Default 30s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout is how long a keep-alive connection waits for its next
	// request. Optional. Default 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// shutdown starts. Optional. Default 25s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// DrainDelay keeps the public listener accepting for this long after
	// /readyz turned 503, so that load balancers stop routing here before
	// connections are refused. Optional. Default 0 (stop at once).
	DrainDelay time.Duration `yaml:"drain_delay"`

	// MaxHeaderBytes caps the request line plus headers; larger requests get
	// a problem+json 431 from the edge chain up to
	// HardMaxHeaderBytes, beyond which net/http answers a plain 431 itself.
	// Optional. Default 16384 (16 KiB).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// BodyLimit caps request bodies in bytes; larger ones get 413.
	// Optional. Default 1048576 (1 MiB).
	BodyLimit int64 `yaml:"body_limit"`

	// TLSCertFile and TLSKeyFile, both set, make the public listener serve
	// HTTPS (TLS >= 1.2, HTTP/2). Optional. Default plain HTTP.
	TLSCertFile string `yaml:"tls_cert_file"`
	// TLSKeyFile is the private key of TLSCertFile. Optional.
	TLSKeyFile string `yaml:"tls_key_file"`
	// TLSClientCAFile, with TLS, requires client certificates signed by this
	// CA (mTLS, bff-partner). Optional. Default no client certificates.
	TLSClientCAFile string `yaml:"tls_client_ca_file"`

	// ErrorsURL is the error catalogue every problem+json `type` points
	// into: ErrorsURL#<error code>. Point it at a copy of docs/errors.md
	// the gateway's clients can reach. Optional. Default
	// problem.DefaultTypeBase, the catalogue in the Shopfront repository.
	ErrorsURL string `yaml:"errors_url"`

	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// working out the client IP. Optional. Default none: the client IP is the
	// direct peer.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
}

// Defaults of Config.
const (
	DefaultAddr              = ":8080"
	DefaultAdminAddr         = "127.0.0.1:18080"
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 25 * time.Second
	DefaultMaxHeaderBytes    = 16 << 10
	DefaultBodyLimit         = 1 << 20
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.AdminAddr == "" {
		c.AdminAddr = DefaultAdminAddr
	}
	set(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&c.ReadTimeout, DefaultReadTimeout)
	set(&c.WriteTimeout, DefaultWriteTimeout)
	set(&c.IdleTimeout, DefaultIdleTimeout)
	set(&c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.BodyLimit == 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.ErrorsURL == "" {
		c.ErrorsURL = problem.DefaultTypeBase
	}
	return c
}

// TLS reports whether the public listener serves HTTPS.
func (c Config) TLS() bool { return c.TLSCertFile != "" && c.TLSKeyFile != "" }

// Validate reports every problem of c (after WithDefaults), one line each,
// naming the field. config.Common.Validate checks the same values naming
// their environment variables; this guards callers that build a Config in
// code.
func (c Config) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": c.ReadHeaderTimeout, "ReadTimeout": c.ReadTimeout, "WriteTimeout": c.WriteTimeout,
		"IdleTimeout": c.IdleTimeout, "ShutdownTimeout": c.ShutdownTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("server: %s must be positive, got %s", name, d))
		}
	}
	if c.DrainDelay < 0 {
		errs = append(errs, fmt.Errorf("server: DrainDelay must not be negative, got %s", c.DrainDelay))
	}
	if c.MaxHeaderBytes <= 0 || c.BodyLimit <= 0 {
		errs = append(errs, errors.New("server: MaxHeaderBytes and BodyLimit must be positive"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("server: TLSCertFile and TLSKeyFile must be set together"))
	}
	if c.TLSClientCAFile != "" && !c.TLS() {
		errs = append(errs, errors.New("server: TLSClientCAFile needs TLSCertFile and TLSKeyFile"))
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}
