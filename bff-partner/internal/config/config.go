// Package config is bff-partner's configuration: the edge's common settings
// plus the partner policies, loaded defaults -> BFF_CONFIG YAML ->
// environment -> Validate.
package config

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"time"

	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/input"
)

// Config is the whole bff-partner configuration.
type Config struct {
	edgeconfig.Common `yaml:",inline"`
	// Partner holds the partner-only policies.
	Partner Partner `yaml:"partner"`

	// searchedFrom is where the development keys file was looked for, for
	// the error that says it was not found.
	searchedFrom string
	// devKeys is set when KeysFile is the development keys file, found by
	// searching because nothing named a keys file.
	devKeys bool
}

// DevKeys reports whether the keys file is the development one, picked up
// because neither BFF_PARTNER_KEYS_FILE nor BFF_CONFIG named a keys file.
// Its keys' plaintexts are published in docs/bff-partner.md, so the gateway warns
// at start-up.
func (c Config) DevKeys() bool { return c.devKeys }

// Partner is the partner-only section.
type Partner struct {
	// KeysFile is the YAML of partners and hashed API keys. Optional. Default: the development keys file
	// deploy/dev/partner-keys.yaml, looked for in the working directory and
	// its parents (so `make run` and `go run` from anywhere in the
	// repository find it), with a warning at start-up since its keys are
	// public; start-up fails when it is not found.
	KeysFile string `yaml:"keys_file"`
	// AuditDir receives audit-YYYY-MM-DD.jsonl (BFF_AUDIT_DIR). Optional.
	// Default "audit" (relative to the working directory).
	AuditDir string `yaml:"audit_dir"`
	// AuditRetention is how long audit files are kept. Optional. Default
	// 90 days.
	AuditRetention time.Duration `yaml:"audit_retention"`
	// Currency is the currency of the prices partners see. Optional.
	// Default "USD".
	Currency string `yaml:"currency"`
	// DocsURL is the `docs` link of invalid_api_key problems. Optional.
	// Default "/docs#section/Authentication".
	DocsURL string `yaml:"docs_url"`
	// TokenURL is the OAuth 2.0 token endpoint the published OpenAPI
	// document (/openapi.json, /docs) gives partners for the
	// client-credentials flow (BFF_PARTNER_TOKEN_URL): the identity
	// service's public address, which behind an ingress is not the
	// gateway's upstream URL. Optional. Default: the identity upstream URL
	// + /oauth/token.
	TokenURL string `yaml:"token_url"`
	// IdempotencyTTL is how long an order's response is kept for replay.
	// Optional. Default 24 h.
	IdempotencyTTL time.Duration `yaml:"idempotency_ttl"`
	// IdempotencyWait bounds how long a concurrent retry waits for the
	// first request with its key. Optional. Default 10 s.
	IdempotencyWait time.Duration `yaml:"idempotency_wait"`
	// IdempotencyRedisURL keeps the idempotency records in a Redis of
	// their own (a database or an instance run with noeviction), so that
	// no cache pressure on the shared one can evict a record and let a
	// retry order twice. Optional. Default "": BFF_REDIS_URL's Redis.
	IdempotencyRedisURL string `yaml:"idempotency_redis_url"`
	// V1 is the deprecation of /v1 (RFC 9745, RFC 8594).
	V1 Deprecation `yaml:"v1"`
}

// Deprecation dates an API version's end.
type Deprecation struct {
	// Deprecated is when the version was deprecated (Deprecation header).
	// Optional. Default 2026-06-01T00:00:00Z.
	Deprecated time.Time `yaml:"deprecated"`
	// Sunset is when it may stop answering (Sunset header). Optional.
	// Default 2027-06-01T00:00:00Z.
	Sunset time.Time `yaml:"sunset"`
	// Link explains the deprecation and the migration (Link header,
	// rel="deprecation"). Optional. Default "/docs#tag/Deprecated-v1".
	Link string `yaml:"link"`
}

