package jwtauth

import (
	"context"
	"errors"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/shopfront/shared/edge/auth"
)

// TokenVerifier turns a bearer token into a principal; *Verifier is one.
type TokenVerifier interface {
	// Verify returns the principal of a valid token, or an error that
	// resolves to a 401 problem.
	Verify(ctx context.Context, token string) (*auth.Principal, error)
}

var _ TokenVerifier = (*Verifier)(nil)

// Config configures the authentication middleware.
type Config struct {
	// Verifier checks tokens. Required.
	Verifier TokenVerifier
	// TokenLookup extracts the raw token from a request, "" when absent.
	// Optional. Default BearerToken (the Authorization header); bff-web
	// chains its session cookie with FirstOf.
	TokenLookup func(c echo.Context) string
	// Optional lets requests without a token through anonymously (no
	// principal in the context). A present but invalid token is still
	// rejected. Optional. Default false.
	Optional bool
	// Skipper skips the middleware. Optional. Default never skip.
	Skipper middleware.Skipper
	// ErrorHandler receives every authentication failure (a *problem.Problem,
	// 401 unauthorized or invalid_token, or the 503 of KeysUnavailable while
	// no JWKS was ever fetched) and returns the error to send. The
	// rate limiter's ChargeFailure plugs in here so failed attempts count
	// against the client IP's anonymous limit. Optional. Default
	// returns err unchanged.
	ErrorHandler func(c echo.Context, err error) error
	// OnInvalid is asked about a present token that failed verification,
	// before ErrorHandler: returning true lets the request go on
	// anonymously (no principal in the context) instead of failing with
	// err; it may also change the response, e.g. expire the cookie the
	// token came from. Only an Optional middleware asks it. Optional.
	// Default every failing token fails the request.
	OnInvalid func(c echo.Context, err error) (anonymous bool)
}

// BearerToken returns the token of an `Authorization: Bearer <token>` header
// (scheme case-insensitive, RFC 6750 §2.1), or "".
func BearerToken(c echo.Context) string {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	const scheme = "bearer "
	if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
		return strings.TrimSpace(h[len(scheme):])
	}
	return ""
}

// CookieToken returns a lookup reading the token from the cookie name
// (bff-web's session cookie).
func CookieToken(name string) func(c echo.Context) string {
	return func(c echo.Context) string {
		ck, err := c.Cookie(name)
		if err != nil {
			return ""
		}
		return ck.Value
	}
}

// FirstOf returns a lookup trying each lookup in order.
func FirstOf(lookups ...func(c echo.Context) string) func(c echo.Context) string {
	return func(c echo.Context) string {
		for _, l := range lookups {
			if t := l(c); t != "" {
				return t
			}
		}
		return ""
	}
}

// ToMiddleware returns the middleware: no token -> 401 unauthorized with
// `WWW-Authenticate: Bearer` (unless Optional); a token failing verification
// -> 401 invalid_token (503 upstream_unavailable while no JWKS was ever
// fetched); else the principal is put in the request context.
func (cfg Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("jwtauth: Verifier is required")
	}
	if cfg.TokenLookup == nil {
		cfg.TokenLookup = BearerToken
	}
	if cfg.Skipper == nil {
		cfg.Skipper = middleware.DefaultSkipper
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = func(_ echo.Context, err error) error { return err }
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			token := cfg.TokenLookup(c)
			if token == "" {
				if cfg.Optional {
					return next(c)
				}
				return cfg.ErrorHandler(c, Missing())
			}
			r := c.Request()
			p, err := cfg.Verifier.Verify(r.Context(), token)
			if err != nil {
				if cfg.Optional && cfg.OnInvalid != nil && cfg.OnInvalid(c, err) {
					return next(c)
				}
				return cfg.ErrorHandler(c, err)
			}
			c.SetRequest(auth.RequestWithPrincipal(r, p))
			return next(c)
		}
	}, nil
}
