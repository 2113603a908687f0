// Package metrics owns the HTTP server metrics of every gateway and the
// conventions other packages follow when they register their own
// collectors: every name starts with Namespace, labels are bounded (route
// templates, never raw paths), and collectors live on the
// *prometheus.Registry the gateway injects, never the global one.
package metrics

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shopfront/shared/edge/problem"
)

// Namespace prefixes every Shopfront metric name.
const Namespace = "shopfront"

// Unmatched is the route label of requests no route matched.
const Unmatched = "unmatched"

// DefaultBuckets are latency buckets in seconds for an API gateway whose
// routes answer in milliseconds and give up at 2.5 s.
func DefaultBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// NewRegistry returns a registry with the Go runtime and process
// collectors, for a gateway's /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus exposition format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})
}

// Register registers c on reg, or returns the collector already registered
// under the same descriptor, so that two middleware built on one registry
// share their series instead of failing.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// Config configures the HTTP metrics middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// Registry receives the collectors. Required.
	Registry prometheus.Registerer
	// Buckets of the duration histogram in seconds. Optional. Default
	// DefaultBuckets().
	Buckets []float64
	// Now is the clock. Optional. Default time.Now.
	Now func() time.Time
}

// ToMiddleware returns the middleware counting requests in
// shopfront_http_requests_total{route,method,status} and timing them in
// shopfront_http_request_duration_seconds{route,method}.
//
// It must run outside the access log (or anything else that renders
// errors): the status counted is the committed one, else the status the
// returned error resolves to.
//
// Install it with Echo.Use, not Echo.Pre: echo routes before running Use
// middleware, which is what gives it the route template (c.Path()).
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.Registry == nil {
		return nil, errors.New("metrics: Registry is required")
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	if len(c.Buckets) == 0 {
		c.Buckets = DefaultBuckets()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	requests, err := Register(c.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests served, by route template, method and status.",
	}, []string{"route", "method", "status"}))
	if err != nil {
		return nil, err
	}
	duration, err := Register(c.Registry, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "HTTP request latency in seconds, by route template and method.",
		Buckets: c.Buckets,
	}, []string{"route", "method"}))
	if err != nil {
		return nil, err
	}
	series := &seriesCache{requests: requests, duration: duration}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			start := c.Now()
			entryCtx := ec.Request().Context()
			defer func() {
				// A panic goes on to the outer recover, which answers 500.
				if r := recover(); r != nil {
					series.observe(ec, http.StatusInternalServerError, start, c.Now())
					panic(r)
				}
			}()
			err := next(ec)
			series.observe(ec, Status(ec, entryCtx, err), start, c.Now())
			return err
		}
	}, nil
}

// seriesCache keeps the children of the request metrics bound to their
// labels, so that a request finds its counter and histogram with one map
// read instead of hashing its label values into the vectors (and formatting
// its status) every time. The label sets are bounded (route templates,
// known methods, statuses), so the maps stay small; they are copied on the
// rare write and read without a lock.
type seriesCache struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu       sync.Mutex // serialises writers
	counters atomic.Pointer[map[requestLabels]prometheus.Counter]
	timers   atomic.Pointer[map[routeLabels]prometheus.Observer]
}

type routeLabels struct{ route, method string }

type requestLabels struct {
	routeLabels
	status int
}

func (s *seriesCache) observe(ec echo.Context, status int, start, end time.Time) {
	rl := routeLabels{route: Route(ec), method: Method(ec.Request().Method)}
	s.counter(requestLabels{rl, status}).Inc()
	if !IsStream(ec) {
		s.timer(rl).Observe(end.Sub(start).Seconds())
	}
}

func (s *seriesCache) counter(k requestLabels) prometheus.Counter {
	if m := s.counters.Load(); m != nil {
		if c, ok := (*m)[k]; ok {
			return c
		}
	}
	return cacheChild(&s.mu, &s.counters, k, func() prometheus.Counter {
		return s.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status))
	})
}