// Environment variables only bff-partner reads (BFF_TLS_CLIENT_CA_FILE lands
// in the shared server section).
const (
	VarKeysFile = "BFF_PARTNER_KEYS_FILE"
	VarAuditDir = "BFF_AUDIT_DIR"
	VarTokenURL = "BFF_PARTNER_TOKEN_URL"
	// VarIdempotencyRedisURL names a Redis for the idempotency records only.
	VarIdempotencyRedisURL = "BFF_PARTNER_IDEMPOTENCY_REDIS_URL"
)

// TokenPath is the identity service's token endpoint, appended
// to its URL for the default TokenURL.
const TokenPath = "/oauth/token"

// Listener defaults of bff-partner. Partners are servers on
// good networks: 10 s to send a request of at most 1 MiB, 15 s to take the
// answer, 60 s keep-alive for batch clients reusing connections.
const (
	DefaultAddr         = ":8083"
	DefaultAdminAddr    = "127.0.0.1:18083"
	DefaultAudience     = "shopfront-partner"
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 15 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	DefaultBodyLimit    = 1 << 20
	DefaultAuditDir     = "audit"
	DefaultDocsURL      = "/docs#section/Authentication"
	DefaultV1Link       = "/docs#tag/Deprecated-v1"
	DefaultIdemTTL      = 24 * time.Hour
	DefaultIdemWait     = 10 * time.Second
	DefaultRetention    = 90 * 24 * time.Hour
	// DevKeysFile is the development keys file, relative to the repository.
	DevKeysFile = "deploy/dev/partner-keys.yaml"
)

// DefaultV1Deprecated is the default date /v1 was deprecated.
func DefaultV1Deprecated() time.Time { return time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC) }

// DefaultV1Sunset is the default date /v1 stops answering.
func DefaultV1Sunset() time.Time { return time.Date(2027, time.June, 1, 0, 0, 0, 0, time.UTC) }

// Defaults returns the embedded defaults `make run` uses.
func Defaults() Config {
	c := Config{Common: edgeconfig.Defaults(DefaultAddr, DefaultAdminAddr, DefaultAudience)}
	c.Server.ReadTimeout = DefaultReadTimeout
	c.Server.WriteTimeout = DefaultWriteTimeout
	c.Server.IdleTimeout = DefaultIdleTimeout
	c.Server.BodyLimit = DefaultBodyLimit
	c.Partner.AuditDir = DefaultAuditDir
	c.Partner.AuditRetention = DefaultRetention
	c.Partner.Currency = edgeconfig.DefaultCurrency
	c.Partner.DocsURL = DefaultDocsURL
	c.Partner.IdempotencyTTL = DefaultIdemTTL
	c.Partner.IdempotencyWait = DefaultIdemWait
	c.Partner.V1 = Deprecation{Deprecated: DefaultV1Deprecated(), Sunset: DefaultV1Sunset(), Link: DefaultV1Link}
	return c
}

// Load reads the configuration; lookup is os.LookupEnv in main. The error
// has one line per problem, each naming its variable.
func Load(lookup edgeconfig.Lookup) (Config, error) {
	c := Defaults()
	err := edgeconfig.Load(lookup, &c)
	return c, err
}

