// Package route is the one shape in which a Shopfront gateway registers its
// routes: each api package lists its routes as a table of Route, each
// naming the Policy (the per-route chain) it runs behind, and the
// composition root maps every policy to its middleware and calls Register.
//
// Middleware is attached per route, never to an echo Group: a Group with
// middleware adds catch-all routes for its prefix, which the router
// prefers to its 405 handler and which run the group's middleware, so a
// known path asked with another method would be answered 404 instead of
// 405 with Allow (RFC 9110 §15.5.6), and an unknown path would meet
// authentication (401) instead of a plain 404. Registered per route, both
// are answered before any credential is checked.
package route

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
)

// Policy names the per-route chain a route runs behind (authenticated,
// optional authentication, a partner scope, ...). Each api package declares
// the policies its routes use; the composition root gives each its chain.
type Policy string

// Open is the policy of routes that need no credentials (API documents):
// its chain is empty unless the gateway gives it one.
const Open Policy = "open"

// Route is one route of a gateway.
type Route struct {
	// Method is the HTTP method. Required. A GET route answers HEAD too.
	Method string
	// Path is the echo path template, e.g. "/v1/products/:id". Required.
	Path string
	// Handler answers the route. Required.
	Handler echo.HandlerFunc
	// Policy names the route's chain in Chains. Required.
	Policy Policy
	// LongLived marks a route that holds its request open for long: an
	// event stream, an upload chunk. Such a request takes no slot of the
	// gateway's concurrency limit (package overload) and is never shed by
	// it: it would hold the slot for minutes and teach the limit that
	// requests take minutes. A route that bounds its own concurrency should
	// say so. Optional. Default false.
	LongLived bool
}

// Router is where routes are added; *echo.Echo is one.
type Router interface {
	Add(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// Chains gives each policy its middleware, outermost first.
type Chains map[Policy][]echo.MiddlewareFunc

// Register adds every route of the tables to r behind its policy's chain.
// It adds none when a route is incomplete, names a policy Chains does not
// have (Open excepted, whose default chain is empty) or repeats a method
// and path: a gateway must not start with a route it did not mean to
// serve.
func Register(r Router, chains Chains, tables ...[]Route) error {
	var errs []error
	seen := map[string]bool{}
	all := slices.Concat(tables...)
	for _, rt := range all {
		if rt.Method == "" || rt.Path == "" || rt.Handler == nil || rt.Policy == "" {
			errs = append(errs, fmt.Errorf("route: %s %s needs a Method, Path, Handler and Policy", rt.Method, rt.Path))
			continue
		}
		if _, ok := chains[rt.Policy]; !ok && rt.Policy != Open {
			errs = append(errs, fmt.Errorf("route: %s %s: no chain for policy %q", rt.Method, rt.Path, rt.Policy))
		}
		if key := rt.Method + " " + rt.Path; seen[key] {
			errs = append(errs, fmt.Errorf("route: %s registered twice", key))
		} else {
			seen[key] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, rt := range all {
		r.Add(rt.Method, rt.Path, Compose(rt.Handler, chains[rt.Policy]...))
	}
	return nil
}

// Compose wraps h in mw, outermost first, once. Register hands echo the
// composed handler rather than the middleware, which echo would apply anew
// on every request (a closure per layer and request). It relies on what
// every middleware of the gateways does: its per-request state lives in the
// handler it returns, never in the function that wraps next.
func Compose(h echo.HandlerFunc, mw ...echo.MiddlewareFunc) echo.HandlerFunc {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// LongLived returns whether the request matched, after routing, a route of
// the tables marked LongLived: its method and path template are one of
// theirs. A HEAD counts as the GET it is served as, whether or not the
// edge chain's HEAD-as-GET layer has run yet (the concurrency limit runs
// ahead of it): a HEAD of an event stream streams like the GET.
func LongLived(tables ...[]Route) func(c echo.Context) bool {
	long := map[string]bool{}
	for _, rt := range slices.Concat(tables...) {
		if rt.LongLived {
			long[rt.Method+" "+rt.Path] = true
		}
	}
	return func(c echo.Context) bool {
		if len(long) == 0 {
			return false
		}
		method := c.Request().Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		return long[method+" "+c.Path()]
	}
}
