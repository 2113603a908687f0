// Package apikey authenticates bff-partner callers: API keys from
// the partner keys file, compared by SHA-256 in constant time, with scopes,
// revocation, per-partner plans and source-address allow-lists, reloaded on
// SIGHUP or file change without dropping a request. Client-credentials JWTs
// are an equal alternative through Config.Bearer.
//
// bff-partner wires it like this (SIGHUP and file changes reload the keys):
//
//	keys, err := apikey.Open(apikey.StoreConfig{Path: cfg.KeysFile, Logger: log})
//	hup := make(chan os.Signal, 1)
//	signal.Notify(hup, syscall.SIGHUP)
//	go keys.Watch(ctx, hup)
//	authn, _ := apikey.Config{Store: keys, Bearer: verifier, ErrorHandler: lim.ChargeFailure}.ToMiddleware()
//	limit, _ := ratelimit.Config{Limiter: lim, Policy: ratelimit.PerPartner(keys.Plan)}.ToMiddleware()
//	// Per route, not on a Group: echo answers a Group's unmatched methods
//	// with its catch-all 404 instead of 405 with Allow.
//	e.GET("/v2/products", h.products, authn, limit, apikey.RequireScope(auth.ScopeCatalogRead))
//
// The audit log names the key of a refused request with keys.Identify.
package apikey

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/ratelimit"
)

// Scopes returns the scopes a key may be granted, as a fresh slice.
func Scopes() []auth.Scope {
	return []auth.Scope{auth.ScopeCatalogRead, auth.ScopeInventoryRead, auth.ScopeOrdersRead, auth.ScopeOrdersWrite}
}

// Partner is one partner of the keys file.
type Partner struct {
	// ID is sent upstream as X-Partner-Id.
	ID string
	// Name is the partner's display name.
	Name string
	// Plan is the partner's rate limit, ratelimit.PartnerLimit() when the
	// file has none.
	Plan ratelimit.Limit
	// AllowedCIDRs limits the source addresses of the partner's requests;
	// empty allows any address.
	AllowedCIDRs []netip.Prefix
}

// Allows reports whether ip (as echo's RealIP returns it) may call as p.
func (p *Partner) Allows(ip string) bool {
	if len(p.AllowedCIDRs) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, c := range p.AllowedCIDRs {
		if c.Contains(addr) {
			return true
		}
	}
	return false
}

// Key is one API key; the key itself is never held, only its digest.
type Key struct {
	// ID names the key in logs and the audit trail instead of the key.
	ID string
	// Partner owns the key.
	Partner *Partner
	// Scopes are what the key may do.
	Scopes []auth.Scope
	// Revoked keys are refused as invalid_api_key.
	Revoked bool
	digest  [sha256.Size]byte
}

// Keys is an immutable, validated keys file.
type Keys struct {
	partners map[string]*Partner
	keys     []*Key
	byDigest map[[sha256.Size]byte]*Key
}

// Partner returns the partner with id.
func (k *Keys) Partner(id string) (*Partner, bool) {
	p, ok := k.partners[id]
	return p, ok
}

// Len returns the number of keys.
func (k *Keys) Len() int { return len(k.keys) }

// Lookup finds the key whose digest is the SHA-256 of presented, revoked
// keys included, with one map lookup whatever the number of keys. Indexing
// by digest leaks nothing usable: the map's timing depends on the digest of
// what the caller sent, which the caller cannot steer towards a stored
// digest (that would be a SHA-256 preimage), and never on the key itself.
// The entry found is still compared in constant time, so the answer does
// not rest on the map's own equality alone.
func (k *Keys) Lookup(presented string) (*Key, bool) {
	d := sha256.Sum256([]byte(presented))
	key, ok := k.byDigest[d]
	if !ok || subtle.ConstantTimeCompare(d[:], key.digest[:]) != 1 {
		return nil, false
	}
	return key, true
}

type fileDoc struct {
	Partners []partnerDoc `yaml:"partners"`
}

type partnerDoc struct {
	ID           string           `yaml:"id"`
	Name         string           `yaml:"name"`
	Plan         *ratelimit.Limit `yaml:"plan"`
	AllowedCIDRs []string         `yaml:"allowed_cidrs"`
	Keys         []keyDoc         `yaml:"keys"`
}

type keyDoc struct {
	ID      string   `yaml:"id"`
	SHA256  string   `yaml:"sha256"`
	Scopes  []string `yaml:"scopes"`
	Revoked bool     `yaml:"revoked"`
}

// Parse decodes and validates a keys file strictly (unknown fields are
// errors), reporting every problem, one per line, with its location.
// An empty file is an error, not "no partners": it is far more often a file
// caught mid-write than an intent to revoke every key (write `partners: []`
// for that).
func Parse(data []byte) (*Keys, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("keys file is empty (write `partners: []` for no partners)")
	}
	var doc fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding keys file: %w", err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	out := &Keys{partners: map[string]*Partner{}, byDigest: map[[sha256.Size]byte]*Key{}}
	keyIDs := map[string]bool{}
	for i, pd := range doc.Partners {
		at := fmt.Sprintf("partners[%d]", i)
		p := &Partner{ID: pd.ID, Name: pd.Name, Plan: ratelimit.PartnerLimit()}
		switch {
		case pd.ID == "":
			bad("%s.id: required", at)
		case out.partners[pd.ID] != nil:
			bad("%s.id: duplicate partner id %q", at, pd.ID)
		default:
			out.partners[pd.ID] = p
		}
		if pd.Plan != nil {
			if pd.Plan.Rate <= 0 || pd.Plan.Burst <= 0 {
				bad("%s.plan: per_minute and burst must be positive, got %d and %d", at, pd.Plan.Rate, pd.Plan.Burst)
			}
			p.Plan = *pd.Plan
		}
		for j, c := range pd.AllowedCIDRs {
			prefix, err := parseCIDR(c)
			if err != nil {
				bad("%s.allowed_cidrs[%d]: %q is not a CIDR", at, j, c)
				continue
			}
			p.AllowedCIDRs = append(p.AllowedCIDRs, prefix)
		}
		for j, kd := range pd.Keys {
			kat := fmt.Sprintf("%s.keys[%d]", at, j)
			k := &Key{ID: kd.ID, Partner: p, Revoked: kd.Revoked}
			switch {
			case kd.ID == "":
				bad("%s.id: required", kat)
			case keyIDs[kd.ID]:
				bad("%s.id: duplicate key id %q", kat, kd.ID)
			}
			keyIDs[kd.ID] = true
			raw, err := hex.DecodeString(kd.SHA256)
			switch {
			case err != nil || len(raw) != sha256.Size || kd.SHA256 != strings.ToLower(kd.SHA256):
				bad("%s.sha256: must be 64 lower-case hex characters (the SHA-256 of the key)", kat)
			default:
				copy(k.digest[:], raw)
				if out.byDigest[k.digest] != nil {
					bad("%s.sha256: duplicate of another key's digest", kat)
					break
				}
				out.byDigest[k.digest] = k
			}
			known := Scopes()
			for n, s := range kd.Scopes {
				if !slices.Contains(known, auth.Scope(s)) {
					bad("%s.scopes[%d]: unknown scope %q (known: %s)", kat, n, s, joinScopes(known))
					continue
				}
				k.Scopes = append(k.Scopes, auth.Scope(s))
			}
			out.keys = append(out.keys, k)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// parseCIDR accepts a CIDR or, for convenience, a bare address (a /32 or
// /128).
func parseCIDR(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func joinScopes(ss []auth.Scope) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
