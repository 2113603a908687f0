package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/overload"
	"github.com/shopfront/shared/edge/routing"
	"github.com/shopfront/shared/edge/server"
	"github.com/shopfront/shared/edge/tracing"
)

// Common is the configuration every gateway shares. A gateway's
// own Config embeds it beside its policy sections:
//
//	type Config struct {
//		config.Common `yaml:",inline"`
//		Mobile Policy `yaml:"mobile"`
//	}
type Common struct {
	// Server holds the listeners, timeouts and limits.
	Server server.Config `yaml:"server"`
	// TrustedProxiesAllowAny lets Server.TrustedProxies hold 0.0.0.0/0 or
	// ::/0, which makes every peer's X-Forwarded-For believed. Optional.
	// Default false: such a list is refused.
	TrustedProxiesAllowAny bool `yaml:"trusted_proxies_allow_any"`
	// Upstreams are the domain services' base URLs and call budgets.
	Upstreams Upstreams `yaml:"upstreams"`
	// JWT is how bearer tokens are verified.
	JWT JWT `yaml:"jwt"`
	// RedisURL, when set, shares rate limits, idempotency records and caches
	// between instances. Optional. Default "" (in-process stores).
	RedisURL string `yaml:"redis_url"`
	// LogLevel is debug, info, warn or error. Optional. Default "info".
	LogLevel string `yaml:"log_level"`
	// Tracing is the OpenTelemetry export.
	Tracing Tracing `yaml:"tracing"`
	// Routing shares domain services' calls between their deployed
	// variants (canary and A/B routing). It is the one section reloaded
	// at run time, on SIGHUP and when the file changes. Optional. Default:
	// each service has one variant at its URL.
	Routing routing.Config `yaml:"routing"`
	// Overload is the adaptive concurrency limit of the public listener
	// (BFF_OVERLOAD picks its mode). Optional. Default overload.Config's.
	Overload overload.Config `yaml:"overload"`
	// File is the BFF_CONFIG file the configuration was read from, which
	// routing reloads re-read. Not a YAML key.
	File string `yaml:"-"`
}

// Upstreams are the base URLs of the twelve domain services, each
// without a trailing slash, and the call budgets.
type Upstreams struct {
	// Catalog to Media are each service's base URL, read from
	// BFF_UPSTREAM_<SERVICE>_URL. Optional. Default
	// http://127.0.0.1:9000/<service>, the fakes of `make run`.
	Catalog         string `yaml:"catalog"`
	Inventory       string `yaml:"inventory"`
	Pricing         string `yaml:"pricing"`
	Reviews         string `yaml:"reviews"`
	Recommendations string `yaml:"recommendations"`
	Users           string `yaml:"users"`
	Orders          string `yaml:"orders"`
	Cart            string `yaml:"cart"`
	Payments        string `yaml:"payments"`
	Notifications   string `yaml:"notifications"`
	Identity        string `yaml:"identity"`
	Media           string `yaml:"media"`

	// Timeout bounds one upstream call. Optional. Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// RouteBudget bounds a whole aggregate route. Optional. Default 2.5s.
	RouteBudget time.Duration `yaml:"route_budget"`
}

// JWT configures bearer-token verification.
type JWT struct {
	// JWKSURL is where the signing keys are. Optional. Default
	// "<identity URL>/.well-known/jwks.json".
	JWKSURL string `yaml:"jwks_url"`
	// JWKSInsecure lets JWKSURL be plain http to a host other than the
	// loopback. Optional. Default false: such a URL is refused.
	JWKSInsecure bool `yaml:"jwks_insecure"`
	// Issuer is the required `iss`. Optional. Default "shopfront-identity".
	Issuer string `yaml:"issuer"`
	// Audience is the required `aud`. Required; each gateway's default is
	// shopfront-<gateway>.
	Audience string `yaml:"audience"`
}

