// Package cors is bff-web's CORS policy: only the configured
// origins get Access-Control-Allow-Origin (echoed, never *), with
// credentials and Vary: Origin; preflights from them allow the methods of
// the API and the headers Content-Type, X-CSRF-Token, X-Request-Id and
// Authorization for 600 s; a preflight from any other origin gets 403.
//
// It is echo's middleware.CORSWithConfig with two adjustments echo does not
// offer: origins are compared exactly (echo's AllowOrigins also matches
// wildcard patterns and subdomains), and a refused preflight is answered 403
// problem+json (echo answers 204 without CORS headers).
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/shopfront/shared/edge/problem"
)

// DefaultMethods returns the methods bff-web's routes use, a default of
// Config (a fresh slice: no importer can widen what every page may send).
func DefaultMethods() []string {
	return []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}
}

// DefaultHeaders returns the request headers a page may send, a default
// of Config.
func DefaultHeaders() []string {
	return []string{echo.HeaderContentType, "X-CSRF-Token", echo.HeaderXRequestID, echo.HeaderAuthorization}
}

// DefaultExposeHeaders returns the response headers a page may read, a
// default of Config.
func DefaultExposeHeaders() []string {
	return []string{echo.HeaderXRequestID, "X-Cache", "Cache-Status", "Retry-After",
		"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit", "RateLimit-Policy"}
}

// DefaultMaxAge is how long a browser may cache a preflight, in seconds.
const DefaultMaxAge = 600

// Config configures the CORS middleware.
type Config struct {
	// Origins are the allowed origins, e.g. https://shop.example.com,
	// compared exactly (scheme, host and port). Optional. Default none:
	// every cross-origin read and preflight is refused.
	Origins []string
	// Methods are allowed in preflights. Optional. Default DefaultMethods.
	Methods []string
	// Headers are the request headers allowed in preflights. Optional.
	// Default DefaultHeaders.
	Headers []string
	// ExposeHeaders are response headers scripts may read. Optional.
	// Default DefaultExposeHeaders.
	ExposeHeaders []string
	// MaxAge is the preflight cache lifetime in seconds. Optional. Default 600.
	MaxAge int
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
}

// Validate reports origins that are not a bare scheme://host[:port].
func (c Config) Validate() error {
	var errs []error
	for _, o := range c.Origins {
		if err := CheckOrigin(o); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("CORS max age must not be negative, got %d", c.MaxAge))
	}
	return errors.Join(errs...)
}

// CheckOrigin reports whether o is an origin as browsers send it
// (RFC 6454): http or https, a host, maybe a port, nothing else. "*" is
// refused: credentials and a wildcard never go together.
func CheckOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ToLower(o) != o {
		return fmt.Errorf("CORS origin %q must be a lower-case scheme://host[:port] without a path", o)
	}
	return nil
}

// ToMiddleware returns the middleware. It must be installed with e.Use (not
// on a group), so that it sees the preflights of every route, and before
// authentication, which preflights do not carry.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Methods == nil {
		c.Methods = DefaultMethods()
	}
	if c.Headers == nil {
		c.Headers = DefaultHeaders()
	}
	if c.ExposeHeaders == nil {
		c.ExposeHeaders = DefaultExposeHeaders()
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	origins := slices.Clone(c.Origins)
	allowed := func(origin string) bool { return slices.Contains(origins, origin) }
	inner := middleware.CORSWithConfig(middleware.CORSConfig{
		Skipper:          c.Skipper,
		AllowOriginFunc:  func(origin string) (bool, error) { return allowed(origin), nil },
		AllowMethods:     c.Methods,
		AllowHeaders:     c.Headers,
		ExposeHeaders:    c.ExposeHeaders,
		AllowCredentials: true,
		MaxAge:           c.MaxAge,
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := inner(next)
		return func(ec echo.Context) error {
			req := ec.Request()
			origin := req.Header.Get(echo.HeaderOrigin)
			if req.Method == http.MethodOptions && origin != "" &&
				req.Header.Get(echo.HeaderAccessControlRequestMethod) != "" && !c.Skipper(ec) && !allowed(origin) {
				ec.Response().Header().Add(echo.HeaderVary, echo.HeaderOrigin)
				return problem.New(http.StatusForbidden, problem.CodeForbidden, "This origin may not call the API.")
			}
			return h(ec)
		}
	}, nil
}
