// Package events is bff-web's live events route, GET /v1/events: it relays
// the notifications service's per-user event stream to the browser as
// Server-Sent Events or, on the same route with Upgrade: websocket, as
// WebSocket text messages {"event","id","data"}. One relay core serves both
// transports; each transport is a sink the core writes events, heartbeats
// and the stream's last words to.
//
// A stream, once its route middleware (JWT from the session cookie or a
// Bearer token, then the per-user rate limit, which it costs one request
// of) has let it through:
//
//	takes one of the user's stream slots (Config.MaxPerUser, shared in
//	Redis when configured), else 429 rate_limited
//	-> opens the upstream stream with the client's Last-Event-ID; a failure
//	   before the first byte is answered as any upstream failure (refused
//	   503, reset or 5xx 502, timeout 504)
//	-> relays every event unchanged, a heartbeat after Config.Heartbeat
//	   without one, and reconnects upstream from the last relayed id, with
//	   backoff, for up to Config.ReconnectFor when the upstream drops
//	-> ends at the credential's exp (event reauth), when the server starts
//	   draining (retry 1000 / close frame 1001), when the client leaves or
//	   when the upstream stays away.
package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/accesslog"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/services"
)

// Path is the route of the live events.
const Path = "/v1/events"

// Policy names the route's chain (see package route): authentication
// (cookie session or Bearer) and the per-user rate limit, and no CSRF
// check, as opening a stream changes nothing.
const Policy route.Policy = "events"

// Defaults of Config.
const (
	DefaultHeartbeat     = 15 * time.Second
	DefaultMaxPerUser    = 5
	DefaultRetry         = 3 * time.Second
	DefaultShutdownRetry = time.Second
	DefaultReconnectFor  = 10 * time.Second
	DefaultWriteTimeout  = 10 * time.Second
)

// Upstream opens a user's event stream at the notifications service
// (*services.Notifications).
type Upstream interface {
	Events(ctx context.Context, userID, lastEventID string, firstByte time.Duration) (io.ReadCloser, error)
}

var _ Upstream = (*services.Notifications)(nil)

// Config configures the relay.
type Config struct {
	// Upstream is the notifications service's client. Required.
	Upstream Upstream
	// Origins are the allowed CORS origins; a WebSocket handshake from any
	// other Origin is refused 403. Optional. Default none.
	Origins []string
	// Slots counts each user's open streams. Optional. Default an
	// in-process NewMemorySlots().
	Slots Slots
	// MaxPerUser is the most streams one user may hold open. Optional.
	// Default 5.
	MaxPerUser int
	// Heartbeat is the silence after which a ping is sent (an SSE comment,
	// a WebSocket ping), so that proxies keep the connection and dead
	// clients are found. Optional. Default 15s.
	Heartbeat time.Duration
	// Retry is the reconnection delay the first SSE line asks browsers for.
	// Optional. Default 3s.
	Retry time.Duration
	// ShutdownRetry is the delay sent when the server drains, so that
	// browsers reconnect soon, to another instance. Optional. Default 1s.
	ShutdownRetry time.Duration
	// FirstByte bounds connecting to the upstream and its first byte, at
	// the start and at each reconnection. Optional. Default the upstream
	// client's call timeout.
	FirstByte time.Duration
	// ReconnectFor is how long a dropped upstream stream is retried before
	// the stream ends. Optional. Default 10s.
	ReconnectFor time.Duration
	// WriteTimeout bounds each write to the client, so that a client that
	// stopped reading cannot hold its stream. Optional. Default 10s.
	WriteTimeout time.Duration
	// Draining is closed when the server starts shutting down
	// (server.Server.Draining); every stream then ends at once. Optional.
	// Default never.
	Draining <-chan struct{}
	// Now is the clock the credential's expiry is measured with. Optional.
	// Default time.Now.
	Now func() time.Time
	// Registry receives the stream metrics. Required.
	Registry prometheus.Registerer
	// Logger receives slot store failures. Optional. Default zap.NewNop().
	Logger *zap.Logger
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Upstream == nil {
		errs = append(errs, errors.New("events: Upstream is required"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("events: Registry is required"))
	}
	for name, d := range map[string]time.Duration{"Heartbeat": c.Heartbeat, "Retry": c.Retry,
		"ShutdownRetry": c.ShutdownRetry, "FirstByte": c.FirstByte, "ReconnectFor": c.ReconnectFor, "WriteTimeout": c.WriteTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("events: %s must not be negative, got %s", name, d))
		}
	}
	if c.MaxPerUser < 0 {
		errs = append(errs, fmt.Errorf("events: MaxPerUser must not be negative, got %d", c.MaxPerUser))
	}
	return errors.Join(errs...)
}

// Relay serves GET /v1/events.
type Relay struct {
	cfg     Config
	log     *zap.Logger
	m       *streamMetrics
	streams sync.WaitGroup
}

