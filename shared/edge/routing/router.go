// Package routing shares each domain service's calls between its deployed
// variants (stable, canary, A/B arms): weighted and sticky per caller, with
// a per-variant connection pool, breaker and metrics series (each variant
// is its own upstream.Client), a fallback variant while a variant's breaker
// is open, pins for testers, and the routing table swapped atomically on
// reload. A service without routing has one variant, upstream.DefaultVariant.
package routing

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	edgemetrics "github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/upstream"
	"github.com/shopfront/shared/edge/variant"
)

// DefaultPollInterval is how often Watch reads the file for changes.
const DefaultPollInterval = 2 * time.Second

// Base is a service's own configuration: its URL (the default of variants
// without one), timeout, breaker and retry settings, shared by its variants.
type Base struct {
	// Name is the service's name as in domain.ServiceNames. Required.
	Name string
	// Config is the service's client configuration. Required (BaseURL).
	Config upstream.Config
}

// Options are the collaborators of a Router.
type Options struct {
	// Upstream are the options of every variant's client; Variant is set
	// per variant. With Transport nil each variant has its own connection
	// pool, whose idle connections Close drops; services.New passes one
	// pool for all, where a removed variant's idle connections close after
	// the pool's idle timeout. Optional.
	Upstream upstream.Options
	// File is the BFF_CONFIG file whose routing section Reload and Watch
	// re-read. Optional. Default "": Reload fails, Watch only waits.
	File string
	// PollInterval is how often Watch reads File; a change is loaded once
	// two reads in a row saw the same content. Optional. Default 2 s;
	// negative disables polling (Reload only).
	PollInterval time.Duration
}

// Router holds the routing table in force. It is safe for concurrent use.
type Router struct {
	bases     []Base
	opts      Options
	log       *zap.Logger
	fallbacks *prometheus.CounterVec
	current   atomic.Pointer[table]
	routes    []*Route // Handles, by index of bases.

	mu       sync.Mutex // Serialises reloads.
	lastSeen [sha256.Size]byte
	pending  [sha256.Size]byte
}

// table is one immutable routing table: a request that loaded it uses it
// whole, so a swap is never seen half-done.
type table struct {
	services []*serviceTable // By index of Router.bases.
}

type serviceTable struct {
	name     string
	sticky   bool
	hedge    bool
	fallback *variantEntry
	variants []*variantEntry // As listed.
	total    int
}

type variantEntry struct {
	name   string
	weight int
	seed   uint64 // Hash of service and name, for stickyPick.
	client *upstream.Client
	// fallingBack is set while calls meant for this variant go to the
	// fallback, so that is logged once per outage, not once per call.
	fallingBack atomic.Bool
}

// New builds a client per variant of every service and puts cfg in force.
func New(bases []Base, cfg Config, opts Options) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Upstream.Logger == nil {
		opts.Upstream.Logger = zap.NewNop()
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	r := &Router{bases: bases, opts: opts, log: opts.Upstream.Logger}
	r.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopfront_upstream_fallbacks_total",
		Help: "Calls sent to a service's fallback variant because the chosen variant's breaker was open.",
	}, []string{"service", "variant", "fallback"})
	if reg := opts.Upstream.Registerer; reg != nil {
		var err error
		if r.fallbacks, err = edgemetrics.Register(reg, r.fallbacks); err != nil {
			return nil, fmt.Errorf("registering routing metrics: %w", err)
		}
	}
	t, _, err := r.build(cfg, nil)
	if err != nil {
		return nil, err
	}
	r.current.Store(t)
	for i, b := range bases {
		r.routes = append(r.routes, &Route{r: r, idx: i, name: b.Name})
	}
	if opts.File != "" {
		if data, err := os.ReadFile(opts.File); err == nil {
			r.lastSeen = sha256.Sum256(data)
		}
	}
	return r, nil
}

// build makes the table of cfg. Clients of prev whose service, variant name
// and URL are unchanged are kept, with their pools, breakers and latency
// estimates; the clients of prev not kept are returned for closing once
// the new table is in force.
func (r *Router) build(cfg Config, prev *table) (*table, []*upstream.Client, error) {
	kept := map[*upstream.Client]bool{}
	var made []*upstream.Client
	fail := func(err error) (*table, []*upstream.Client, error) {
		for _, c := range made {
			c.Close()
		}
		return nil, nil, err
	}
	t := &table{}
	for i, b := range r.bases {
		sc := cfg.service(b.Name)
		st := &serviceTable{name: b.Name, sticky: true}
		variants := []Variant{{Name: upstream.DefaultVariant, Weight: 1}}
		if sc != nil {
			st.sticky = sc.Sticky != StickyNone
			st.hedge = sc.Hedge
			if len(sc.Variants) > 0 {
				variants = sc.Variants
			}
		}
		for _, v := range variants {
			u := b.Config.BaseURL
			if v.URL != "" {
				u = v.URL
			}
			e := &variantEntry{name: v.Name, weight: v.Weight, seed: xxhash.Sum64String(b.Name + "\x00" + v.Name)}
			if old := prev.find(i, v.Name); old != nil && old.client.BaseURL() == strings.TrimRight(u, "/") {
				e.client = old.client
				kept[old.client] = true
			} else {
				ucfg := b.Config
				ucfg.BaseURL = u
				o := r.opts.Upstream
				o.Variant = v.Name
				c, err := upstream.New(b.Name, ucfg, o)
				if err != nil {
					return fail(fmt.Errorf("routing %s variant %s: %w", b.Name, v.Name, err))
				}
				made = append(made, c)
				e.client = c
			}
			st.variants = append(st.variants, e)
			st.total += v.Weight
		}
		if sc != nil && sc.Fallback != "" {
			st.fallback = st.byName(sc.Fallback)
		}
		t.services = append(t.services, st)
	}
	var stale []*upstream.Client
	if prev != nil {
		for _, s := range prev.services {
			for _, v := range s.variants {
				if !kept[v.client] {
					stale = append(stale, v.client)
				}
			}
		}
	}
	return t, stale, nil
}

