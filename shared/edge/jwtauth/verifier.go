// Package jwtauth verifies the gateways' bearer JWTs: signatures
// by keys from the identity service's JWKS, an algorithm allow-list of
// RS256, ES256 and EdDSA (alg none and every HMAC rejected), and iss, aud,
// exp and nbf with 30 s leeway. A verified token becomes an *auth.Principal
// in the request context.
//
// Keys come from github.com/MicahParks/keyfunc/v3 over jwkset: the JWKS is
// fetched at start, refreshed in the background, and a token with an unknown
// kid triggers a refresh that is rate limited, so a flood of forged kids
// cannot turn the gateway into a load generator against identity.
//
// Verified tokens are cached by the SHA-256 of the token until the earlier of
// their expiry and CacheTTL. A cache hit is only honoured while the token's
// kid is still in the current key set, so removing a key from the JWKS revokes
// its tokens as soon as the gateway has fetched the new set (background
// refresh or an unknown kid), exactly as without the cache.
package jwtauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/problem"
)

// algorithms is the allow-list of signing algorithms. HMAC is absent on
// purpose: with asymmetric keys published in a JWKS, accepting HS256 would
// let anyone sign with the public key as the secret. It is unexported so
// that no importer can widen it.
var algorithms = []string{"RS256", "ES256", "EdDSA"}

// Algorithms returns a copy of the allow-list of signing algorithms.
func Algorithms() []string { return slices.Clone(algorithms) }

// DefaultLeeway is the clock skew allowed on exp and nbf.
const DefaultLeeway = 30 * time.Second

// MaxTokenBytes is the longest token verified. Identity's tokens are well
// under 2 KiB; a longer one is refused before it is hashed, decoded or
// its signature checked, so a huge token costs no more than a short one.
const MaxTokenBytes = 8 << 10

// errTokenTooLong is the logged cause of a token over MaxTokenBytes.
var errTokenTooLong = fmt.Errorf("token longer than %d bytes", MaxTokenBytes)

// ErrNotReady is returned by Ready until the JWKS was fetched once.
var ErrNotReady = errors.New("JWKS not fetched yet")

// KeysRetryAfter is the Retry-After, in seconds, of the 503 answered while
// no JWKS was ever fetched.
const KeysRetryAfter = 5

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// JWKSURL is the identity service's JWK Set. Required.
	JWKSURL string
	// Issuer is the required `iss`. Required.
	Issuer string
	// Audience is the required `aud` (one of the token's audiences). Required.
	Audience string
	// Client is the kind of caller the gateway serves, set on every
	// principal. Required.
	Client auth.Client
	// Leeway is the clock skew allowed on exp and nbf. Optional. Default 30 s.
	Leeway time.Duration
	// HTTPClient fetches the JWKS. Optional. Default a client with a 5 s timeout.
	HTTPClient *http.Client
	// FetchTimeout bounds one JWKS fetch, including the first one made by
	// NewVerifier. Optional. Default 5 s.
	FetchTimeout time.Duration
	// RefreshInterval is how often the JWKS is fetched in the background.
	// Optional. Default 5 min.
	RefreshInterval time.Duration
	// UnknownKIDRefreshInterval is the least time between two refreshes
	// caused by tokens with an unknown kid. Optional. Default 30 s.
	UnknownKIDRefreshInterval time.Duration
	// CacheSize is the number of verified tokens kept. Optional. Default
	// 10000; negative disables the cache.
	CacheSize int
	// CacheTTL is the longest time a verified token is trusted without a new
	// signature check. Optional. Default 1 min.
	CacheTTL time.Duration
	// Logger receives JWKS refresh failures. Optional. Default zap.NewNop().
	Logger *zap.Logger
	// Registry receives shopfront_jwks_refresh_failures_total, the count of
	// background JWKS fetches that failed: while it rises, new signing keys
	// are not picked up and removed ones stay trusted. Optional. Default:
	// not registered.
	Registry prometheus.Registerer
	// Now is the clock. Optional. Default time.Now.
	Now func() time.Time
}

// Validate reports every missing or malformed required field.
func (c VerifierConfig) Validate() error {
	var errs []error
	if u, err := url.Parse(c.JWKSURL); c.JWKSURL == "" || err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("jwtauth: JWKSURL %q must be an absolute URL", c.JWKSURL))
	}
	if c.Issuer == "" {
		errs = append(errs, errors.New("jwtauth: Issuer is required"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("jwtauth: Audience is required"))
	}
	if c.Client == "" {
		errs = append(errs, errors.New("jwtauth: Client is required"))
	}
	if c.Leeway < 0 || c.CacheTTL < 0 || c.RefreshInterval < 0 || c.UnknownKIDRefreshInterval < 0 || c.FetchTimeout < 0 {
		errs = append(errs, errors.New("jwtauth: durations must not be negative"))
	}
	return errors.Join(errs...)
}

