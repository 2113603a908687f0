// Package config is bff-mobile's configuration: the edge's common settings
// plus the mobile policies, loaded defaults -> BFF_CONFIG YAML -> environment
// -> Validate (SPEC §3).
package config

import (
	"time"

	edgeconfig "github.com/shopfront/shared/edge/config"
)

// Config is the whole bff-mobile configuration.
type Config struct {
	edgeconfig.Common `yaml:",inline"`
	// Mobile holds the mobile-only policies.
	Mobile Mobile `yaml:"mobile"`
}

// Mobile is the mobile-only section of the YAML file.
type Mobile struct{}

// Listener defaults of bff-mobile (SPEC §3, §5). Cellular clients are slow
// and reconnect expensively, hence the long read/write timeouts and the
// 120 s keep-alive.
const (
	DefaultAddr         = ":8081"
	DefaultAdminAddr    = "127.0.0.1:18081"
	DefaultAudience     = "shopfront-mobile"
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 120 * time.Second
)

// Defaults returns the embedded defaults `make run` uses.
func Defaults() Config {
	c := Config{Common: edgeconfig.Defaults(DefaultAddr, DefaultAdminAddr, DefaultAudience)}
	c.Server.ReadTimeout = DefaultReadTimeout
	c.Server.WriteTimeout = DefaultWriteTimeout
	c.Server.IdleTimeout = DefaultIdleTimeout
	return c
}

// Load reads the configuration; lookup is os.LookupEnv in main. The error
// has one line per problem, each naming its variable.
func Load(lookup edgeconfig.Lookup) (Config, error) {
	c := Defaults()
	err := edgeconfig.Load(lookup, &c)
	return c, err
}

// ReadEnv reads the variables of SPEC §3 that bff-mobile uses.
func (c *Config) ReadEnv(env *edgeconfig.Env) {
	c.Common.ReadEnv(env)
}

// Validate reports every problem, one line each.
func (c Config) Validate() error {
	return c.Common.Validate()
}

var _ edgeconfig.Loadable = (*Config)(nil)
