// Package server boots a Shopfront gateway: the public listener (HTTP or
// HTTPS with HTTP/2) serving an echo instance with the fixed edge chain, and
// the admin listener with /healthz, /readyz and /metrics. Run serves both
// until its context ends, then drains gracefully.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/buildinfo"
	"github.com/shopfront/shared/edge/logging"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/readiness"
	"github.com/shopfront/shared/edge/tracing"
)

// Options are the collaborators a server is given by its composition root.
type Options struct {
	// Name is the gateway's name (bff-mobile, ...), used in logs, metrics
	// and spans. Required.
	Name string
	// Logger receives server events, 5xx causes and access lines.
	// Optional. Default zap.NewNop().
	Logger *zap.Logger
	// Registry is served on /metrics and receives the edge metrics. The
	// composition root registers the Go and process collectors on it.
	// Optional. Default a new empty registry.
	Registry *prometheus.Registry
	// TracerProvider makes the request spans (tracing.Setup's Provider).
	// Optional. Default a no-op provider: an incoming traceparent is still
	// propagated, but no spans or trace ids are made.
	TracerProvider trace.TracerProvider
	// Propagator reads and writes traceparent/tracestate. Optional. Default
	// tracing.NewPropagator(): W3C Trace Context only (no baggage, which is
	// untrusted client input).
	Propagator propagation.TextMapPropagator
	// HookTimeout bounds the OnShutdown hooks together. Optional. Default 5s.
	HookTimeout time.Duration
	// Build is served as JSON on the admin GET /version. Optional. Default
	// buildinfo.Read(Name).
	Build *buildinfo.Info
	// LogLevel is read and changed on the admin GET and PUT /loglevel
	// (zap.AtomicLevel's own handler: {"level":"debug"}). Optional. Default
	// the level of Logger when logging.New made it, else no /loglevel.
	LogLevel *zap.AtomicLevel
}

// DefaultHookTimeout bounds the shutdown hooks.
const DefaultHookTimeout = 5 * time.Second

// HardMaxHeaderBytes is the public http.Server's MaxHeaderBytes: the most
// header bytes net/http reads (plus its own 4 KiB of slack) before it
// answers a plain-text 431 by itself, without problem+json or X-Request-Id.
// Config.MaxHeaderBytes (16 KiB by default) is enforced inside the
// edge chain with a problem+json 431 instead. The gap between the two is a
// trade: every connection may hold up to this much header memory while its
// request is read, in exchange for one consistent answer to everything a
// client is likely to send; 64 KiB bounds that memory at a few times the
// usual 8-16 KiB proxies allow. Beyond it net/http answers on its own.
const HardMaxHeaderBytes = 64 << 10

// Server is one gateway process's pair of listeners.
type Server struct {
	cfg   Config
	opts  Options
	log   *zap.Logger
	echo  *echo.Echo
	ready *readiness.Checker

	public, admin     *http.Server
	publicLn, adminLn net.Listener
	adminMux          *http.ServeMux

	mu        sync.Mutex
	hooks     []func(ctx context.Context) error
	started   bool
	installed bool
	// steps is the chain in order, as installed.
	steps []step
	// routed is the chain of the steps that run after routing, composed
	// once around the matched route's handler (see install).
	routed atomic.Pointer[echo.HandlerFunc]
	// pre is the chain of the steps that run before routing, composed
	// once around routing and routed (see install and ServeHTTP).
	pre atomic.Pointer[echo.HandlerFunc]

	// draining is closed when shutdown begins; see Draining.
	draining     chan struct{}
	drainingOnce sync.Once
}