func (c *VerifierConfig) defaults() {
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = 5 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.FetchTimeout}
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = 5 * time.Minute
	}
	if c.UnknownKIDRefreshInterval == 0 {
		c.UnknownKIDRefreshInterval = 30 * time.Second
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = time.Minute
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Verifier checks tokens against the JWKS. It is safe for concurrent use.
type Verifier struct {
	cfg    VerifierConfig
	keys   keyfunc.Keyfunc
	store  *trackedStore
	parser *jwt.Parser
	cache  *lru.Cache[[sha256.Size]byte, cached]
}

// cached is a verified token's principal and the facts that bound its reuse.
type cached struct {
	principal auth.Principal
	kid       string
	until     time.Time
}

// trackedStore is the in-memory key set behind the HTTP storage. It records
// a successful fetch (the only writer is a fetch that decoded a JWKS) for
// readiness, and lets cache hits check that their kid is still published.
type trackedStore struct {
	*jwkset.MemoryJWKSet
	fetched atomic.Bool
}

func (s *trackedStore) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	if err := s.MemoryJWKSet.KeyReplaceAll(ctx, given); err != nil {
		return err
	}
	s.fetched.Store(true)
	return nil
}

// NewVerifier fetches the JWKS once (a failure is not fatal: Ready reports it
// and fetching is retried with backoff) and refreshes it in the background
// until ctx is done.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	v := &Verifier{cfg: cfg, store: &trackedStore{MemoryJWKSet: jwkset.NewMemoryStorage()}}
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shopfront_jwks_refresh_failures_total",
		Help: "Background JWKS fetches that failed; while it rises, key rotations are not picked up.",
	})
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(failures); err != nil {
			return nil, fmt.Errorf("registering JWKS metrics: %w", err)
		}
	}
	logRefresh := func(_ context.Context, err error) {
		failures.Inc()
		cfg.Logger.Warn("refreshing JWKS failed", zap.String("url", cfg.JWKSURL), zap.Error(err))
	}
	httpStore, err := jwkset.NewStorageFromHTTP(cfg.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:                    cfg.HTTPClient,
		Ctx:                       ctx,
		HTTPTimeout:               cfg.FetchTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       logRefresh,
		RefreshInterval:           cfg.RefreshInterval,
		Storage:                   v.store,
	})
	if err != nil {
		return nil, fmt.Errorf("creating JWKS storage: %w", err)
	}
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{cfg.JWKSURL: httpStore},
		// A request with an unknown kid waits at most this long for its turn
		// (and its refresh); later ones fail fast instead of queueing.
		RateLimitWaitMax:  cfg.FetchTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.UnknownKIDRefreshInterval), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("creating JWKS client: %w", err)
	}
	if v.keys, err = keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: client}); err != nil {
		return nil, fmt.Errorf("creating keyfunc: %w", err)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(Algorithms()),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(cfg.Now),
	)
	if cfg.CacheSize > 0 {
		if v.cache, err = lru.New[[sha256.Size]byte, cached](cfg.CacheSize); err != nil {
			return nil, fmt.Errorf("creating token cache: %w", err)
		}
	}
	if !v.store.fetched.Load() {
		go v.retryFirstFetch(ctx)
	}
	return v, nil
}

// Ready returns nil once the JWKS was fetched at least once.
func (v *Verifier) Ready(context.Context) error {
	if v.store.fetched.Load() {
		return nil
	}
	return ErrNotReady
}

