// Package variant carries, per request, what the routing of domain-service
// calls needs from the edge and what it reports back: the client IP (the
// sticky key of anonymous callers), the X-Shopfront-Variant pin header (read
// here and removed from the request, so it never travels further), and the
// variants that served the request's upstream calls, which the access log
// prints. It is a leaf package so that the edge chain and the access log can
// use it without depending on the upstream clients.
package variant

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/shopfront/shared/edge/scope"
)

// Header pins the variant of one or more services for one request:
// "catalog=canary, pricing=stable". Only callers with the tester role are
// honoured (the router checks the principal when it routes a call); for
// everyone else it is ignored, never an error.
const Header = "X-Shopfront-Variant"

// maxPinBytes bounds the pin header kept: twelve services with long variant
// names fit well within it, and anything longer is not a pin.
const maxPinBytes = 512

// Request is the routing state of one request. It is safe for concurrent
// use by the parallel upstream calls of an aggregate route.
type Request struct {
	// ClientIP is the caller's address as the edge resolved it (trusted
	// proxies applied).
	ClientIP string
	// Pin is the raw X-Shopfront-Variant value, empty when absent or too
	// long.
	Pin string

	mu   sync.Mutex
	used []string // "service=variant", unique, in first-use order.
}

// Record notes that a call of service was served by variant.
func (r *Request) Record(service, variant string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.used {
		if len(u) == len(service)+1+len(variant) && strings.HasPrefix(u, service) && u[len(service)] == '=' &&
			u[len(service)+1:] == variant {
			return
		}
	}
	r.used = append(r.used, service+"="+variant)
}

// String lists the variants used, sorted, e.g. "catalog=canary, pricing=stable";
// "" when no call was routed.
func (r *Request) String() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	used := slices.Clone(r.used)
	r.mu.Unlock()
	slices.Sort(used)
	return strings.Join(used, ", ")
}

// PinFor returns the variant Pin names for service, if any. Malformed items
// are skipped: a pin is a testing aid, never a reason to fail a request.
func (r *Request) PinFor(service string) (string, bool) {
	if r == nil || r.Pin == "" {
		return "", false
	}
	rest := r.Pin
	for rest != "" {
		var item string
		item, rest, _ = strings.Cut(rest, ",")
		k, v, ok := strings.Cut(item, "=")
		if ok && strings.TrimSpace(k) == service {
			if v = strings.TrimSpace(v); v != "" {
				return v, true
			}
		}
	}
	return "", false
}

// NewContext returns ctx carrying r.
func NewContext(ctx context.Context, r *Request) context.Context {
	ctx, v := scope.Derive(ctx)
	v.Routing = r
	return ctx
}

// FromContext returns the request's routing state, nil outside a request
// that passed the middleware (a background job): routing then uses no
// client IP and no pin, and records nothing.
func FromContext(ctx context.Context) *Request {
	if v := scope.FromContext(ctx); v != nil {
		r, _ := v.Routing.(*Request)
		return r
	}
	return nil
}

// Config configures the middleware that starts each request's routing
// state.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
}

// ToMiddleware returns the middleware. It belongs in the edge chain outside
// the access log, which reads the variants used when the request is done.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			req := ec.Request()
			st := &Request{ClientIP: ec.RealIP()}
			if pins := req.Header.Values(Header); len(pins) > 0 {
				if p := strings.Join(pins, ","); len(p) <= maxPinBytes {
					st.Pin = p
				}
				req.Header.Del(Header)
			}
			// Filled into the request's edge scope in place: no copy of
			// the request.
			if v := scope.Own(req.Context()); v != nil {
				v.Routing = st
			} else {
				ec.SetRequest(req.WithContext(NewContext(req.Context(), st)))
			}
			return next(ec)
		}
	}, nil
}
