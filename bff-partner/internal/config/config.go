// Package config is bff-partner's configuration: the edge's common settings
// plus the partner policies, loaded defaults -> BFF_CONFIG YAML ->
// environment -> Validate (SPEC §3).
package config

import (
	"errors"
	"os"
	"time"

	edgeconfig "github.com/shopfront/shared/edge/config"
)

// Config is the whole bff-partner configuration.
type Config struct {
	edgeconfig.Common `yaml:",inline"`
	// Partner holds the partner-only policies.
	Partner Partner `yaml:"partner"`
}

// Partner is the partner-only section.
type Partner struct {
	// KeysFile is the YAML of partners and hashed API keys (SPEC §7,
	// BFF_PARTNER_KEYS_FILE). Optional. Default "" (no API keys; client
	// credentials JWTs only).
	KeysFile string `yaml:"keys_file"`
	// AuditDir receives audit-YYYY-MM-DD.jsonl (BFF_AUDIT_DIR). Optional.
	// Default "audit" (relative to the working directory).
	AuditDir string `yaml:"audit_dir"`
}

// Environment variables only bff-partner reads (BFF_TLS_CLIENT_CA_FILE lands
// in the shared server section).
const (
	VarKeysFile = "BFF_PARTNER_KEYS_FILE"
	VarAuditDir = "BFF_AUDIT_DIR"
)

// Listener defaults of bff-partner (SPEC §3, §7). Partners are servers on
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
)

// Defaults returns the embedded defaults `make run` uses.
func Defaults() Config {
	c := Config{Common: edgeconfig.Defaults(DefaultAddr, DefaultAdminAddr, DefaultAudience)}
	c.Server.ReadTimeout = DefaultReadTimeout
	c.Server.WriteTimeout = DefaultWriteTimeout
	c.Server.IdleTimeout = DefaultIdleTimeout
	c.Server.BodyLimit = DefaultBodyLimit
	c.Partner.AuditDir = DefaultAuditDir
	return c
}

// Load reads the configuration; lookup is os.LookupEnv in main. The error
// has one line per problem, each naming its variable.
func Load(lookup edgeconfig.Lookup) (Config, error) {
	c := Defaults()
	err := edgeconfig.Load(lookup, &c)
	return c, err
}

// ReadEnv reads the variables of SPEC §3 that bff-partner uses.
func (c *Config) ReadEnv(env *edgeconfig.Env) {
	c.Common.ReadEnv(env)
	env.String(edgeconfig.VarTLSClientCAFile, &c.Server.TLSClientCAFile)
	env.String(VarKeysFile, &c.Partner.KeysFile)
	env.String(VarAuditDir, &c.Partner.AuditDir)
}

// Validate reports every problem, one line each.
func (c Config) Validate() error {
	errs := []error{c.Common.Validate()}
	if c.Partner.KeysFile != "" {
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
	return errors.Join(errs...)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var _ edgeconfig.Loadable = (*Config)(nil)
