package routing

import "context"

// PickName returns the variant a call of service on ctx would go to, for
// the distribution and ramp tests.
func (r *Router) PickName(ctx context.Context, service string) string {
	rt := r.Route(service)
	return r.current.Load().services[rt.idx].pick(ctx).name
}
