// Package identity owns the internal identity headers (X-User-Id, X-User-Roles, X-Tenant-Id, X-Partner-Id, X-Client). Callers
// must never be able to speak for a user, tenant or partner, so the incoming
// copies of these headers are deleted at the edge before anything reads them;
// the upstream client sets them again from the verified auth.Principal only.
package identity

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// The internal identity headers, as sent upstream.
const (
	HeaderUserID    = "X-User-Id"
	HeaderUserRoles = "X-User-Roles"
	HeaderTenantID  = "X-Tenant-Id"
	HeaderPartnerID = "X-Partner-Id"
	HeaderClient    = "X-Client"
)

// Headers lists the identity headers stripped from every incoming request.
// It is a function rather than a variable so that no caller can change the
// list for everyone.
func Headers() []string {
	return []string{HeaderUserID, HeaderUserRoles, HeaderTenantID, HeaderPartnerID, HeaderClient}
}

// Config configures the strip middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip. Skipping
	// it lets callers impersonate users, so a Skipper should be rare.
	Skipper middleware.Skipper
	// Extra names more headers to strip beside Headers(). Optional.
	// Default none.
	Extra []string
}

// ToMiddleware returns the middleware deleting the identity headers (any
// case, any count) from the request before the next handler runs.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	names := append(Headers(), c.Extra...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if !c.Skipper(ec) {
				strip(ec.Request().Header, names)
			}
			return next(ec)
		}
	}, nil
}

// Strip deletes the identity headers from h whatever the case of their keys.
func Strip(h http.Header) { strip(h, Headers()) }

// strip deletes every key of h that names one of names. net/http
// canonicalises the keys it parses, but a map filled by hand (or a proxy
// in front) may hold "x-user-id" beside "X-User-Id", so keys are compared
// case-insensitively; '_' counts as '-' because some proxies and CGI-style
// servers treat "X_User_Id" as the same header.
func strip(h http.Header, names []string) {
	for k := range h {
		for _, n := range names {
			if sameHeader(k, n) {
				delete(h, k)
				break
			}
		}
	}
}

func sameHeader(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if fold(a[i]) != fold(b[i]) {
			return false
		}
	}
	return true
}

func fold(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}
