// Package idempotency makes POST /v2/orders safe to retry: the
// Idempotency-Key header is required; keys are scoped per partner; the same
// key with an equal JSON body gets the first response again (status and
// body) with Idempotent-Replayed: true; the same key with another body gets
// 422 idempotency_key_reused; records are kept 24 h.
//
// Concurrent retries are safe: the first request claims the key (SET NX in
// Redis, a locked map in process) and the others wait, bounded, for its
// response and replay it, so exactly one reaches the orders service. Only a
// 2xx response is kept; anything else (an upstream failure, a timeout, a
// 4xx) releases the key so that a retry runs again.
//
// The in-process store is bounded in records and bytes, overall and per
// partner, and never evicts a claim in flight: when only such claims could
// make room, a new key gets 503 idempotency_store_full with Retry-After.
//
// Bodies are compared by fingerprint: equal JSON (keys in any order, any
// whitespace, 2 and 2.0) matches; numbers are compared exactly, as text.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/problem"
)

// Header names of the IETF draft "The Idempotency-Key HTTP Header Field"
// and the replay marker clients look for.
const (
	HeaderKey      = "Idempotency-Key"
	HeaderReplayed = "Idempotent-Replayed"
)

// Error codes of this package's problems.
const (
	// CodeInFlight: the key is still being processed by another request
	// after the wait (409).
	CodeInFlight = "idempotency_key_in_flight"
	// CodeStoreFull: the in-process store has no room for a new key
	// without evicting a request still in flight (503 with Retry-After).
	CodeStoreFull = "idempotency_store_full"
)

// Defaults of Config.
const (
	DefaultTTL          = 24 * time.Hour
	DefaultLockTTL      = 30 * time.Second
	DefaultWait         = 10 * time.Second
	DefaultPollInterval = 25 * time.Millisecond
	DefaultMaxBody      = 1 << 20
	maxKeyLength        = 255
)

// Config configures the idempotency middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// Store keeps the records. Required.
	Store Store
	// Scope returns the owner of the keys of a request (the partner id), so
	// that two partners never share a key. Required.
	Scope func(c echo.Context) (string, error)
	// TTL is how long a completed response is kept. Optional. Default 24 h.
	TTL time.Duration
	// LockTTL bounds a claim whose owner died without completing it. It must
	// exceed the longest request. Optional. Default 30 s.
	LockTTL time.Duration
	// Wait bounds how long a concurrent duplicate waits for the first
	// request before it gets 409 idempotency_key_in_flight. Optional.
	// Default 10 s.
	Wait time.Duration
	// PollInterval is how often a waiting duplicate looks at the record.
	// Optional. Default 25 ms.
	PollInterval time.Duration
	// MaxResponseBytes is the largest response kept for replay; a larger one
	// releases the key. Optional. Default 1 MiB.
	MaxResponseBytes int
	// Logger reports store failures. Optional. Default no logs.
	Logger *zap.Logger
	// Registry receives shopfront_idempotency_requests_total{result}, one
	// count per keyed request by what became of it (see Outcomes).
	// Optional. Default: not registered.
	Registry prometheus.Registerer

	// outcomes is the counter behind Registry, set by ToMiddleware.
	outcomes *prometheus.CounterVec
}

// Outcomes are the values of the result label of
// shopfront_idempotency_requests_total: a first request that ran (new), a
// retry answered from the record (replayed), a key reused with another body
// (reused, 422), a duplicate that waited in vain (in_flight, 409), and the
// store refusing (store_full) or failing (store_unavailable), both 503.
func Outcomes() []string {
	return []string{"new", "replayed", "reused", "in_flight", "store_full", "store_unavailable"}
}

