package config_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/overload"
)

func mobileDefaults() config.Common {
	return config.Defaults(":8081", "127.0.0.1:18081", "shopfront-mobile")
}

func load(env map[string]string) (config.Common, error) {
	c := mobileDefaults()
	err := config.Load(config.MapLookup(env), &c)
	return c, err
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(nil)
	require.NoError(t, err)
	assert.Equal(t, ":8081", c.Server.Addr)
	assert.Equal(t, "127.0.0.1:18081", c.Server.AdminAddr)
	assert.Equal(t, 25*time.Second, c.Server.ShutdownTimeout)
	assert.Equal(t, 16<<10, c.Server.MaxHeaderBytes)
	assert.Equal(t, "http://127.0.0.1:9000/catalog", c.Upstreams.Catalog)
	assert.Equal(t, "http://127.0.0.1:9000/notifications", c.Upstreams.Notifications)
	assert.Equal(t, "http://127.0.0.1:9000/recommendations", c.Upstreams.URL("recommendations"))
	assert.Equal(t, "http://127.0.0.1:9000/identity/.well-known/jwks.json", c.JWT.JWKSURL)
	assert.Equal(t, "shopfront-identity", c.JWT.Issuer)
	assert.Equal(t, "shopfront-mobile", c.JWT.Audience)
	assert.Equal(t, 2*time.Second, c.Upstreams.Timeout)
	assert.Equal(t, 2500*time.Millisecond, c.Upstreams.RouteBudget)
	assert.Equal(t, "info", c.LogLevel)
	assert.Empty(t, c.RedisURL)
	assert.Empty(t, c.Tracing.Endpoint)
	assert.Equal(t, "http/protobuf", c.Tracing.Protocol)
	assert.Empty(t, c.Server.TrustedProxies)
	assert.Equal(t, "https://github.com/shopfront/shopfront/blob/main/docs/errors.md", c.Server.ErrorsURL)
}