// retryFirstFetch fetches the JWKS with backoff until it succeeds once, so
// a gateway started before identity becomes ready without waiting for the
// next background refresh; later fetches are jwkset's.
func (v *Verifier) retryFirstFetch(ctx context.Context) {
	wait := 250 * time.Millisecond
	for !v.store.fetched.Load() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := v.fetch(ctx); err != nil {
			v.cfg.Logger.Warn("fetching JWKS failed", zap.String("url", v.cfg.JWKSURL), zap.Error(err))
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// fetch loads the JWKS into the key store once, decoding it as jwkset does.
func (v *Verifier) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return fmt.Errorf("building JWKS request: %w", err)
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("requesting JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("requesting JWKS: status %d", resp.StatusCode)
	}
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return fmt.Errorf("decoding JWKS: %w", err)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for _, m := range set.Keys {
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if errors.Is(err, jwkset.ErrUnsupportedKey) {
			continue
		}
		if err != nil {
			return fmt.Errorf("decoding JWK: %w", err)
		}
		keys = append(keys, k)
	}
	return v.store.KeyReplaceAll(ctx, keys)
}

// claims are the members of a Shopfront token.
type claims struct {
	jwt.RegisteredClaims
	Roles   []string `json:"roles,omitempty"`
	Tenant  string   `json:"tenant,omitempty"`
	Scope   string   `json:"scope,omitempty"`
	Partner string   `json:"partner,omitempty"`
}

// Verify checks token and returns its principal. Every failure of the
// token is a 401 invalid_token problem carrying `WWW-Authenticate: Bearer
// error="invalid_token"` (RFC 6750 §3.1); the cause is kept for logs only.
// A well-formed token with an allowed algorithm that cannot be checked
// because no JWKS was ever fetched (identity down since start) is instead
// KeysUnavailable's 503: the client did nothing wrong. Once a key set was
// fetched, an unknown kid is the token's fault again, 401. A token over
// MaxTokenBytes is invalid_token without any signature work.
// The returned principal is the caller's own copy; its Roles and Scopes
// slices are shared with the cache and must not be modified.
func (v *Verifier) Verify(ctx context.Context, token string) (*auth.Principal, error) {
	if len(token) > MaxTokenBytes {
		return nil, InvalidToken(errTokenTooLong)
	}
	var key [sha256.Size]byte
	if v.cache != nil {
		key = sha256.Sum256([]byte(token))
		if e, ok := v.cache.Get(key); ok {
			if v.cfg.Now().Before(e.until) && v.kidPublished(ctx, e.kid) {
				p := e.principal
				return &p, nil
			}
			v.cache.Remove(key)
		}
	}
	var c claims
	lookup := v.keys.KeyfuncCtx(ctx)
	tok, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		key, err := lookup(t)
		if err != nil && !v.store.fetched.Load() {
			// The lookup (which itself tries to fetch the set) failed and no
			// key set was ever fetched: nothing about this token is known to
			// be wrong, the gateway's own dependency is down.
			return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		return key, err
	})
	if err != nil {
		if errors.Is(err, ErrNotReady) {
			return nil, KeysUnavailable(err)
		}
		return nil, InvalidToken(err)
	}
	if c.Subject == "" {
		return nil, InvalidToken(errors.New("token has no sub"))
	}
	p := auth.Principal{
		Subject: c.Subject,
		Tenant:  c.Tenant,
		Partner: c.Partner,
		Client:  v.cfg.Client,
	}
	if c.ExpiresAt != nil {
		p.Expires = c.ExpiresAt.Time
	}
	for _, r := range c.Roles {
		p.Roles = append(p.Roles, auth.Role(r))
	}
	for _, s := range strings.Fields(c.Scope) {
		p.Scopes = append(p.Scopes, auth.Scope(s))
	}
	if kid, _ := tok.Header["kid"].(string); v.cache != nil && kid != "" {
		// Tokens without a kid are verified every time: their key cannot be
		// checked against the current set cheaply.
		until := v.cfg.Now().Add(v.cfg.CacheTTL)
		if exp := c.ExpiresAt.Time; exp.Before(until) {
			until = exp
		}
		v.cache.Add(key, cached{principal: p, kid: kid, until: until})
	}
	return &p, nil
}

func (v *Verifier) kidPublished(ctx context.Context, kid string) bool {
	_, err := v.store.KeyRead(ctx, kid)
	return err == nil
}

// InvalidToken is the 401 invalid_token problem for a token that failed
// verification because of cause (kept for logs, never sent).
func InvalidToken(cause error) *problem.Problem {
	detail := "The access token is invalid."
	if errors.Is(cause, jwt.ErrTokenExpired) {
		detail = "The access token has expired."
	}
	return problem.New(http.StatusUnauthorized, problem.CodeInvalidToken, detail).
		WithHeader("WWW-Authenticate", `Bearer error="invalid_token"`).Wrap(cause)
}

// KeysUnavailable is the 503 upstream_unavailable problem, with
// Retry-After, for a token that could not be checked because no JWKS was
// ever fetched; cause is kept for logs only.
func KeysUnavailable(cause error) *problem.Problem {
	return problem.New(http.StatusServiceUnavailable, problem.CodeUpstreamUnavailable, "").
		WithHeader("Retry-After", strconv.Itoa(KeysRetryAfter)).Wrap(cause)
}

// Missing is the 401 unauthorized problem for a request without a token.
func Missing() *problem.Problem {
	return problem.Unauthorized("Authentication is required.").WithHeader("WWW-Authenticate", "Bearer")
}
