// Package deprecation marks every response of a deprecated API version,
// errors included: `Deprecation: @<unix seconds>` (RFC 9745),
// `Sunset: <HTTP-date>` (RFC 8594) and `Link: <url>; rel="deprecation"`.
//
// The headers are set before the request goes on, so whatever answers it
// (a handler, the auth middleware, the rate limiter, the error renderer)
// sends them; registered with echo's Pre, it also covers unmatched routes.
package deprecation

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Config configures the middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// Prefix is the path prefix of the deprecated version, e.g. "/v1";
	// it matches the prefix itself and everything under it. Required.
	Prefix string
	// Deprecated is when the version was deprecated. Required.
	Deprecated time.Time
	// Sunset is when the version may stop answering. Optional. Default:
	// no Sunset header.
	Sunset time.Time
	// Link explains the deprecation. Required.
	Link string
}

// ToMiddleware returns the middleware.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.Prefix == "" || !strings.HasPrefix(c.Prefix, "/") {
		return nil, errors.New("deprecation: Prefix must start with /")
	}
	if c.Deprecated.IsZero() {
		return nil, errors.New("deprecation: Deprecated is required")
	}
	if c.Link == "" {
		return nil, errors.New("deprecation: Link is required")
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	prefix := strings.TrimRight(c.Prefix, "/")
	deprecation := "@" + strconv.FormatInt(c.Deprecated.Unix(), 10)
	sunset := ""
	if !c.Sunset.IsZero() {
		sunset = c.Sunset.UTC().Format(http.TimeFormat)
	}
	link := "<" + c.Link + `>; rel="deprecation"; type="text/html"`
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			p := ec.Request().URL.Path
			if c.Skipper(ec) || (p != prefix && !strings.HasPrefix(p, prefix+"/")) {
				return next(ec)
			}
			h := ec.Response().Header()
			h.Set("Deprecation", deprecation)
			if sunset != "" {
				h.Set("Sunset", sunset)
			}
			h.Add("Link", link)
			return next(ec)
		}
	}, nil
}