// FindDevKeysFile looks for DevKeysFile in dir and its parents and returns
// its path, or "" when there is none.
func FindDevKeysFile(dir string) string {
	for {
		p := filepath.Join(dir, DevKeysFile)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// ReadEnv reads the environment variables bff-partner uses.
func (c *Config) ReadEnv(env *edgeconfig.Env) {
	c.Common.ReadEnv(env)
	env.String(edgeconfig.VarTLSClientCAFile, &c.Server.TLSClientCAFile)
	env.String(VarKeysFile, &c.Partner.KeysFile)
	env.String(VarAuditDir, &c.Partner.AuditDir)
	env.URL(VarTokenURL, &c.Partner.TokenURL)
	env.String(VarIdempotencyRedisURL, &c.Partner.IdempotencyRedisURL)
	if c.Partner.TokenURL == "" && c.Upstreams.Identity != "" {
		// Derived after the environment so that it follows
		// BFF_UPSTREAM_IDENTITY_URL.
		c.Partner.TokenURL = c.Upstreams.Identity + TokenPath
	}
	if c.Partner.KeysFile == "" {
		// Neither the environment nor BFF_CONFIG names one: the dev default.
		if wd, err := os.Getwd(); err == nil {
			c.searchedFrom = wd
			c.Partner.KeysFile = FindDevKeysFile(wd)
			c.devKeys = c.Partner.KeysFile != ""
		}
	}
}

// Validate reports every problem, one line each.
func (c Config) Validate() error {
	errs := []error{c.Common.Validate()}
	if c.Partner.KeysFile == "" {
		errs = append(errs, MissingKeysFile(c.searchedFrom))
	} else {
		if f, err := os.Open(c.Partner.KeysFile); err != nil {
			errs = append(errs, edgeconfig.Errorf(VarKeysFile, "reading %s: %v", c.Partner.KeysFile, unwrapPath(err)))
		} else {
			_ = f.Close()
		}
	}
	if c.Partner.AuditDir == "" {
		errs = append(errs, edgeconfig.Errorf(VarAuditDir, "must not be empty"))
	} else if fi, err := os.Stat(c.Partner.AuditDir); err == nil && !fi.IsDir() {
		errs = append(errs, edgeconfig.Errorf(VarAuditDir, "%s is not a directory", c.Partner.AuditDir))
	}
	p := c.Partner
	if p.AuditRetention <= 0 {
		errs = append(errs, errors.New("partner.audit_retention: must be positive"))
	}
	if !input.ValidCurrency(p.Currency) {
		errs = append(errs, errors.New("partner.currency: must be an ISO 4217 code such as USD"))
	}
	if p.IdempotencyTTL <= 0 || p.IdempotencyWait <= 0 {
		errs = append(errs, errors.New("partner.idempotency_ttl, partner.idempotency_wait: must be positive"))
	}
	if p.V1.Deprecated.IsZero() || p.V1.Sunset.Before(p.V1.Deprecated) {
		errs = append(errs, errors.New("partner.v1: deprecated must be set and sunset not before it"))
	}
	if p.IdempotencyRedisURL != "" {
		if err := edgeconfig.ParseRedisURL(p.IdempotencyRedisURL); err != nil {
			// The URL may hold a password, so it is not echoed.
			errs = append(errs, edgeconfig.Errorf(VarIdempotencyRedisURL, "%v", err))
		}
	}
	if _, err := edgeconfig.ParseHTTPURL(p.TokenURL); err != nil {
		errs = append(errs, edgeconfig.Errorf(VarTokenURL, "%q %v", p.TokenURL, err))
	}
	for name, link := range map[string]string{"partner.v1.link": p.V1.Link, "partner.docs_url": p.DocsURL} {
		if _, err := url.Parse(link); err != nil || link == "" {
			errs = append(errs, errors.New(name+": must be a URL"))
		}
	}
	return errors.Join(errs...)
}

// MissingKeysFile is the start-up error when no keys file is configured
// and the development one is not found from dir (the working directory):
// one line saying what to set, since a binary started outside the
// repository (an installed or copied bff-partner) never finds it.
func MissingKeysFile(dir string) error {
	where := "the working directory"
	if dir != "" {
		where = dir
	}
	return edgeconfig.Errorf(VarKeysFile, "not set, and no %s in %s or its parents; set %s=/path/to/partner-keys.yaml "+
		"(the partners and hashed keys; for local use the repository's %s) or start bff-partner inside the repository",
		DevKeysFile, where, VarKeysFile, DevKeysFile)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var _ edgeconfig.Loadable = (*Config)(nil)