func (s *seriesCache) timer(k routeLabels) prometheus.Observer {
	if m := s.timers.Load(); m != nil {
		if o, ok := (*m)[k]; ok {
			return o
		}
	}
	return cacheChild(&s.mu, &s.timers, k, func() prometheus.Observer {
		return s.duration.WithLabelValues(k.route, k.method)
	})
}

// cacheChild adds the child made by child under k to the copy-on-write
// map p, unless another request added it first.
func cacheChild[K comparable, V any](mu *sync.Mutex, p *atomic.Pointer[map[K]V], k K, child func() V) V {
	mu.Lock()
	defer mu.Unlock()
	old := p.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	m := make(map[K]V, 1)
	if old != nil {
		m = maps.Clone(*old)
	}
	v := child()
	m[k] = v
	p.Store(&m)
	return v
}

// streamKey marks, in the echo context, a response that is a long-lived
// stream.
const streamKey = "shopfront.metrics.stream"

// MarkStream tells the middleware that c's response is a long-lived stream
// (Server-Sent Events, a WebSocket): it is counted in requests_total but
// kept out of the latency histogram, where one stream open for half an
// hour would swamp the p99 of every route answering in milliseconds. The
// stream's owner measures its duration in a histogram of its own.
func MarkStream(c echo.Context) { c.Set(streamKey, true) }

// IsStream reports whether MarkStream was called on c.
func IsStream(c echo.Context) bool {
	marked, _ := c.Get(streamKey).(bool)
	return marked
}

// Route is the route label of a request: echo's route template, or
// Unmatched when no route matched (a raw path would let any client create
// series without bound).
//
// Route, Matched, KnownMethod, Method and Status are the one definition of
// these labels: the access log and the request spans use them too, so a
// request is named alike in logs, metrics and traces.
func Route(c echo.Context) string {
	if Matched(c) {
		return c.Path()
	}
	return Unmatched
}

// Matched reports whether the router found a route for c's request. It is
// the one definition of "unmatched" for labels, logs, spans and the rate
// limit of unmatched requests, and it gives the same answer before the
// handler runs (a Skipper) and after it (whatever the handler returned):
//   - echo's own not-found and method-not-allowed handlers, and no route at
//     all (a request answered before routing), are unmatched;
//   - a declared route is matched even when it answers 404 itself (the
//     product does not exist), and so is a RouteNotFound route, the
//     catch-all echo's Group.Use adds for its prefix included: the
//     gateway (or the group's middleware) handles those, and their route
//     template is a bounded label.
func Matched(c echo.Context) bool {
	if c.Path() == "" || c.Handler() == nil {
		return false
	}
	// echo says it answers by itself no other way than by handing over its
	// package-level handlers (c.Path() may name a prefix of other routes).
	// Func values compare only by code pointer; routes, RouteNotFound ones
	// included, run echo's wrapping closure instead, so they never compare
	// equal.
	h := reflect.ValueOf(c.Handler()).Pointer()
	return h != notFoundHandler && h != methodNotAllowedHandler
}

var (
	notFoundHandler         = reflect.ValueOf(echo.NotFoundHandler).Pointer()
	methodNotAllowedHandler = reflect.ValueOf(echo.MethodNotAllowedHandler).Pointer()
)

// KnownMethod reports whether m is one of the standard methods of RFC 9110
// (plus PATCH), the ones labels and span names keep as they are.
func KnownMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return true
	}
	return false
}

// Method is the method label: the standard methods as they are, any other
// token a client invents as "OTHER", keeping the label bounded.
func Method(m string) string {
	if KnownMethod(m) {
		return m
	}
	return "OTHER"
}

// Status is the status of a finished request: 499 when the client went
// away (entryCtx is the request context on entry) and the handler failed,
// the committed status when the response was written, else the status
// that err resolves to.
func Status(c echo.Context, entryCtx context.Context, err error) int {
	if err != nil && errors.Is(entryCtx.Err(), context.Canceled) {
		return problem.StatusClientClosedRequest
	}
	if c.Response().Committed {
		return c.Response().Status
	}
	if err != nil {
		return problem.Resolve(err).Status
	}
	return c.Response().Status
}
