// Package scope carries what the edge chain learns about a request in one
// struct under one context value, so that the layers that learn something
// (the request id, the routing state, the verified caller) do not each copy
// the *http.Request to hang a context value on it: a copy is over 250 bytes
// and a context allocation, per layer and per request.
//
// The request id layer puts a request's own Values in its context (New);
// the layers inside it fill in their field of it (Own). Each field is read
// and written only through its owner's functions (requestid, variant and
// auth), whose WithX functions still return a derived context that leaves
// the parent's values as they were (Derive).
package scope

import "context"

// Values is one request's edge values. The layers fill it in before the
// route's handler runs and only read it afterwards, so the goroutines a
// handler starts read it without a lock.
type Values struct {
	// RequestID is the request's id, owned by package requestid.
	RequestID string
	// Routing is the request's *variant.Request, owned by package variant
	// (typed any because variant reads it from here).
	Routing any
	// Principal is the verified caller's *auth.Principal, owned by package
	// auth and set by the authentication layers.
	Principal any

	// own marks the Values New made for one request, which its layers may
	// fill in; a derived one may be shared by contexts it does not own.
	own bool
}

type ctxKey struct{}

// FromContext returns the nearest Values in ctx, or nil.
func FromContext(ctx context.Context) *Values {
	v, _ := ctx.Value(ctxKey{}).(*Values)
	return v
}

// New returns ctx carrying a request's own Values, starting as a copy of
// those in ctx, for the layer that starts a request's edge chain.
func New(ctx context.Context) (context.Context, *Values) {
	ctx, v := Derive(ctx)
	v.own = true
	return ctx, v
}

// Own returns the Values New made for the request whose context is ctx,
// for its layers to fill in, or nil when ctx has none or a nearer derived
// one: the caller then derives a context of its own.
func Own(ctx context.Context) *Values {
	if v := FromContext(ctx); v != nil && v.own {
		return v
	}
	return nil
}

// Derive returns a context carrying a copy of the Values in ctx (empty when
// it has none), to change without touching ctx's.
func Derive(ctx context.Context) (context.Context, *Values) {
	v := &Values{}
	if p := FromContext(ctx); p != nil {
		*v = *p
		v.own = false
	}
	return context.WithValue(ctx, ctxKey{}, v), v
}
