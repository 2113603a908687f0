package session

import (
	"crypto/subtle"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
)

// CSRFConfig configures the double-submit check: an unsafe request
// authenticated by the session cookie must carry X-CSRF-Token equal to the
// sf_csrf cookie. A cross-site page can make the browser send the cookies
// but can neither read sf_csrf nor set the header without a CORS preflight
// the gateway refuses.
//
// Requests with Authorization: Bearer are exempt: a browser never attaches
// that header on its own, so it cannot be forged cross-site. Requests with
// no session cookie are left to authentication (401 where a route needs it).
//
// echo's middleware.CSRF is not used: it issues its own token cookie and
// checks every unsafe request, including Bearer ones, while the rule binds the
// token to the session's sf_csrf cookie and exempts Bearer requests.
type CSRFConfig struct {
	// Skipper skips the check, e.g. for POST /v1/session, which carries
	// credentials instead of a session. Optional. Default: never skip.
	Skipper middleware.Skipper
}

// ToMiddleware returns the middleware. It goes after authentication and
// rate limiting, before the handler.
func (cfg CSRFConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Skipper == nil {
		cfg.Skipper = middleware.DefaultSkipper
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) || safe(c.Request().Method) || jwtauth.BearerToken(c) != "" {
				return next(c)
			}
			if _, err := c.Cookie(CookieSession); err != nil {
				return next(c)
			}
			if !validCSRF(c) {
				return problem.New(http.StatusForbidden, problem.CodeCSRFFailed,
					"Unsafe requests made with the session cookie need the "+HeaderCSRF+" header equal to the "+CookieCSRF+" cookie.")
			}
			return next(c)
		}
	}, nil
}

// safe reports the methods RFC 9110 §9.2.1 defines as safe.
func safe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func validCSRF(c echo.Context) bool {
	ck, err := c.Cookie(CookieCSRF)
	if err != nil || ck.Value == "" {
		return false
	}
	headers := c.Request().Header.Values(HeaderCSRF)
	if len(headers) != 1 || headers[0] == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(headers[0]), []byte(ck.Value)) == 1
}