// Tracing configures OpenTelemetry export; traces are exported only when
// Endpoint is set.
type Tracing struct {
	// Endpoint is the OTLP collector (OTEL_EXPORTER_OTLP_ENDPOINT).
	// Optional. Default "" (no export).
	Endpoint string `yaml:"endpoint"`
	// Protocol is "http/protobuf", "http/json" or "grpc"
	// (OTEL_EXPORTER_OTLP_PROTOCOL).
	// Optional. Default "http/protobuf".
	Protocol string `yaml:"protocol"`
	// ServiceName is service.name (OTEL_SERVICE_NAME). Optional. Default
	// the gateway's name.
	ServiceName string `yaml:"service_name"`
	// ResourceAttributes are merged into the resource
	// (OTEL_RESOURCE_ATTRIBUTES, key=value,...). Optional. Default none.
	ResourceAttributes string `yaml:"resource_attributes"`
	// Sampler is OTEL_TRACES_SAMPLER. An incoming traceparent's sampled
	// flag never decides (tracing.NewSampler). Optional. Default
	// parentbased_traceidratio.
	Sampler string `yaml:"sampler"`
	// SamplerArg is OTEL_TRACES_SAMPLER_ARG, the ratio of the traceidratio
	// samplers. Optional. Default 0.1 with the default sampler, else 1.0.
	SamplerArg string `yaml:"sampler_arg"`
}

// Defaults shared by the gateways.
const (
	DefaultUpstreamBase    = "http://127.0.0.1:9000"
	DefaultIssuer          = "shopfront-identity"
	DefaultLogLevel        = "info"
	DefaultUpstreamTimeout = 2 * time.Second
	DefaultRouteBudget     = 2500 * time.Millisecond
	// DefaultCurrency is the ISO 4217 code prices are asked in.
	DefaultCurrency = "USD"
)

// Defaults returns the embedded defaults of a gateway listening on addr and
// adminAddr whose JWTs must carry audience.
func Defaults(addr, adminAddr, audience string) Common {
	c := Common{
		Server:   server.Config{Addr: addr, AdminAddr: adminAddr}.WithDefaults(),
		JWT:      JWT{Issuer: DefaultIssuer, Audience: audience},
		LogLevel: DefaultLogLevel,
		Overload: overload.Config{}.WithDefaults(),
		Tracing: Tracing{Protocol: tracing.ProtocolHTTPProtobuf,
			Sampler: tracing.DefaultSampler, SamplerArg: tracing.DefaultSamplerArg},
		Upstreams: Upstreams{
			Timeout:     DefaultUpstreamTimeout,
			RouteBudget: DefaultRouteBudget,
		},
	}
	for name, u := range c.Upstreams.all() {
		*u = DefaultUpstreamBase + "/" + name
	}
	return c
}

// URL returns the base URL of the domain service named as in
// domain.ServiceNames, or "" for an unknown name.
func (u *Upstreams) URL(service string) string {
	if p := u.all()[service]; p != nil {
		return *p
	}
	return ""
}

func (u *Upstreams) all() map[string]*string {
	return map[string]*string{
		domain.ServiceCatalog: &u.Catalog, domain.ServiceInventory: &u.Inventory,
		domain.ServicePricing: &u.Pricing, domain.ServiceReviews: &u.Reviews,
		domain.ServiceRecommendations: &u.Recommendations, domain.ServiceUsers: &u.Users,
		domain.ServiceOrders: &u.Orders, domain.ServiceCart: &u.Cart,
		domain.ServicePayments: &u.Payments, domain.ServiceNotifications: &u.Notifications,
		domain.ServiceIdentity: &u.Identity, domain.ServiceMedia: &u.Media,
	}
}

// UpstreamVar returns BFF_UPSTREAM_<SERVICE>_URL for a service name.
func UpstreamVar(service string) string {
	b := []byte(service)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return "BFF_UPSTREAM_" + string(b) + "_URL"
}

