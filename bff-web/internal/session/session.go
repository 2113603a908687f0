// Package session is bff-web's cookie session: POST /v1/session
// exchanges a username and password at identity for a JWT kept in the
// HttpOnly sf_session cookie, beside a random sf_csrf cookie that scripts
// read and echo in X-CSRF-Token on unsafe requests (double-submit, see
// CSRFConfig). DELETE /v1/session clears both.
//
// The browser never holds the token where a script can read it; the JWT is
// verified on every request by shared/edge/jwtauth with TokenLookup, through
// OptionalAuthConfig on the catalog pages, which serves a browser whose
// cookie no longer verifies as anonymous and expires its cookies.
package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
)

// Cookie names.
const (
	CookieSession = "sf_session"
	CookieCSRF    = "sf_csrf"
	// HeaderCSRF carries the sf_csrf value on unsafe requests.
	HeaderCSRF = "X-CSRF-Token"
)

// ClientID is the OAuth client the web gateway logs users in as.
const ClientID = "web"

// Input bounds of the login body.
const (
	maxUsername = 128
	maxPassword = 256
	maxBody     = 4 << 10
)

// TokenIssuer exchanges a user's credentials for a JWT; services.Identity is
// one. Rejected credentials must be an error rendering as 401.
type TokenIssuer interface {
	PasswordToken(ctx context.Context, username, password, clientID string) (domain.Token, error)
}

// Throttle refuses sign-ins of usernames with too many recent failures;
// *signin.Throttle is one.
type Throttle interface {
	// Check returns the error to answer (429) while username may not try,
	// else nil.
	Check(ctx context.Context, username string) error
	// Fail counts one failed sign-in of username.
	Fail(ctx context.Context, username string)
}

// Config configures the session handlers.
type Config struct {
	// Issuer exchanges credentials at identity. Required.
	Issuer TokenIssuer
	// Throttle limits failed sign-ins per username, before identity is
	// asked. Optional. Default none (the per-IP limit in front only).
	Throttle Throttle
	// Insecure drops the Secure attribute so that cookies work over plain
	// http on a developer machine (BFF_COOKIE_INSECURE). Optional. Default
	// false: cookies are Secure.
	Insecure bool
	// Timeout bounds the call to identity. Optional. Default 2 s.
	Timeout time.Duration
	// DefaultMaxAge is the cookies' lifetime when identity does not say how
	// long its token lives. Optional. Default 15 min.
	DefaultMaxAge time.Duration
}

// Sessions serves POST and DELETE /v1/session.
type Sessions struct {
	cfg Config
}