func TestEnv(t *testing.T) {
	t.Parallel()
	cert := edgetest.TempFile(t, "cert.pem", "x")
	key := edgetest.TempFile(t, "key.pem", "x")
	tests := []struct {
		name   string
		env    map[string]string
		expect func(t *testing.T, c config.Common)
	}{
		{name: "ok, addresses", env: map[string]string{"BFF_ADDR": "0.0.0.0:9443", "BFF_ADMIN_ADDR": "localhost:0"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, "0.0.0.0:9443", c.Server.Addr)
				assert.Equal(t, "localhost:0", c.Server.AdminAddr)
			}},
		{name: "ok, upstream URL loses its trailing slash", env: map[string]string{"BFF_UPSTREAM_CATALOG_URL": "https://catalog.internal:8443/v1/"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, "https://catalog.internal:8443/v1", c.Upstreams.Catalog)
				assert.Equal(t, "http://127.0.0.1:9000/pricing", c.Upstreams.Pricing, "others keep their defaults")
			}},
		{name: "ok, JWKS follows the identity URL", env: map[string]string{"BFF_UPSTREAM_IDENTITY_URL": "https://id.internal"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, "https://id.internal/.well-known/jwks.json", c.JWT.JWKSURL)
			}},
		{name: "ok, plain http JWKS on a trusted network when forced", env: map[string]string{"BFF_UPSTREAM_IDENTITY_URL": "http://id.internal", "BFF_JWT_JWKS_INSECURE": "true"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, "http://id.internal/.well-known/jwks.json", c.JWT.JWKSURL)
				assert.True(t, c.JWT.JWKSInsecure)
			}},
		{name: "ok, plain http JWKS on the loopback", env: map[string]string{"BFF_JWT_JWKS_URL": "http://localhost:9000/jwks"},
			expect: func(t *testing.T, c config.Common) { assert.Equal(t, "http://localhost:9000/jwks", c.JWT.JWKSURL) }},
		{name: "ok, plain http JWKS on the IPv6 loopback", env: map[string]string{"BFF_JWT_JWKS_URL": "http://[::1]:9000/jwks"},
			expect: func(t *testing.T, c config.Common) { assert.Equal(t, "http://[::1]:9000/jwks", c.JWT.JWKSURL) }},
		{name: "ok, every peer trusted when forced", env: map[string]string{"BFF_TRUSTED_PROXIES": "0.0.0.0/0,::/0", "BFF_TRUSTED_PROXIES_ALLOW_ANY": "true"},
			expect: func(t *testing.T, c config.Common) {
				assert.Len(t, c.Server.TrustedProxies, 2)
				assert.True(t, c.TrustedProxiesAllowAny)
			}},
		{name: "ok, explicit JWKS wins", env: map[string]string{"BFF_UPSTREAM_IDENTITY_URL": "http://id.internal", "BFF_JWT_JWKS_URL": "https://keys.example/jwks"},
			expect: func(t *testing.T, c config.Common) { assert.Equal(t, "https://keys.example/jwks", c.JWT.JWKSURL) }},
		{name: "ok, issuer, audience, log level, redis", env: map[string]string{"BFF_JWT_ISSUER": "iss", "BFF_JWT_AUDIENCE": "aud",
			"BFF_LOG_LEVEL": "DEBUG", "BFF_REDIS_URL": "redis://:pw@127.0.0.1:6379/2"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, "iss", c.JWT.Issuer)
				assert.Equal(t, "aud", c.JWT.Audience)
				assert.Equal(t, "debug", c.LogLevel)
				assert.Equal(t, "redis://:pw@127.0.0.1:6379/2", c.RedisURL)
			}},
		{name: "ok, trusted proxies with a bare IP", env: map[string]string{"BFF_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7 ,2001:db8::/32"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
					netip.MustParsePrefix("2001:db8::/32")}, c.Server.TrustedProxies)
			}},
		{name: "ok, the error catalogue of this deployment", env: map[string]string{"BFF_ERRORS_URL": "https://developers.shop.example.com/errors/"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, "https://developers.shop.example.com/errors", c.Server.ErrorsURL)
			}},
		{name: "ok, TLS with both files", env: map[string]string{"BFF_TLS_CERT_FILE": cert, "BFF_TLS_KEY_FILE": key},
			expect: func(t *testing.T, c config.Common) { assert.True(t, c.Server.TLS()) }},
		{name: "ok, tracing over gRPC", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, "http://otel:4317", c.Tracing.Endpoint)
				assert.Equal(t, "grpc", c.Tracing.Protocol)
			}},
		{name: "ok, timeouts", env: map[string]string{"BFF_SHUTDOWN_TIMEOUT": "5s", "BFF_UPSTREAM_TIMEOUT": "750ms", "BFF_ROUTE_BUDGET": "1s"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, 5*time.Second, c.Server.ShutdownTimeout)
				assert.Equal(t, 750*time.Millisecond, c.Upstreams.Timeout)
				assert.Equal(t, time.Second, c.Upstreams.RouteBudget)
			}},
		{name: "ok, empty values keep defaults", env: map[string]string{"BFF_ADDR": "", "BFF_LOG_LEVEL": "  "},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, ":8081", c.Server.Addr)
				assert.Equal(t, "info", c.LogLevel)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := load(tt.env)
			require.NoError(t, err)
			tt.expect(t, c)
		})
	}
}

