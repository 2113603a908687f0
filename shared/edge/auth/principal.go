// Package auth carries the verified identity of a caller. Verifiers (JWT,
// API key) put a *Principal into the request context; the upstream client
// turns it into the internal identity headers (X-User-Id, X-User-Roles, X-Tenant-Id, X-Partner-Id, X-Client).
package auth

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/shopfront/shared/edge/scope"
)

// Client is the kind of caller, sent upstream as X-Client.
type Client string

// The three gateway audiences.
const (
	ClientMobile  Client = "mobile"
	ClientWeb     Client = "web"
	ClientPartner Client = "partner"
)

// Role is a user role from the JWT `roles` claim.
type Role string

// RoleTester lets a caller pin the variant of a domain service with the
// X-Shopfront-Variant header, to try a canary before it takes traffic.
const RoleTester Role = "tester"

// Scope is an OAuth scope.
type Scope string

// The partner API's scopes.
const (
	ScopeCatalogRead   Scope = "catalog:read"
	ScopeInventoryRead Scope = "inventory:read"
	ScopeOrdersRead    Scope = "orders:read"
	ScopeOrdersWrite   Scope = "orders:write"
)

// Principal is a verified caller. Subject is the user (JWT sub) or, for
// partner client credentials, the OAuth client id; Partner is set for
// partner callers; KeyID names the API key used, never the key itself.
// Expires is the credential's expiry (JWT exp), zero for credentials that do
// not expire (API keys): long-lived connections end there, since the
// credential that opened them is no longer good.
type Principal struct {
	Subject string
	Roles   []Role
	Tenant  string
	Scopes  []Scope
	Partner string
	KeyID   string
	Client  Client
	Expires time.Time
}

// HasScope reports whether p was granted s.
func (p *Principal) HasScope(s Scope) bool { return p != nil && slices.Contains(p.Scopes, s) }

// HasRole reports whether p holds r.
func (p *Principal) HasRole(r Role) bool { return p != nil && slices.Contains(p.Roles, r) }

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	ctx, v := scope.Derive(ctx)
	v.Principal = p
	return ctx
}

// RequestWithPrincipal returns r carrying p, for an authentication layer:
// r itself when its context holds its own edge scope (the edge chain's
// request id layer made it), filled in place, else a copy of r whose context
// is WithPrincipal's.
func RequestWithPrincipal(r *http.Request, p *Principal) *http.Request {
	if v := scope.Own(r.Context()); v != nil {
		v.Principal = p
		return r
	}
	return r.WithContext(WithPrincipal(r.Context(), p))
}

// FromContext returns the verified principal of the request, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	v := scope.FromContext(ctx)
	if v == nil {
		return nil, false
	}
	p, ok := v.Principal.(*Principal)
	return p, ok && p != nil
}
