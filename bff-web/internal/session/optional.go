package session

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
)

// OptionalAuthConfig configures the authentication of the routes where
// signing in is optional: the catalog pages. Their visitors send
// whatever cookie their browser kept, and an sf_session that no longer
// verifies (expired, or signed with a key identity has since rotated away)
// must not lock a browser out of the public catalog until it signs out.
//
// So, on these routes only:
//   - no token: anonymous;
//   - a valid token (Bearer or cookie): the principal, as jwtauth does;
//   - a failing Bearer token: 401 invalid_token, as jwtauth does; the
//     caller chose to present it;
//   - a failing sf_session cookie: anonymous, and the response expires
//     sf_session and sf_csrf (Max-Age=0, the attributes they were set with),
//     so the browser stops sending them. That response says
//     `Cache-Control: private, no-store`: a CDN that kept it would replay the
//     Set-Cookie and sign every visitor out. The page itself is served from
//     and stored in the gateway's cache like any anonymous one: the cache
//     keeps bodies and a few headers, never cookies.
//
// Routes that need a user keep jwtauth's 401 invalid_token for a failing
// cookie: the user must sign in again there anyway, and DELETE
// /v1/session clears the cookies. A JWKS never fetched (503) is not the
// cookie's fault and is returned as it is.
type OptionalAuthConfig struct {
	// Auth checks tokens; its TokenLookup (Bearer, then sf_session),
	// Optional (true) and OnInvalid are set here. Auth.Verifier is required; Auth's
	// ErrorHandler (the rate limiter's ChargeFailure) receives the failures
	// that are answered, not the cookies turned anonymous: those requests
	// are charged to the anonymous limit by the rate limit after this.
	Auth jwtauth.Config
	// Insecure drops Secure from the expired cookies, as Config.Insecure
	// does from the ones set at sign-in. Optional. Default false.
	Insecure bool
}

// anonymousCacheControl is the Cache-Control of a response that expires the
// cookies.
const anonymousCacheControl = "private, no-store"

// ToMiddleware returns the middleware. It goes where jwtauth's would: after
// the edge chain, before the rate limit.
func (cfg OptionalAuthConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	sessions := &Sessions{cfg: Config{Insecure: cfg.Insecure}}
	a := cfg.Auth
	a.TokenLookup, a.Optional = TokenLookup(), true
	a.OnInvalid = func(c echo.Context, err error) bool {
		if jwtauth.BearerToken(c) != "" || !invalidToken(err) {
			return false
		}
		// A stale cookie: go on anonymously, and have the browser drop it.
		sessions.expire(c)
		res := c.Response()
		res.Before(func() { res.Header().Set(echo.HeaderCacheControl, anonymousCacheControl) })
		return true
	}
	return a.ToMiddleware()
}

// invalidToken reports whether err is the 401 of a token that failed
// verification.
func invalidToken(err error) bool {
	var p *problem.Problem
	return errors.As(err, &p) && p.Status == http.StatusUnauthorized && p.Code == problem.CodeInvalidToken
}