func TestEnvErrors(t *testing.T) {
	t.Parallel()
	cert := edgetest.TempFile(t, "cert.pem", "x")
	tests := []struct {
		name  string
		env   map[string]string
		lines []string
	}{
		{name: "nok, BFF_ADDR nonsense", env: map[string]string{"BFF_ADDR": "nonsense"},
			lines: []string{`BFF_ADDR: "nonsense" is not a host:port address`}},
		{name: "nok, port out of range", env: map[string]string{"BFF_ADMIN_ADDR": "127.0.0.1:70000"},
			lines: []string{`BFF_ADMIN_ADDR: "127.0.0.1:70000" has a port outside 0-65535`}},
		{name: "nok, malformed upstream URL", env: map[string]string{"BFF_UPSTREAM_CATALOG_URL": "::bad"},
			lines: []string{`BFF_UPSTREAM_CATALOG_URL: "::bad" is not an absolute http(s) URL`}},
		{name: "nok, relative upstream URL", env: map[string]string{"BFF_UPSTREAM_USERS_URL": "/users"},
			lines: []string{`BFF_UPSTREAM_USERS_URL: "/users" is not an absolute http(s) URL`}},
		{name: "nok, upstream URL with a query", env: map[string]string{"BFF_UPSTREAM_CART_URL": "http://cart?x=1"},
			lines: []string{`BFF_UPSTREAM_CART_URL: "http://cart?x=1" must not have a query or fragment`}},
		{name: "nok, ftp upstream", env: map[string]string{"BFF_UPSTREAM_ORDERS_URL": "ftp://orders"},
			lines: []string{`BFF_UPSTREAM_ORDERS_URL: "ftp://orders" is not an absolute http(s) URL`}},
		{name: "nok, redis URL with another scheme, password not echoed", env: map[string]string{"BFF_REDIS_URL": "http://:hunter2@redis:6379"},
			lines: []string{`BFF_REDIS_URL: is not a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL`}},
		{name: "nok, sentinel URL without a master, password not echoed", env: map[string]string{"BFF_REDIS_URL": "redis-sentinel://:hunter2@s1:26379?addr=s2:26379"},
			lines: []string{`BFF_REDIS_URL: names no master: add ?master_name=<the name the sentinels monitor>`}},
		{name: "nok, errors URL with a fragment", env: map[string]string{"BFF_ERRORS_URL": "https://docs.example.com/errors.md#top"},
			lines: []string{`BFF_ERRORS_URL: "https://docs.example.com/errors.md#top" must not have a query or fragment`}},
		{name: "nok, bad CIDR", env: map[string]string{"BFF_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.0/33,nope"},
			lines: []string{`BFF_TRUSTED_PROXIES: "10.0.0.0/33", "nope" are not a CIDR (e.g. 10.0.0.0/8)`}},
		{name: "nok, every IPv4 peer trusted", env: map[string]string{"BFF_TRUSTED_PROXIES": "10.0.0.0/8,0.0.0.0/0"},
			lines: []string{`BFF_TRUSTED_PROXIES: 0.0.0.0/0 trusts every peer, so any client could choose its own address (and rate-limit bucket) ` +
				`with X-Forwarded-For; list the load balancers' addresses, or set BFF_TRUSTED_PROXIES_ALLOW_ANY=true if only trusted proxies can reach the gateway`}},
		{name: "nok, every IPv6 peer trusted", env: map[string]string{"BFF_TRUSTED_PROXIES": "::/0", "BFF_TRUSTED_PROXIES_ALLOW_ANY": "false"},
			lines: []string{`BFF_TRUSTED_PROXIES: ::/0 trusts every peer, so any client could choose its own address (and rate-limit bucket) ` +
				`with X-Forwarded-For; list the load balancers' addresses, or set BFF_TRUSTED_PROXIES_ALLOW_ANY=true if only trusted proxies can reach the gateway`}},
		{name: "nok, plain http JWKS to another host", env: map[string]string{"BFF_JWT_JWKS_URL": "http://identity.internal/jwks"},
			lines: []string{`BFF_JWT_JWKS_URL: "http://identity.internal/jwks" is plain http to a host other than the loopback: anyone on the network path ` +
				`could swap the signing keys and mint accepted tokens; use https, or set BFF_JWT_JWKS_INSECURE=true if the path is trusted (a service mesh with mTLS)`}},
		{name: "nok, plain http JWKS derived from the identity URL", env: map[string]string{"BFF_UPSTREAM_IDENTITY_URL": "http://10.0.0.7"},
			lines: []string{`BFF_JWT_JWKS_URL: "http://10.0.0.7/.well-known/jwks.json" is plain http to a host other than the loopback: anyone on the network path ` +
				`could swap the signing keys and mint accepted tokens; use https, or set BFF_JWT_JWKS_INSECURE=true if the path is trusted (a service mesh with mTLS)`}},
		{name: "nok, a host named like the loopback is not the loopback", env: map[string]string{"BFF_JWT_JWKS_URL": "http://localhost.evil.example/jwks"},
			lines: []string{`BFF_JWT_JWKS_URL: "http://localhost.evil.example/jwks" is plain http to a host other than the loopback: anyone on the network path ` +
				`could swap the signing keys and mint accepted tokens; use https, or set BFF_JWT_JWKS_INSECURE=true if the path is trusted (a service mesh with mTLS)`}},
		{name: "nok, log level", env: map[string]string{"BFF_LOG_LEVEL": "verbose"},
			lines: []string{`BFF_LOG_LEVEL: "verbose" is not one of debug, info, warn, error`}},
		{name: "nok, duration", env: map[string]string{"BFF_UPSTREAM_TIMEOUT": "2"},
			lines: []string{`BFF_UPSTREAM_TIMEOUT: "2" is not a duration such as 500ms or 2s`}},
		{name: "nok, TLS cert without key", env: map[string]string{"BFF_TLS_CERT_FILE": cert},
			lines: []string{`BFF_TLS_KEY_FILE: must be set together with BFF_TLS_CERT_FILE`}},
		{name: "nok, unreadable TLS file", env: map[string]string{"BFF_TLS_CERT_FILE": cert, "BFF_TLS_KEY_FILE": "/nonexistent/key.pem"},
			lines: []string{`BFF_TLS_KEY_FILE: reading /nonexistent/key.pem: no such file or directory`}},
		{name: "nok, OTLP protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"},
			lines: []string{`OTEL_EXPORTER_OTLP_PROTOCOL: "thrift" is not one of http/protobuf, http/json, grpc`}},
		{name: "nok, several problems give one line each", env: map[string]string{"BFF_ADDR": "nonsense", "BFF_UPSTREAM_CATALOG_URL": "::bad", "BFF_LOG_LEVEL": "loud"},
			lines: []string{
				`BFF_ADDR: "nonsense" is not a host:port address`,
				`BFF_UPSTREAM_CATALOG_URL: "::bad" is not an absolute http(s) URL`,
				`BFF_LOG_LEVEL: "loud" is not one of debug, info, warn, error`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(tt.env)
			require.Error(t, err)
			assert.Equal(t, tt.lines, strings.Split(err.Error(), "\n"))
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestYAML(t *testing.T) {
	t.Parallel()
	good := edgetest.TempFile(t, "bff.yaml", `
server:
  addr: ":9999"
  idle_timeout: 90s
  trusted_proxies: [10.0.0.0/8]
upstreams:
  catalog: http://catalog.yaml
  timeout: 1500ms
log_level: warn
`)
	tests := []struct {
		name   string
		env    map[string]string
		err    string
		expect func(t *testing.T, c config.Common)
	}{
		{name: "ok, file layers over defaults", env: map[string]string{"BFF_CONFIG": good},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, ":9999", c.Server.Addr)
				assert.Equal(t, 90*time.Second, c.Server.IdleTimeout)
				assert.Equal(t, 30*time.Second, c.Server.ReadTimeout, "keys left out keep defaults")
				assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, c.Server.TrustedProxies)
				assert.Equal(t, "http://catalog.yaml", c.Upstreams.Catalog)
				assert.Equal(t, 1500*time.Millisecond, c.Upstreams.Timeout)
				assert.Equal(t, "warn", c.LogLevel)
			}},
		{name: "ok, environment overrides the file", env: map[string]string{"BFF_CONFIG": good, "BFF_ADDR": ":7777", "BFF_LOG_LEVEL": "error"},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, ":7777", c.Server.Addr)
				assert.Equal(t, "error", c.LogLevel)
				assert.Equal(t, "http://catalog.yaml", c.Upstreams.Catalog)
			}},
		{name: "ok, the overload section, its mode from the environment",
			env: map[string]string{"BFF_OVERLOAD": "adaptive", "BFF_CONFIG": edgetest.TempFile(t, "overload.yaml",
				"overload: {mode: \"off\", min_limit: 2, max_limit: 50, initial_limit: 10, window: 50ms, quantile: 0.5, max_wait: 5ms}\n")},
			expect: func(t *testing.T, c config.Common) {
				assert.Equal(t, overload.Config{Mode: overload.ModeAdaptive, MinLimit: 2, MaxLimit: 50, InitialLimit: 10,
					Window: 50 * time.Millisecond, Quantile: 0.5, MaxWait: 5 * time.Millisecond,
					MaxLimitFactor: overload.DefaultMaxLimitFactor, WindowSamples: overload.DefaultWindowSamples,
					BaselineWindows: overload.DefaultBaselineWindows}, c.Overload)
			}},
		{name: "ok, overload is off by default", expect: func(t *testing.T, c config.Common) {
			assert.Equal(t, overload.ModeOff, c.Overload.Mode)
		}},
		{name: "nok, overload limits out of order", env: map[string]string{"BFF_CONFIG": edgetest.TempFile(t, "limits.yaml",
			"overload: {min_limit: 60, max_limit: 50}\n")},
			err: "BFF_CONFIG: overload.min_limit: 60 is above overload.max_limit 50"},
		{name: "nok, an unknown BFF_OVERLOAD", env: map[string]string{"BFF_OVERLOAD": "on"},
			err: `BFF_OVERLOAD: "on" is not one of adaptive, off`},
		{name: "nok, unknown key", env: map[string]string{"BFF_CONFIG": edgetest.TempFile(t, "typo.yaml", "server:\n  adress: \":1\"\n")},
			err: "field adress not found"},
		{name: "nok, wrong type", env: map[string]string{"BFF_CONFIG": edgetest.TempFile(t, "type.yaml", "server:\n  idle_timeout: soon\n")},
			err: "BFF_CONFIG: decoding"},
		{name: "nok, missing file", env: map[string]string{"BFF_CONFIG": "/nonexistent/bff.yaml"},
			err: "BFF_CONFIG: reading /nonexistent/bff.yaml"},
		{name: "ok, a routing section", env: map[string]string{"BFF_CONFIG": edgetest.TempFile(t, "routing.yaml",
			"routing:\n  catalog:\n    fallback: stable\n    variants:\n      - {name: stable, weight: 90}\n      - {name: canary, weight: 10, url: \"http://127.0.0.1:9100/catalog\"}\n")},
			expect: func(t *testing.T, c config.Common) {
				require.NotNil(t, c.Routing.Catalog)
				assert.Equal(t, "stable", c.Routing.Catalog.Fallback)
				assert.Len(t, c.Routing.Catalog.Variants, 2)
				assert.NotEmpty(t, c.File, "reloads re-read the file")
			}},
		{name: "nok, a bad routing section stops start-up", env: map[string]string{"BFF_CONFIG": edgetest.TempFile(t, "badrouting.yaml",
			"routing:\n  catalog:\n    variants:\n      - {name: stable, weight: 0}\n")},
			err: "BFF_CONFIG: routing.catalog.variants: the weights must have a positive sum"},
		{name: "nok, a routing section for an unknown service", env: map[string]string{"BFF_CONFIG": edgetest.TempFile(t, "unknownservice.yaml",
			"routing:\n  catalgo: {}\n")},
			err: "field catalgo not found"},
		{name: "nok, bad value in the file is validated", env: map[string]string{"BFF_CONFIG": edgetest.TempFile(t, "bad.yaml", "upstreams:\n  pricing: \"::bad\"\n")},
			err: `BFF_UPSTREAM_PRICING_URL: "::bad" is not an absolute http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := load(tt.env)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.NotContains(t, err.Error(), "\n", "one line")
				return
			}
			require.NoError(t, err)
			tt.expect(t, c)
		})
	}
}