// find returns the variant named name of service i in t, nil when t is nil
// or has none.
func (t *table) find(i int, name string) *variantEntry {
	if t == nil || i >= len(t.services) {
		return nil
	}
	return t.services[i].byName(name)
}

// Route returns the route of the named service, nil for a name that is
// not one of the bases. A route always uses the table in force.
func (r *Router) Route(name string) *Route {
	for _, s := range r.routes {
		if s.name == name {
			return s
		}
	}
	return nil
}

// Reload reads File again and puts its routing section in force. A file
// that cannot be read or holds a bad routing section leaves the routing in
// force, logs one error line and is returned. Only the routing section is
// reloaded; changes to the rest of the file take a restart.
func (r *Router) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opts.File == "" {
		return errors.New("routing: no configuration file to reload")
	}
	data, err := os.ReadFile(r.opts.File)
	if err != nil {
		err = fmt.Errorf("reading %s: %w", r.opts.File, err)
		r.log.Error("keeping the routing in force", zap.Error(err))
		return err
	}
	return r.apply(data)
}

// apply parses data and swaps its table in; the caller holds mu.
func (r *Router) apply(data []byte) error {
	r.lastSeen = sha256.Sum256(data)
	cfg, err := ParseFile(data)
	if err == nil {
		var t *table
		var stale []*upstream.Client
		if t, stale, err = r.build(cfg, r.current.Load()); err == nil {
			r.current.Store(t)
			// Requests that loaded the old table may still call these: Close
			// keeps them working, it only drops their idle connections and
			// their breaker series.
			for _, c := range stale {
				c.Close()
			}
			r.log.Info("routing reloaded (only the routing section is reloaded; other settings need a restart)",
				zap.String("path", r.opts.File), zap.String("routing", t.String()))
			return nil
		}
	}
	err = fmt.Errorf("reloading routing from %s: %w", r.opts.File, err)
	r.log.Error("keeping the routing in force: the new routing section is invalid", zap.Error(err))
	return err
}

// reloadIfChanged reloads when the file's content differs from the last
// one seen and read the same twice in a row: a file being written in place
// is never loaded half-written, and a bad file is reported once, not at
// every poll.
func (r *Router) reloadIfChanged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := os.ReadFile(r.opts.File)
	if err != nil {
		return // A file being replaced; the next poll or a signal retries.
	}
	sum := sha256.Sum256(data)
	if sum == r.lastSeen {
		return
	}
	if sum != r.pending {
		r.pending = sum
		return
	}
	_ = r.apply(data)
}

// Watch polls File every PollInterval and reloads the routing when its
// content changed, until ctx is done. Signals (SIGHUP) call Reload.
func (r *Router) Watch(ctx context.Context) {
	if r.opts.File == "" || r.opts.PollInterval < 0 {
		return
	}
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reloadIfChanged()
		}
	}
}

// String summarises t for a log line: "catalog=stable:90,canary:10 ...",
// services with only the default variant left out.
func (t *table) String() string {
	var b strings.Builder
	for _, s := range t.services {
		if len(s.variants) == 1 && s.variants[0].name == upstream.DefaultVariant && !s.hedge {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.name)
		b.WriteByte('=')
		for i, v := range s.variants {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s:%d", v.name, v.weight)
		}
	}
	return b.String()
}

// Upstreams returns every variant's client in force, services in order.
func (r *Router) Upstreams() []*upstream.Client {
	var out []*upstream.Client
	for _, s := range r.current.Load().services {
		for _, v := range s.variants {
			out = append(out, v.client)
		}
	}
	return out
}

// Close closes every client in force.
func (r *Router) Close() {
	for _, c := range r.Upstreams() {
		c.Close()
	}
}

// View is the routing in force as GET /routing shows it.
type View struct {
	Services map[string]ServiceView `json:"services"`
}

// ServiceView is one service's routing.
type ServiceView struct {
	Sticky   string        `json:"sticky"`
	Fallback string        `json:"fallback,omitempty"`
	Hedge    bool          `json:"hedge"`
	Variants []VariantView `json:"variants"`
}