// The environment variables Common reads.
const (
	VarAddr              = "BFF_ADDR"
	VarAdminAddr         = "BFF_ADMIN_ADDR"
	VarAdminPprof        = "BFF_ADMIN_PPROF"
	VarReadHeaderTimeout = "BFF_READ_HEADER_TIMEOUT"
	VarReadTimeout       = "BFF_READ_TIMEOUT"
	VarWriteTimeout      = "BFF_WRITE_TIMEOUT"
	VarIdleTimeout       = "BFF_IDLE_TIMEOUT"
	VarShutdownTimeout   = "BFF_SHUTDOWN_TIMEOUT"
	VarDrainDelay        = "BFF_DRAIN_DELAY"
	VarTLSCertFile       = "BFF_TLS_CERT_FILE"
	VarTLSKeyFile        = "BFF_TLS_KEY_FILE"
	VarTLSClientCAFile   = "BFF_TLS_CLIENT_CA_FILE"
	VarTrustedProxies    = "BFF_TRUSTED_PROXIES"
	VarTrustedProxiesAny = "BFF_TRUSTED_PROXIES_ALLOW_ANY"
	VarErrorsURL         = "BFF_ERRORS_URL"
	VarUpstreamTimeout   = "BFF_UPSTREAM_TIMEOUT"
	VarRouteBudget       = "BFF_ROUTE_BUDGET"
	VarJWKSURL           = "BFF_JWT_JWKS_URL"
	VarJWKSInsecure      = "BFF_JWT_JWKS_INSECURE"
	VarIssuer            = "BFF_JWT_ISSUER"
	VarAudience          = "BFF_JWT_AUDIENCE"
	VarRedisURL          = "BFF_REDIS_URL"
	VarLogLevel          = "BFF_LOG_LEVEL"
	VarOverload          = "BFF_OVERLOAD"
	VarOTLPEndpoint      = "OTEL_EXPORTER_OTLP_ENDPOINT"
	VarOTLPProtocol      = "OTEL_EXPORTER_OTLP_PROTOCOL"
	VarOTELServiceName   = "OTEL_SERVICE_NAME"
	VarOTELResourceAttrs = "OTEL_RESOURCE_ATTRIBUTES"
	VarOTELSampler       = "OTEL_TRACES_SAMPLER"
	VarOTELSamplerArg    = "OTEL_TRACES_SAMPLER_ARG"
)

// ReadEnv reads the shared variables. BFF_TLS_CLIENT_CA_FILE is partner-only
// and read by bff-partner's config. After reading, an unset JWKS URL is
// derived from the identity URL.
func (c *Common) ReadEnv(env *Env) {
	s := &c.Server
	env.Addr(VarAddr, &s.Addr)
	env.Addr(VarAdminAddr, &s.AdminAddr)
	env.Bool(VarAdminPprof, &s.AdminPprof)
	env.Duration(VarReadHeaderTimeout, &s.ReadHeaderTimeout)
	env.Duration(VarReadTimeout, &s.ReadTimeout)
	env.Duration(VarWriteTimeout, &s.WriteTimeout)
	env.Duration(VarIdleTimeout, &s.IdleTimeout)
	env.Duration(VarShutdownTimeout, &s.ShutdownTimeout)
	env.Duration(VarDrainDelay, &s.DrainDelay)
	env.String(VarTLSCertFile, &s.TLSCertFile)
	env.String(VarTLSKeyFile, &s.TLSKeyFile)
	env.CIDRs(VarTrustedProxies, &s.TrustedProxies)
	env.Bool(VarTrustedProxiesAny, &c.TrustedProxiesAllowAny)
	env.URL(VarErrorsURL, &s.ErrorsURL)

	for _, name := range domain.ServiceNames() {
		env.URL(UpstreamVar(name), c.Upstreams.all()[name])
	}
	env.Duration(VarUpstreamTimeout, &c.Upstreams.Timeout)
	env.Duration(VarRouteBudget, &c.Upstreams.RouteBudget)

	env.URL(VarJWKSURL, &c.JWT.JWKSURL)
	env.Bool(VarJWKSInsecure, &c.JWT.JWKSInsecure)
	env.String(VarIssuer, &c.JWT.Issuer)
	env.String(VarAudience, &c.JWT.Audience)
	env.String(VarRedisURL, &c.RedisURL)
	env.String(FileVar, &c.File)
	env.OneOf(VarLogLevel, &c.LogLevel, "debug", "info", "warn", "error")
	env.OneOf(VarOverload, &c.Overload.Mode, overload.Modes()...)
	env.URL(VarOTLPEndpoint, &c.Tracing.Endpoint)
	env.OneOf(VarOTLPProtocol, &c.Tracing.Protocol, tracing.ProtocolHTTPProtobuf, tracing.ProtocolHTTPJSON, tracing.ProtocolGRPC)
	env.String(VarOTELServiceName, &c.Tracing.ServiceName)
	env.String(VarOTELResourceAttrs, &c.Tracing.ResourceAttributes)
	if _, ok := env.get(VarOTELSampler); ok {
		// A sampler named without an arg gets the specification's 1.0,
		// not the default sampler's ratio.
		c.Tracing.SamplerArg = ""
	}
	env.OneOf(VarOTELSampler, &c.Tracing.Sampler, tracing.Samplers()...)
	env.String(VarOTELSamplerArg, &c.Tracing.SamplerArg)

	if c.JWT.JWKSURL == "" && c.Upstreams.Identity != "" {
		c.JWT.JWKSURL = c.Upstreams.Identity + "/.well-known/jwks.json"
	}
}