// New validates cfg, binds both listeners (so a taken port fails start-up
// here, not later) and installs the edge chain. Call Run to serve, or Close
// to release the listeners without serving.
func New(cfg Config, opts Options) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		return nil, errors.New("server: Options.Name is required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = noop.NewTracerProvider()
	}
	if opts.Propagator == nil {
		opts.Propagator = tracing.NewPropagator()
	}
	if opts.HookTimeout <= 0 {
		opts.HookTimeout = DefaultHookTimeout
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.Logger, ready: readiness.New(0), draining: make(chan struct{})}

	var tlsCfg *tls.Config
	if cfg.TLS() {
		var err error
		if tlsCfg, err = loadTLS(cfg); err != nil {
			return nil, err
		}
	}
	e, err := s.newEcho()
	if err != nil {
		return nil, err
	}

	errLog, err := zap.NewStdLogAt(s.log.With(zap.String("listener", "public")), zap.WarnLevel)
	if err != nil {
		return nil, fmt.Errorf("making the server error log: %w", err)
	}
	s.public = &http.Server{
		Handler:     refuseConflictingFraming(e, closeWhenDraining(closeAfterChunked(s.Handler()), s.draining)),
		ConnContext: framingContext,
		// OPTIONS * goes through the handler like every request, so that
		// the requests a handler sees line up with the heads framingConn
		// counted.
		DisableGeneralOptionsHandler: true,
		ReadHeaderTimeout:            cfg.ReadHeaderTimeout,
		ReadTimeout:                  cfg.ReadTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		// The hard cap sits well above Config.MaxHeaderBytes so that the
		// edge chain, not net/http, answers oversized headers: net/http's own
		// 431 is plain text without X-Request-Id. See HardMaxHeaderBytes.
		MaxHeaderBytes: max(cfg.MaxHeaderBytes, HardMaxHeaderBytes),
		TLSConfig:      tlsCfg,
		ErrorLog:       errLog,
	}
	s.admin = &http.Server{
		Handler:           s.adminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}

	if s.publicLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	if s.adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		_ = s.publicLn.Close()
		return nil, fmt.Errorf("listening on admin %s: %w", cfg.AdminAddr, err)
	}
	return s, nil
}

func loadTLS(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	t := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if cfg.TLSClientCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading client CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reading client CA file %s: no PEM certificate in it", cfg.TLSClientCAFile)
		}
		t.ClientCAs, t.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return t, nil
}

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.Handle("GET /readyz", s.ready)
	mux.Handle("GET /metrics", metrics.Handler(s.opts.Registry))
	build := buildinfo.Read(s.opts.Name)
	if s.opts.Build != nil {
		build = *s.opts.Build
	}
	mux.Handle("GET /version", build.Handler())
	level := s.opts.LogLevel
	if level == nil {
		if l, ok := logging.LevelOf(s.log); ok {
			level = &l
		}
	}
	if level != nil {
		mux.Handle("GET /loglevel", level)
		mux.Handle("PUT /loglevel", level)
	}
	if s.cfg.AdminPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	s.adminMux = mux
	return mux
}

// HandleAdmin adds a handler to the admin listener, e.g. "GET /routing".
// Call it before Run.
func (s *Server) HandleAdmin(pattern string, h http.Handler) {
	s.adminMux.Handle(pattern, h)
}

// Echo returns the public echo instance with the edge chain installed; the
// gateway adds its routes to it (route.Register), each with its own chain.
// Layers for every request go through Install, never Echo.Pre or Echo.Use,
// so that the whole order stays decided in one place (the public listener
// runs Install's Pre layers itself: a layer added with Echo.Pre would never
// run).
func (s *Server) Echo() *echo.Echo { return s.echo }

// Handler returns the public chain as an http.Handler: the edge chain,
// Install's layers and the routes, without the listener's own framing and
// draining checks. It serves in-process benchmarks and tests; Echo's
// ServeHTTP would skip the Pre layers.
func (s *Server) Handler() http.Handler { return publicHandler{s} }

// Config returns the configuration in effect, defaults filled.
func (s *Server) Config() Config { return s.cfg }

// Addr returns the bound public address (useful with port 0).
func (s *Server) Addr() string { return s.publicLn.Addr().String() }

// AdminAddr returns the bound admin address.
func (s *Server) AdminAddr() string { return s.adminLn.Addr().String() }

// AddCheck registers a readiness check for /readyz. Required checks must all
// pass for 200; failing optional ones are only reported.
func (s *Server) AddCheck(name string, required bool, fn func(ctx context.Context) error) {
	s.ready.Add(name, required, fn)
}

// OnShutdown registers fn to run after the public listener has drained and
// before the admin listener closes, e.g. to flush audit logs or traces.
// Hooks run in reverse order of registration, like defers, within
// Options.HookTimeout together; an error is logged, not fatal.
func (s *Server) OnShutdown(fn func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, fn)
}

// Draining is closed when shutdown begins, before the drain delay and the
// wait for in-flight requests. Handlers that stream (Server-Sent Events,
// WebSockets) select on it and end their responses at once: the drain
// waits for every active request, and http.Server.Shutdown never closes
// hijacked connections, so a stream that ignored it would hold the drain
// for the whole shutdown timeout, or outlive it.
func (s *Server) Draining() <-chan struct{} { return s.draining }