// VariantView is one variant: its host only, since a URL may carry a path
// or credentials operators need not see here.
type VariantView struct {
	Name    string `json:"name"`
	Weight  int    `json:"weight"`
	Host    string `json:"host"`
	Breaker string `json:"breaker"`
}

// View returns the routing in force.
func (r *Router) View() View {
	v := View{Services: map[string]ServiceView{}}
	for _, s := range r.current.Load().services {
		sv := ServiceView{Sticky: StickyUser, Hedge: s.hedge}
		if !s.sticky {
			sv.Sticky = StickyNone
		}
		if s.fallback != nil {
			sv.Fallback = s.fallback.name
		}
		for _, e := range s.variants {
			host := ""
			if u, err := url.Parse(e.client.BaseURL()); err == nil {
				host = u.Host
			}
			sv.Variants = append(sv.Variants, VariantView{Name: e.name, Weight: e.weight, Host: host, Breaker: e.client.BreakerState()})
		}
		v.Services[s.name] = sv
	}
	return v
}

// ServeHTTP serves View as JSON, for the admin listener's GET /routing.
func (r *Router) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(r.View())
}

// Route routes the calls of one domain service. It has the methods of
// upstream.Client that the typed clients use.
type Route struct {
	r    *Router
	idx  int
	name string
}

// Name returns the service's name.
func (s *Route) Name() string { return s.name }

// Get calls GET path?query on the routed variant and decodes the JSON answer
// into out.
func (s *Route) Get(ctx context.Context, path string, query url.Values, out any) error {
	return s.Do(ctx, upstream.Request{Path: path, Query: query}, out)
}

// Do makes the call on the variant chosen for it. While that variant's
// breaker is open and the service has a fallback, the call goes to the
// fallback instead, so callers see no error once the breaker has opened;
// a call refused by a breaker that opened meanwhile is sent to the
// fallback too.
func (s *Route) Do(ctx context.Context, r upstream.Request, out any) error {
	st := s.r.current.Load().services[s.idx]
	v := st.pick(ctx)
	r.Hedge = st.hedge
	rec := variant.FromContext(ctx)
	fb := st.fallback
	if fb != nil && fb != v {
		if v.client.BreakerOpen() {
			return s.toFallback(ctx, rec, v, fb, r, out)
		}
		if v.fallingBack.CompareAndSwap(true, false) {
			s.r.log.Info("routing calls to their variant again", zap.String("service", s.name), zap.String("variant", v.name))
		}
	}
	rec.Record(s.name, v.name)
	err := v.client.Do(ctx, r, out)
	var ue *upstream.Error
	if fb != nil && fb != v && errors.As(err, &ue) && ue.Kind == upstream.KindBreakerOpen {
		return s.toFallback(ctx, rec, v, fb, r, out)
	}
	return err
}

// Stream opens a long-lived response (an event stream) on the variant
// chosen for the call, or on the fallback while that variant's breaker is
// open, like Do; firstByte bounds the wait for the answer's headers only.
// The caller closes the body.
func (s *Route) Stream(ctx context.Context, r upstream.Request, firstByte time.Duration) (*http.Response, error) {
	st := s.r.current.Load().services[s.idx]
	v := st.pick(ctx)
	rec := variant.FromContext(ctx)
	if fb := st.fallback; fb != nil && fb != v && v.client.BreakerOpen() {
		s.r.fallbacks.WithLabelValues(s.name, v.name, fb.name).Inc()
		v = fb
	}
	rec.Record(s.name, v.name)
	return v.client.Stream(ctx, r, firstByte)
}

func (s *Route) toFallback(ctx context.Context, rec *variant.Request, from, fb *variantEntry, r upstream.Request, out any) error {
	s.r.fallbacks.WithLabelValues(s.name, from.name, fb.name).Inc()
	if from.fallingBack.CompareAndSwap(false, true) {
		s.r.log.Warn("routing calls to the fallback variant: the variant's breaker is open",
			zap.String("service", s.name), zap.String("variant", from.name), zap.String("fallback", fb.name))
	}
	rec.Record(s.name, fb.name)
	return fb.client.Do(ctx, r, out)
}

// CheckBreaker is a readiness check reporting the variants whose breaker is
// open and that have no fallback to take their calls.
func (s *Route) CheckBreaker(ctx context.Context) error {
	st := s.r.current.Load().services[s.idx]
	var errs []error
	for _, v := range st.variants {
		if st.fallback != nil && st.fallback != v {
			continue
		}
		if err := v.client.CheckBreaker(ctx); err != nil {
			errs = append(errs, fmt.Errorf("variant %s: %w", v.name, err))
		}
	}
	return errors.Join(errs...)
}

// BreakerState returns the breaker state of the service's variants, one
// "name=state" each, or the bare state when the service has one variant.
func (s *Route) BreakerState() string {
	st := s.r.current.Load().services[s.idx]
	if len(st.variants) == 1 {
		return st.variants[0].client.BreakerState()
	}
	parts := make([]string, len(st.variants))
	for i, v := range st.variants {
		parts[i] = v.name + "=" + v.client.BreakerState()
	}
	return strings.Join(parts, ",")
}