// New validates cfg and fills its defaults.
func New(cfg Config) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Heartbeat, DefaultHeartbeat)
	def(&cfg.Retry, DefaultRetry)
	def(&cfg.ShutdownRetry, DefaultShutdownRetry)
	def(&cfg.ReconnectFor, DefaultReconnectFor)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	if cfg.MaxPerUser == 0 {
		cfg.MaxPerUser = DefaultMaxPerUser
	}
	if cfg.Slots == nil {
		cfg.Slots = NewMemorySlots()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	m, err := newStreamMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Relay{cfg: cfg, log: cfg.Logger, m: m}, nil
}

// Skipper is true for the events route: middleware that buffers or rewrites
// bodies (compression) must leave its stream alone.
func Skipper(c echo.Context) bool { return c.Path() == Path }

// Wait blocks until every stream has ended or ctx is done: WebSocket
// connections are hijacked, so the server's drain does not wait for their
// close frames. Register it as a shutdown hook.
func (r *Relay) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { r.streams.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for event streams to end: %w", ctx.Err())
	}
}

// Handle serves one stream. It needs a principal: install it behind the
// JWT middleware.
func (r *Relay) Handle(c echo.Context) error {
	req := c.Request()
	p, ok := auth.FromContext(req.Context())
	if !ok || p.Subject == "" {
		return problem.Unauthorized("Sign in to receive events.")
	}
	ws := isWebSocket(req)
	if origin := req.Header.Get("Origin"); ws && origin != "" && !slices.Contains(r.cfg.Origins, origin) {
		// Browsers send cookies with a WebSocket handshake from any site and
		// apply no CORS to it: the Origin check is what stops another site
		// from reading a signed-in user's events.
		return problem.Forbidden("WebSocket connections are accepted from the allowed origins only.")
	}

	id := streamID()
	acquired, err := r.cfg.Slots.Acquire(req.Context(), p.Subject, id, r.cfg.MaxPerUser)
	if err != nil {
		return fmt.Errorf("taking a stream slot: %w", err)
	}
	if !acquired {
		r.m.rejected.Inc()
		return problem.New(http.StatusTooManyRequests, problem.CodeRateLimited,
			fmt.Sprintf("At most %d event streams may be open at once.", r.cfg.MaxPerUser)).
			WithHeader("Retry-After", fmt.Sprint(int(r.cfg.Retry/time.Second)+1))
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), time.Second)
		defer cancel()
		r.cfg.Slots.Release(ctx, p.Subject, id)
	}()

	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	lastID := req.Header.Get("Last-Event-ID")
	body, err := r.open(ctx, p, lastID)
	if err != nil {
		return err
	}

	var s sink
	transport := "sse"
	if ws {
		transport = "websocket"
		s, ctx, err = acceptWebSocket(ctx, c, r.cfg)
	} else {
		s, err = startSSE(c, r.cfg)
	}
	if err != nil {
		_ = body.Close()
		if errors.Is(err, errAnswered) {
			return nil
		}
		return err
	}
	r.streams.Add(1)
	defer r.streams.Done()
	metrics.MarkStream(c)
	open := r.m.open.WithLabelValues(transport)
	open.Inc()
	defer open.Dec()
	start := r.cfg.Now()

	n, end := r.pump(ctx, s, body, p, lastID, r.m.relayed.WithLabelValues(transport))

	d := r.cfg.Now().Sub(start)
	r.m.duration.WithLabelValues(transport).Observe(d.Seconds())
	accesslog.AddFields(c, zap.String("transport", transport), zap.Int("events", n),
		zap.Float64("streamMs", float64(d.Microseconds())/1000), zap.String("end", string(end)))
	return nil
}

// open opens the upstream stream of p's events after lastID.
func (r *Relay) open(ctx context.Context, p *auth.Principal, lastID string) (readCloser, error) {
	return r.cfg.Upstream.Events(ctx, p.Subject, lastID, r.cfg.FirstByte)
}

func isWebSocket(req *http.Request) bool {
	return strings.EqualFold(req.Header.Get("Upgrade"), "websocket")
}

// streamID names one stream in the slot store.
func streamID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// streamMetrics are the relay's collectors.
type streamMetrics struct {
	open     *prometheus.GaugeVec
	relayed  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	rejected prometheus.Counter
}

func newStreamMetrics(reg prometheus.Registerer) (*streamMetrics, error) {
	var m streamMetrics
	var err error
	if m.open, err = metrics.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Subsystem: "events", Name: "open_streams",
		Help: "Event streams open now, by transport (sse, websocket).",
	}, []string{"transport"})); err != nil {
		return nil, err
	}
	if m.relayed, err = metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "events", Name: "relayed_total",
		Help: "Events relayed to clients, by transport.",
	}, []string{"transport"})); err != nil {
		return nil, err
	}
	if m.duration, err = metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metrics.Namespace, Subsystem: "events", Name: "stream_duration_seconds",
		Help: "How long event streams stayed open, by transport; kept out of the request latency histogram.",
		// Seconds to hours: a stream lives until its token expires.
		Buckets: []float64{1, 10, 60, 300, 900, 1800, 3600, 7200},
	}, []string{"transport"})); err != nil {
		return nil, err
	}
	if m.rejected, err = metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "events", Name: "rejected_total",
		Help: "Event streams refused because the user had the most open already.",
	})); err != nil {
		return nil, err
	}
	return &m, nil
}