// ToMiddleware returns the middleware.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.Store == nil {
		return nil, errors.New("idempotency: Store is required")
	}
	if c.Scope == nil {
		return nil, errors.New("idempotency: Scope is required")
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.LockTTL == 0 {
		c.LockTTL = DefaultLockTTL
	}
	if c.Wait == 0 {
		c.Wait = DefaultWait
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxBody
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.TTL < 0 || c.LockTTL < 0 || c.Wait < 0 || c.PollInterval < 0 || c.MaxResponseBytes < 0 {
		return nil, errors.New("idempotency: durations and sizes must not be negative")
	}
	c.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopfront_idempotency_requests_total",
		Help: "Requests with an Idempotency-Key by result: new, replayed, reused, in_flight, store_full, store_unavailable.",
	}, []string{"result"})
	for _, o := range Outcomes() {
		c.outcomes.WithLabelValues(o)
	}
	if c.Registry != nil {
		if err := c.Registry.Register(c.outcomes); err != nil {
			return nil, fmt.Errorf("idempotency: registering metrics: %w", err)
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			return c.handle(ec, next)
		}
	}, nil
}

func (c Config) handle(ec echo.Context, next echo.HandlerFunc) error {
	req := ec.Request()
	key := req.Header.Get(HeaderKey)
	if key == "" || len(key) > maxKeyLength {
		return problem.ValidationFailed("The Idempotency-Key header is required (1-255 characters).").
			With("errors", []map[string]string{{"in": "header", "path": HeaderKey, "message": "is required"}})
	}
	scope, err := c.Scope(ec)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return fmt.Errorf("reading request body: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	fp, err := fingerprint(req.Method, req.URL.Path, body)
	if err != nil {
		return problem.ValidationFailed("The request body is not valid JSON.").Wrap(err)
	}
	storeKey := storeKey(scope, key)
	ctx := req.Context()

	deadline := time.Now().Add(c.Wait)
	for {
		mine := Record{Fingerprint: fp, Token: newToken()}
		existing, err := c.Store.Claim(ctx, storeKey, mine, c.LockTTL)
		if errors.Is(err, ErrFull) {
			// Every record that could make room is a request still in
			// flight; evicting one would let its retry order twice.
			c.Logger.Warn("idempotency store full", zap.String("partner", scope))
			c.outcomes.WithLabelValues("store_full").Inc()
			return problem.New(http.StatusServiceUnavailable, CodeStoreFull,
				"Too many orders are in progress; retry later.").WithHeader("Retry-After", "1").Wrap(err)
		}
		if err != nil {
			// Fail closed: without the store no duplicate can be detected,
			// and a retryable 503 is better than a second order.
			c.Logger.Error("idempotency store unavailable", zap.Error(err))
			c.outcomes.WithLabelValues("store_unavailable").Inc()
			return problem.New(http.StatusServiceUnavailable, problem.CodeUpstreamUnavailable, "").
				WithHeader("Retry-After", "1").Wrap(fmt.Errorf("claiming idempotency key: %w", err))
		}
		if existing == nil {
			c.outcomes.WithLabelValues("new").Inc()
			return c.run(ec, next, storeKey, mine)
		}
		if existing.Fingerprint != fp {
			c.outcomes.WithLabelValues("reused").Inc()
			return problem.New(http.StatusUnprocessableEntity, problem.CodeIdempotencyKeyReused,
				"This Idempotency-Key was used with a different request body.")
		}
		if existing.Done {
			c.outcomes.WithLabelValues("replayed").Inc()
			return replay(ec, existing)
		}
		if !time.Now().Before(deadline) {
			c.outcomes.WithLabelValues("in_flight").Inc()
			return problem.New(http.StatusConflict, CodeInFlight,
				"A request with this Idempotency-Key is still in progress; retry later.").WithHeader("Retry-After", "1")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.PollInterval):
		}
	}
}