// New validates cfg and returns the handlers.
func New(cfg Config) (*Sessions, error) {
	if cfg.Issuer == nil {
		return nil, errors.New("session: Issuer is required")
	}
	if cfg.Timeout < 0 || cfg.DefaultMaxAge < 0 {
		return nil, errors.New("session: durations must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.DefaultMaxAge == 0 {
		cfg.DefaultMaxAge = 15 * time.Minute
	}
	return &Sessions{cfg: cfg}, nil
}

// credentials is the body of POST /v1/session. Pointers tell a missing
// member apart from an empty one.
type credentials struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// Create is POST /v1/session {username, password}: 204 with both cookies,
// 401 unauthorized for wrong credentials, 400/415 for a bad body, 429
// rate_limited while the username has too many recent failures (Throttle).
func (s *Sessions) Create(c echo.Context) error {
	username, password, err := readCredentials(c)
	if err != nil {
		return err
	}
	if s.cfg.Throttle != nil {
		if err := s.cfg.Throttle.Check(c.Request().Context(), username); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.Timeout)
	defer cancel()
	tok, err := s.cfg.Issuer.PasswordToken(ctx, username, password, ClientID)
	if err != nil {
		// Only rejected credentials count: an identity outage is no guess.
		if s.cfg.Throttle != nil && problem.Resolve(err).Status == http.StatusUnauthorized {
			s.cfg.Throttle.Fail(c.Request().Context(), username)
		}
		return err
	}
	if tok.AccessToken == "" {
		return problem.New(http.StatusBadGateway, problem.CodeUpstreamUnavailable, "").
			Wrap(errors.New("identity answered without an access token"))
	}
	maxAge := time.Duration(tok.ExpiresIn) * time.Second
	if maxAge <= 0 {
		maxAge = s.cfg.DefaultMaxAge
	}
	csrf, err := newCSRFToken()
	if err != nil {
		return fmt.Errorf("making CSRF token: %w", err)
	}
	c.SetCookie(s.cookie(CookieSession, tok.AccessToken, maxAge, true))
	c.SetCookie(s.cookie(CookieCSRF, csrf, maxAge, false))
	noStore(c)
	return c.NoContent(http.StatusNoContent)
}

// Delete is DELETE /v1/session: both cookies expire at once (Max-Age=0).
// It is idempotent: without a session it answers 204 as well.
func (s *Sessions) Delete(c echo.Context) error {
	s.expire(c)
	noStore(c)
	return c.NoContent(http.StatusNoContent)
}

// expire makes the response expire both cookies at once (Max-Age=0).
func (s *Sessions) expire(c echo.Context) {
	c.SetCookie(s.cookie(CookieSession, "", -1, true))
	c.SetCookie(s.cookie(CookieCSRF, "", -1, false))
}

// cookie builds a cookie with the session cookie attributes. A negative maxAge
// renders Max-Age=0 (delete now), as net/http spells it.
func (s *Sessions) cookie(name, value string, maxAge time.Duration, httpOnly bool) *http.Cookie {
	age := int(maxAge / time.Second)
	if maxAge < 0 {
		age = -1
	}
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   age,
		HttpOnly: httpOnly,
		Secure:   !s.cfg.Insecure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		// An Expires in the past beside Max-Age=0 for clients that read
		// only Expires (RFC 6265 §5.3 lets Max-Age win where both exist).
		c.Expires = time.Unix(0, 0)
	}
	return c
}

func noStore(c echo.Context) {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
}

// newCSRFToken returns 256 random bits, base64url without padding.
func newCSRFToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// TokenLookup returns the jwtauth TokenLookup of bff-web: Authorization: Bearer
// first, then the session cookie. A Bearer request is thereby authenticated
// by its header, which is what exempts it from the CSRF check.
func TokenLookup() func(c echo.Context) string {
	return jwtauth.FirstOf(jwtauth.BearerToken, jwtauth.CookieToken(CookieSession))
}

// readCredentials decodes and checks the login body without echoing any of
// it back: a password never appears in an error.
func readCredentials(c echo.Context) (string, string, error) {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return "", "", problem.New(http.StatusUnsupportedMediaType, problem.CodeUnsupportedMediaType, "The body must be application/json.")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	if err != nil {
		return "", "", err // The body limit's 413 or a broken connection.
	}
	if len(body) > maxBody {
		return "", "", problem.New(http.StatusRequestEntityTooLarge, problem.CodePayloadTooLarge,
			fmt.Sprintf("The login body must be at most %d bytes.", maxBody))
	}
	var cr credentials
	if err := input.Unmarshal(body, &cr); err != nil {
		return "", "", err
	}
	var errs []input.FieldError
	if cr.Username == nil || *cr.Username == "" || len(*cr.Username) > maxUsername || !utf8.ValidString(*cr.Username) {
		errs = append(errs, input.BodyError("/username", fmt.Sprintf("is required: 1-%d bytes of text", maxUsername)))
	}
	if cr.Password == nil || *cr.Password == "" || len(*cr.Password) > maxPassword {
		errs = append(errs, input.BodyError("/password", fmt.Sprintf("is required: 1-%d bytes", maxPassword)))
	}
	if len(errs) > 0 {
		return "", "", input.Invalid(errs...)
	}
	return *cr.Username, *cr.Password, nil
}
