package apikey

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
)

// HeaderAPIKey carries a partner's API key.
const HeaderAPIKey = "X-API-Key"

// DefaultDocsURL is where invalid_api_key problems point by default.
const DefaultDocsURL = "/docs#section/Authentication"

// TokenVerifier verifies client-credentials JWTs; *jwtauth.Verifier is one.
type TokenVerifier interface {
	// Verify returns the principal of a valid token, or an error that
	// resolves to a 401 problem.
	Verify(ctx context.Context, token string) (*auth.Principal, error)
}

// Config configures the partner authentication middleware.
type Config struct {
	// Store holds the keys. Required.
	Store *Store
	// Bearer verifies `Authorization: Bearer` client-credentials JWTs of
	// requests without an API key; their `partner` claim names the partner
	// and `scope` its scopes. Optional. Default nil: API keys only.
	Bearer TokenVerifier
	// Header is the API key header. Optional. Default X-API-Key.
	Header string
	// DocsURL is the `docs` member of invalid_api_key problems. Optional.
	// Default DefaultDocsURL.
	DocsURL string
	// Skipper skips the middleware. Optional. Default never skip.
	Skipper middleware.Skipper
	// ErrorHandler receives every authentication failure and returns the
	// error to send; the rate limiter's ChargeFailure plugs in here.
	// Optional. Default returns err unchanged.
	ErrorHandler func(c echo.Context, err error) error
}

// ToMiddleware returns the middleware. An API key is looked up (unknown or
// revoked -> 401 invalid_api_key with a docs link); without one a bearer
// JWT is verified when Bearer is set (failing, or naming no partner of the
// keys file -> 401 invalid_token); with neither -> 401 unauthorized. The partner's CIDR allow-list is then checked
// against echo's RealIP (-> 403 forbidden), and the principal (Partner,
// KeyID, Scopes, Client partner) is put in the request context.
func (cfg Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Store == nil {
		return nil, errors.New("apikey: Store is required")
	}
	if cfg.Header == "" {
		cfg.Header = HeaderAPIKey
	}
	if cfg.DocsURL == "" {
		cfg.DocsURL = DefaultDocsURL
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
			p, err := cfg.authenticate(c)
			if err != nil {
				return cfg.ErrorHandler(c, err)
			}
			r := c.Request()
			c.SetRequest(auth.RequestWithPrincipal(r, p))
			return next(c)
		}
	}, nil
}

func (cfg Config) authenticate(c echo.Context) (*auth.Principal, error) {
	keys := cfg.Store.Keys()
	if presented := c.Request().Header.Get(cfg.Header); presented != "" {
		k, ok := keys.Lookup(presented)
		if !ok || k.Revoked {
			return nil, problem.New(http.StatusUnauthorized, problem.CodeInvalidAPIKey, "The API key is unknown or revoked.").
				With("docs", cfg.DocsURL)
		}
		if !k.Partner.Allows(c.RealIP()) {
			return nil, problem.Forbidden("Requests with this API key are not allowed from this address.")
		}
		return &auth.Principal{Partner: k.Partner.ID, KeyID: k.ID, Scopes: k.Scopes, Client: auth.ClientPartner}, nil
	}
	if token := jwtauth.BearerToken(c); cfg.Bearer != nil && token != "" {
		p, err := cfg.Bearer.Verify(c.Request().Context(), token)
		if err != nil {
			return nil, err
		}
		if p.Partner == "" {
			return nil, problem.New(http.StatusUnauthorized, problem.CodeInvalidToken, "The access token names no partner.").
				WithHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		// The identity service may know clients the keys file does not:
		// only a partner of the keys file has a plan and an allow-list to
		// apply, so any other token is refused rather than served on
		// defaults nobody chose for it.
		partner, ok := keys.Partner(p.Partner)
		if !ok {
			return nil, problem.New(http.StatusUnauthorized, problem.CodeInvalidToken, "The access token names no known partner.").
				WithHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		if !partner.Allows(c.RealIP()) {
			return nil, problem.Forbidden("Requests of this partner are not allowed from this address.")
		}
		p.Client = auth.ClientPartner
		return p, nil
	}
	missing := problem.Unauthorized("An API key ("+cfg.Header+") or a bearer token is required.").With("docs", cfg.DocsURL)
	if cfg.Bearer != nil {
		missing.WithHeader("WWW-Authenticate", "Bearer")
	}
	return nil, missing
}

// RequireScope returns a middleware admitting only principals granted
// scope: none -> 401 unauthorized, lacking -> 403 insufficient_scope, with
// `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."` for
// JWT callers (RFC 6750 §3.1). It goes after authentication.
func RequireScope(scope auth.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := auth.FromContext(c.Request().Context())
			if !ok {
				return problem.Unauthorized("Authentication is required.")
			}
			if !p.HasScope(scope) {
				err := problem.New(http.StatusForbidden, problem.CodeInsufficientScope,
					"This credential lacks the scope "+string(scope)+".").With("scope", string(scope))
				if p.KeyID == "" {
					err.WithHeader("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+string(scope)+`"`)
				}
				return err
			}
			return next(c)
		}
	}
}