// Shared returns c. Through embedding every gateway's Config has it, which
// lets code shared by the gateways (gateway.Main) take any of their configs.
func (c Common) Shared() Common { return c }

// Validate checks the values wherever they came from (defaults, YAML or
// environment) and reports every problem, one line each, naming the
// environment variable an operator would set.
func (c Common) Validate() error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, Errorf(name, format, args...))
	}
	s := c.Server
	for name, addr := range map[string]string{VarAddr: s.Addr, VarAdminAddr: s.AdminAddr} {
		if err := CheckAddr(addr); err != nil {
			fail(name, "%q %v", addr, err)
		}
	}
	for name, d := range map[string]time.Duration{
		VarReadHeaderTimeout: s.ReadHeaderTimeout, VarReadTimeout: s.ReadTimeout,
		VarWriteTimeout: s.WriteTimeout, VarIdleTimeout: s.IdleTimeout,
		VarShutdownTimeout: s.ShutdownTimeout, VarUpstreamTimeout: c.Upstreams.Timeout,
		VarRouteBudget: c.Upstreams.RouteBudget,
	} {
		if d <= 0 {
			fail(name, "must be a positive duration, got %s", d)
		}
	}
	if s.DrainDelay < 0 {
		fail(VarDrainDelay, "must not be negative, got %s", s.DrainDelay)
	}
	if s.MaxHeaderBytes <= 0 {
		fail("server.max_header_bytes", "must be positive, got %d", s.MaxHeaderBytes)
	}
	if s.BodyLimit <= 0 {
		fail("server.body_limit", "must be positive, got %d", s.BodyLimit)
	}
	switch {
	case (s.TLSCertFile == "") != (s.TLSKeyFile == ""):
		if s.TLSCertFile == "" {
			fail(VarTLSCertFile, "must be set together with %s", VarTLSKeyFile)
		} else {
			fail(VarTLSKeyFile, "must be set together with %s", VarTLSCertFile)
		}
	case s.TLS():
		checkReadable(fail, VarTLSCertFile, s.TLSCertFile)
		checkReadable(fail, VarTLSKeyFile, s.TLSKeyFile)
	}
	if s.TLSClientCAFile != "" {
		if !s.TLS() {
			fail(VarTLSClientCAFile, "needs %s and %s (client certificates need TLS)", VarTLSCertFile, VarTLSKeyFile)
		}
		checkReadable(fail, VarTLSClientCAFile, s.TLSClientCAFile)
	}
	if _, err := ParseHTTPURL(s.ErrorsURL); err != nil {
		fail(VarErrorsURL, "%q %v", s.ErrorsURL, err)
	}
	for _, name := range domain.ServiceNames() {
		raw := c.Upstreams.URL(name)
		if _, err := ParseHTTPURL(raw); err != nil {
			fail(UpstreamVar(name), "%q %v", raw, err)
		}
	}
	for _, p := range s.TrustedProxies {
		if p.Bits() == 0 && !c.TrustedProxiesAllowAny {
			// Believing every peer's X-Forwarded-For lets any client name
			// its own address, and so its rate-limit bucket and the
			// address in the logs and the audit.
			fail(VarTrustedProxies, "%s trusts every peer, so any client could choose its own address (and rate-limit bucket) "+
				"with X-Forwarded-For; list the load balancers' addresses, or set %s=true if only trusted proxies can reach the gateway",
				p, VarTrustedProxiesAny)
		}
	}
	if _, err := ParseHTTPURL(c.JWT.JWKSURL); err != nil {
		fail(VarJWKSURL, "%q %v", c.JWT.JWKSURL, err)
	} else if u, _ := url.Parse(c.JWT.JWKSURL); u.Scheme == "http" && !loopbackHost(u.Hostname()) && !c.JWT.JWKSInsecure {
		// The key set decides which tokens are genuine: whoever can alter
		// it on the way can sign any token they like.
		fail(VarJWKSURL, "%q is plain http to a host other than the loopback: anyone on the network path could swap the "+
			"signing keys and mint accepted tokens; use https, or set %s=true if the path is trusted (a service mesh with mTLS)",
			c.JWT.JWKSURL, VarJWKSInsecure)
	}
	if c.JWT.Issuer == "" {
		fail(VarIssuer, "must not be empty")
	}
	if c.JWT.Audience == "" {
		fail(VarAudience, "must not be empty")
	}
	if c.RedisURL != "" {
		if err := ParseRedisURL(c.RedisURL); err != nil {
			// The URL may hold a password, so it is not echoed.
			fail(VarRedisURL, "%v", err)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		fail(VarLogLevel, "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.Tracing.Endpoint != "" {
		if _, err := ParseHTTPURL(c.Tracing.Endpoint); err != nil {
			fail(VarOTLPEndpoint, "%q %v", c.Tracing.Endpoint, err)
		}
	}
	if _, err := tracing.NewSampler(c.Tracing.Sampler, c.Tracing.SamplerArg); err != nil {
		errs = append(errs, err)
	}
	if _, err := tracing.ParseResourceAttributes(c.Tracing.ResourceAttributes); err != nil {
		errs = append(errs, err)
	}
	switch c.Tracing.Protocol {
	case tracing.ProtocolHTTPProtobuf, tracing.ProtocolHTTPJSON, tracing.ProtocolGRPC:
	default:
		fail(VarOTLPProtocol, "%q is not one of %s, %s, %s", c.Tracing.Protocol, tracing.ProtocolHTTPProtobuf, tracing.ProtocolHTTPJSON, tracing.ProtocolGRPC)
	}
	if err := c.Overload.Validate(); err != nil {
		// Each line names its key (overload.min_limit); a bad BFF_OVERLOAD
		// was already reported by ReadEnv, so what is left came from the file.
		errs = append(errs, Errorf(FileVar, "%s", strings.ReplaceAll(err.Error(), "\n", "\n"+FileVar+": ")))
	}
	if err := c.Routing.Validate(); err != nil {
		// Each line already names its key (routing.catalog.variants[1].weight).
		errs = append(errs, Errorf(FileVar, "%s", strings.ReplaceAll(err.Error(), "\n", "\n"+FileVar+": ")))
	}
	// Map iteration above is random; sorted lines keep the report stable.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// loopbackHost reports whether host names this machine: localhost or a
// loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func checkReadable(fail func(string, string, ...any), name, path string) {
	f, err := os.Open(path)
	if err != nil {
		fail(name, "reading %s: %v", path, unwrapPath(err))
		return
	}
	_ = f.Close()
}

// unwrapPath drops the path os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var _ Loadable = (*Common)(nil)

// String summarises c for a start-up log line. RedisURL may carry a
// password, so only its presence and scheme (the topology) are shown.
func (c Common) String() string {
	redis := ""
	if c.RedisURL != "" {
		redis = "redis://***"
		for _, scheme := range []string{"rediss", "redis-sentinel", "rediss-sentinel", "redis-cluster", "rediss-cluster"} {
			if strings.HasPrefix(c.RedisURL, scheme+"://") {
				redis = scheme + "://***"
			}
		}
	}
	return fmt.Sprintf("addr=%s admin=%s tls=%t redis=%s jwks=%s", c.Server.Addr, c.Server.AdminAddr,
		c.Server.TLS(), redis, c.JWT.JWKSURL)
}