// run executes the request as the key's owner and keeps its response when
// it succeeded.
func (c Config) run(ec echo.Context, next echo.HandlerFunc, key Key, mine Record) error {
	res := ec.Response()
	rec := &recorder{ResponseWriter: res.Writer, max: c.MaxResponseBytes}
	res.Writer = rec
	err := next(ec)
	res.Writer = rec.ResponseWriter

	// The store calls outlive a client that went away: the order exists.
	ctx := context.WithoutCancel(ec.Request().Context())
	if err != nil || res.Status < 200 || res.Status > 299 || rec.overflow || !res.Committed {
		if rerr := c.Store.Release(ctx, key, mine.Token); rerr != nil {
			c.Logger.Warn("releasing idempotency key", zap.Error(rerr))
		}
		return err
	}
	mine.Done, mine.Status, mine.Body = true, res.Status, rec.body.Bytes()
	mine.ContentType, mine.Location = res.Header().Get(echo.HeaderContentType), res.Header().Get(echo.HeaderLocation)
	if serr := c.Store.Complete(ctx, key, mine, c.TTL); serr != nil {
		// The client has its answer; a retry may run again, which the
		// orders service's own Idempotency-Key handling absorbs.
		c.Logger.Warn("storing idempotent response", zap.Error(serr))
	}
	return nil
}

func replay(ec echo.Context, r *Record) error {
	h := ec.Response().Header()
	h.Set(HeaderReplayed, "true")
	if r.Location != "" {
		h.Set(echo.HeaderLocation, r.Location)
	}
	ct := r.ContentType
	if ct == "" {
		ct = echo.MIMEApplicationJSON
	}
	return ec.Blob(r.Status, ct, r.Body)
}

// fingerprint hashes the method, the path and the canonical form of the
// JSON body (keys sorted, numbers in canonical text, whitespace dropped),
// so two bodies that are equal JSON share a fingerprint whatever their
// bytes. Numbers are decoded as text, never float64: 9007199254740993 and
// 9007199254740992 are one float64 but two different orders.
func fingerprint(method, path string, body []byte) (string, error) {
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", fmt.Errorf("parsing body: %w", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return "", errors.New("parsing body: more than one JSON value")
		}
		canon, err := json.Marshal(canonical(v)) // encoding/json sorts map keys.
		if err != nil {
			return "", fmt.Errorf("encoding body: %w", err)
		}
		h.Write(canon)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// canonical replaces every number of a decoded body by its canonical text.
func canonical(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			t[k] = canonical(val)
		}
	case []any:
		for i := range t {
			t[i] = canonical(t[i])
		}
	case json.Number:
		return json.Number(canonicalNumber(string(t)))
	}
	return v
}

// canonicalNumber writes a JSON number as its significant digits and a
// decimal exponent ("2", "2.0" and "0.2e1" are all "2e0"), exactly:
// nothing is rounded, so numbers that differ in any digit stay apart.
// Hand-written: encoding/json has only float64 or the text as sent, and
// big.Float or big.Rat would let a body's exponent ("1e999999999") decide
// how much memory the comparison takes. An exponent beyond int64 keeps the
// number's own text, which only makes its other spellings differ.
func canonicalNumber(s string) string {
	raw := s
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var exp int64
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil || e > math.MaxInt64/2 || e < math.MinInt64/2 {
			return raw
		}
		exp, s = e, s[:i]
	}
	whole, frac, _ := strings.Cut(s, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	exp -= int64(len(frac))
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	if trimmed == "" {
		return "0"
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return sign + trimmed + "e" + strconv.FormatInt(exp, 10)
}

// storeKey scopes the client's key to its partner; the key is hashed so
// that any client-chosen bytes make a short, safe store key.
func storeKey(scope, key string) Key {
	sum := sha256.Sum256([]byte(key))
	return Key{Scope: scope, ID: hex.EncodeToString(sum[:])}
}

// recorder copies what the handler writes, up to max bytes.
type recorder struct {
	http.ResponseWriter
	body     bytes.Buffer
	max      int
	overflow bool
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.overflow {
		if r.body.Len()+len(b) > r.max {
			r.overflow = true
			r.body.Reset()
		} else {
			r.body.Write(b)
		}
	}
	return r.ResponseWriter.Write(b)
}

// Flush keeps streaming handlers working.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
