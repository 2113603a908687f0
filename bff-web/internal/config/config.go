// Package config is bff-web's configuration: the edge's common settings plus
// the web policies, loaded defaults -> BFF_CONFIG YAML -> environment ->
// Validate (SPEC §3).
package config

import (
	"errors"
	"net/url"
	"strings"
	"time"

	edgeconfig "github.com/shopfront/shared/edge/config"
)

// Config is the whole bff-web configuration.
type Config struct {
	edgeconfig.Common `yaml:",inline"`
	// Web holds the web-only policies.
	Web Web `yaml:"web"`
}

// Web is the web-only section.
type Web struct {
	// CORSOrigins are the origins allowed to call with credentials
	// (BFF_CORS_ORIGINS, comma-separated). Optional. Default none.
	CORSOrigins []string `yaml:"cors_origins"`
	// CookieInsecure drops Secure from the session cookies for local http
	// (BFF_COOKIE_INSECURE). Optional. Default false.
	CookieInsecure bool `yaml:"cookie_insecure"`
}

// Environment variables only bff-web reads.
const (
	VarCORSOrigins    = "BFF_CORS_ORIGINS"
	VarCookieInsecure = "BFF_COOKIE_INSECURE"
)

// Listener defaults of bff-web (SPEC §3). Browsers on broadband send small
// requests quickly: 15 s to read one is generous, 30 s to write covers the
// 2.5 s route budget with room for slow downloads, and 75 s of keep-alive
// outlives the 60 s idle timeout common in browsers and load balancers so
// the server is not the side that races a reused connection. Bodies are
// small JSON (login, cart edits), so 256 KiB is plenty.
const (
	DefaultAddr         = ":8082"
	DefaultAdminAddr    = "127.0.0.1:18082"
	DefaultAudience     = "shopfront-web"
	DefaultReadTimeout  = 15 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 75 * time.Second
	DefaultBodyLimit    = 256 << 10
)

// Defaults returns the embedded defaults `make run` uses.
func Defaults() Config {
	c := Config{Common: edgeconfig.Defaults(DefaultAddr, DefaultAdminAddr, DefaultAudience)}
	c.Server.ReadTimeout = DefaultReadTimeout
	c.Server.WriteTimeout = DefaultWriteTimeout
	c.Server.IdleTimeout = DefaultIdleTimeout
	c.Server.BodyLimit = DefaultBodyLimit
	return c
}

// Load reads the configuration; lookup is os.LookupEnv in main. The error
// has one line per problem, each naming its variable.
func Load(lookup edgeconfig.Lookup) (Config, error) {
	c := Defaults()
	err := edgeconfig.Load(lookup, &c)
	return c, err
}

// ReadEnv reads the variables of SPEC §3 that bff-web uses.
func (c *Config) ReadEnv(env *edgeconfig.Env) {
	c.Common.ReadEnv(env)
	env.List(VarCORSOrigins, &c.Web.CORSOrigins)
	env.Bool(VarCookieInsecure, &c.Web.CookieInsecure)
}

// Validate reports every problem, one line each.
func (c Config) Validate() error {
	errs := []error{c.Common.Validate()}
	for _, o := range c.Web.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			errs = append(errs, edgeconfig.Errorf(VarCORSOrigins, "%q %v", o, err))
		}
	}
	return errors.Join(errs...)
}

// checkOrigin accepts an origin as browsers send it (RFC 6454):
// scheme://host[:port], nothing more. "*" is refused: with credentials the
// allowed origin must be echoed, never a wildcard.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(o, "/") {
		return errors.New("is not an origin such as https://shop.example.com")
	}
	return nil
}

var _ edgeconfig.Loadable = (*Config)(nil)
