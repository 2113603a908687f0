package routing

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/cespare/xxhash/v2"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/variant"
)

// Sticky assignment is weighted rendezvous hashing. For a caller key k and
// each variant i of weight w_i > 0, a 64-bit hash of (service, k, i) is
// turned into u_i, uniform in (0, 1), and the caller goes to the variant of
// highest score w_i / -ln(u_i). -ln(u_i)/w_i is an exponential draw of rate
// w_i, and the smallest of independent exponential draws is variant i's with
// probability w_i / sum(w): each variant gets its weight's share of callers.
//
// The ramp property follows from each score depending on its own weight
// only: raising w_i raises variant i's score for every caller and leaves the
// others' alone, so every caller whose highest score was i's still has i
// highest. Raising a weight (or lowering another) only moves callers onto a
// variant, never off it, whichever variant it is and whatever the order of
// the list; adding a variant only takes callers from the others, and
// removing one moves only its own callers. The hash is fixed (xxhash64 of
// the service and the key, mixed with a hash of the variant's name), so
// every instance, and every restart, makes the same choice.

// Key namespaces keep a user id that equals a partner id or an address from
// landing on the same point.
const (
	nsPartner uint64 = 0x9e3779b97f4a7c15
	nsUser    uint64 = 0xc2b2ae3d27d4eb4f
	nsIP      uint64 = 0x165667b19e3779f9
)

// callerKey returns the sticky key of the caller behind ctx: the partner id
// for partner callers, else the user id, else the client IP; false when
// there is none (a background call).
func callerKey(ctx context.Context) (uint64, bool) {
	if p, ok := auth.FromContext(ctx); ok {
		switch {
		case p.Partner != "":
			return xxhash.Sum64String(p.Partner) ^ nsPartner, true
		case p.Subject != "":
			return xxhash.Sum64String(p.Subject) ^ nsUser, true
		}
	}
	if r := variant.FromContext(ctx); r != nil && r.ClientIP != "" {
		return xxhash.Sum64String(r.ClientIP) ^ nsIP, true
	}
	return 0, false
}

// mix is the splitmix64 finaliser: it spreads a key xor a variant's seed
// over all 64 bits, so the scores of different variants are independent.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// unit maps 64 bits to (0, 1), never 0 or 1.
func unit(x uint64) float64 {
	return (float64(x>>11) + 0.5) / (1 << 53)
}

// stickyPick returns the variant of the caller with key k.
func (s *serviceTable) stickyPick(k uint64) *variantEntry {
	var best *variantEntry
	bestScore := -1.0
	for _, v := range s.variants {
		if v.weight == 0 {
			continue
		}
		score := float64(v.weight) / -math.Log(unit(mix(k^v.seed)))
		if score > bestScore {
			best, bestScore = v, score
		}
	}
	return best
}

// randomPick returns a variant drawn by weight.
func (s *serviceTable) randomPick() *variantEntry {
	n := rand.N(s.total)
	for _, v := range s.variants {
		if n < v.weight {
			return v
		}
		n -= v.weight
	}
	return s.variants[len(s.variants)-1] // Unreachable: n < total.
}

// pick chooses the variant of one call: a tester's pin, else the sticky
// caller's variant, else one by weight.
func (s *serviceTable) pick(ctx context.Context) *variantEntry {
	if r := variant.FromContext(ctx); r != nil && r.Pin != "" {
		if p, ok := auth.FromContext(ctx); ok && p.HasRole(auth.RoleTester) {
			if name, ok := r.PinFor(s.name); ok {
				if v := s.byName(name); v != nil {
					return v
				}
			}
		}
	}
	if len(s.variants) == 1 {
		return s.variants[0]
	}
	if s.sticky {
		if k, ok := callerKey(ctx); ok {
			return s.stickyPick(k)
		}
	}
	return s.randomPick()
}

func (s *serviceTable) byName(name string) *variantEntry {
	for _, v := range s.variants {
		if v.name == name {
			return v
		}
	}
	return nil
}