// Close releases the listeners of a server whose Run was never called.
// Closing them again does nothing.
func (s *Server) Close() error {
	return errors.Join(ignoreClosed(s.publicLn.Close()), ignoreClosed(s.adminLn.Close()))
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Run serves until ctx is done, then shuts down gracefully:
//
//  1. /readyz turns 503 (draining) and every answer from then on closes
//     its connection, and after Config.DrainDelay
//  2. the public listener stops accepting; in-flight requests finish, for
//     up to Config.ShutdownTimeout, after which the rest are cut off;
//  3. the OnShutdown hooks run;
//  4. the admin listener closes last.
//
// It returns nil after a shutdown asked for by ctx, so main exits 0, and an
// error only when a listener fails on its own.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("server: Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	errc := make(chan error, 2)
	go func() { errc <- serve(s.admin, s.adminLn) }()
	go func() {
		errc <- serve(s.public, newFramingListener(s.publicLn, s.public.TLSConfig, s.cfg.ReadHeaderTimeout, s.log.With(zap.String("listener", "public"))))
	}()
	s.log.Info("serving", zap.String("gateway", s.opts.Name), zap.String("addr", s.Addr()),
		zap.String("adminAddr", s.AdminAddr()), zap.Bool("tls", s.cfg.TLS()))

	var failed error
	select {
	case <-ctx.Done():
	case failed = <-errc:
		s.log.Error("listener failed", zap.Error(failed))
	}

	s.ready.SetDraining()
	s.drainingOnce.Do(func() { close(s.draining) })
	s.log.Info("draining", zap.Duration("drainDelay", s.cfg.DrainDelay),
		zap.Duration("shutdownTimeout", s.cfg.ShutdownTimeout))
	if s.cfg.DrainDelay > 0 && failed == nil {
		time.Sleep(s.cfg.DrainDelay)
	}

	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	if err := s.public.Shutdown(dctx); err != nil {
		s.log.Warn("in-flight requests cut off at the shutdown timeout", zap.Error(err))
		_ = s.public.Close()
	}
	cancel()

	s.runHooks(context.WithoutCancel(ctx))

	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := s.admin.Shutdown(actx); err != nil {
		_ = s.admin.Close()
	}
	s.log.Info("stopped", zap.String("gateway", s.opts.Name))
	return failed
}

func (s *Server) runHooks(ctx context.Context) {
	s.mu.Lock()
	hooks := slices.Clone(s.hooks)
	s.mu.Unlock()
	hctx, cancel := context.WithTimeout(ctx, s.opts.HookTimeout)
	defer cancel()
	for i := len(hooks) - 1; i >= 0; i-- {
		if err := hooks[i](hctx); err != nil {
			s.log.Error("shutdown hook failed", zap.Error(err))
		}
	}
}

// serve runs srv on ln until it is shut down; http.ErrServerClosed is the
// normal end and reported as nil. The public listener does its own TLS
// handshakes (newFramingListener), so that HTTP/1 over TLS is watched in
// plaintext; net/http still serves HTTP/2 on the connections that
// negotiated it, as srv.TLSConfig offers "h2".
func serve(srv *http.Server, ln net.Listener) error {
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// closeWhenDraining closes each connection after its answer once draining
// is closed. A proxy that pools keep-alive connections (nginx's upstream
// keepalive) would otherwise still hold idle ones when the listener stops
// and the server closes them; a request the proxy writes on such a
// connection in that instant is lost, and the proxy may not resend a POST.
// Answered with Connection: close, the proxy drops each connection itself
// after the answer it was waiting for, so by the end of Config.DrainDelay
// none of its connections is left idle here (provided the proxy's own idle
// timeout for them is shorter than the delay).
func closeWhenDraining(h http.Handler, draining <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-draining:
			if r.ProtoMajor == 1 {
				w.Header().Set("Connection", "close")
			}
		default:
		}
		h.ServeHTTP(w, r)
	})
}

// closeAfterChunked closes the connection after answering an HTTP/1 request
// with a Transfer-Encoding. net/http reads a request that carries both
// Transfer-Encoding and Content-Length by the former and keeps the
// connection open (RFC 9112 §6.3 asks for it to be closed): a proxy in
// front that framed it by Content-Length would see another next request
// than the gateway. Closing leaves nothing on the connection to smuggle;
// the header is gone by the time a handler runs, so every chunked request
// is treated alike, which costs an honest chunked client one new
// connection.
func closeAfterChunked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
