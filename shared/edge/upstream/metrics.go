package upstream

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	edgemetrics "github.com/shopfront/shared/edge/metrics"
)

// DefaultVariant is the variant label of a client built without
// Options.Variant: the only deployment of a service that has no routing.
const DefaultVariant = "default"

// metrics are the per-service collectors served on /metrics. Clients of
// different services and variants share one set per registry.
type metrics struct {
	calls           *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	retries         *prometheus.CounterVec
	budgetExhausted *prometheus.CounterVec
	hedges          *prometheus.CounterVec
	breakerState    *breakerCollector
}

// breakerCollector exports the state of every client's breaker, read at
// scrape time: gobreaker moves from open to half-open lazily, on the next
// call, so a gauge set on state changes would show "open" long after the
// breaker let probes through.
type breakerCollector struct {
	desc *prometheus.Desc

	mu     sync.Mutex
	states map[breakerKey]breakerEntry
}

type breakerKey struct{ service, variant string }

// breakerEntry is the breaker exported for one key and the client that
// owns it, so that a client closed after its replacement was built does not
// take the replacement's series with it.
type breakerEntry struct {
	owner *Client
	state func() gobreaker.State
}

func newBreakerCollector() *breakerCollector {
	return &breakerCollector{
		desc: prometheus.NewDesc("shopfront_upstream_breaker_state",
			"Circuit breaker state by domain service and variant: 0 closed, 1 half-open, 2 open.",
			[]string{"service", "variant"}, nil),
		states: map[breakerKey]breakerEntry{},
	}
}

// add exports the breaker of c; a later client of the same service and
// variant replaces the earlier one.
func (b *breakerCollector) add(c *Client) {
	b.mu.Lock()
	b.states[breakerKey{c.service, c.variant}] = breakerEntry{owner: c, state: c.breaker.State}
	b.mu.Unlock()
}

// remove stops exporting c's breaker unless another client replaced it.
func (b *breakerCollector) remove(c *Client) {
	b.mu.Lock()
	k := breakerKey{c.service, c.variant}
	if e, ok := b.states[k]; ok && e.owner == c {
		delete(b.states, k)
	}
	b.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (b *breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

// Collect implements prometheus.Collector.
func (b *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, e := range b.states {
		ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, float64(e.state()), k.service, k.variant)
	}
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopfront_upstream_calls_total",
			Help: "Upstream calls by domain service, variant and outcome (ok or the failure kind).",
		}, []string{"service", "variant", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shopfront_upstream_duration_seconds",
			Help:    "Duration of upstream calls, retries and hedges included, by domain service and variant.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5},
		}, []string{"service", "variant"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopfront_upstream_retries_total",
			Help: "Retries of upstream calls by domain service.",
		}, []string{"service"}),
		budgetExhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopfront_upstream_retry_budget_exhausted_total",
			Help: "Retries refused because the service's retry budget was spent.",
		}, []string{"service"}),
		hedges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopfront_upstream_hedges_total",
			Help: "Hedged reads by domain service and variant: sent, and won (the hedge answered first).",
		}, []string{"service", "variant", "result"}),
		breakerState: newBreakerCollector(),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.calls, err = edgemetrics.Register(reg, m.calls); err != nil {
		return nil, fmt.Errorf("registering upstream metrics: %w", err)
	}
	if m.duration, err = edgemetrics.Register(reg, m.duration); err != nil {
		return nil, fmt.Errorf("registering upstream metrics: %w", err)
	}
	if m.retries, err = edgemetrics.Register(reg, m.retries); err != nil {
		return nil, fmt.Errorf("registering upstream metrics: %w", err)
	}
	if m.budgetExhausted, err = edgemetrics.Register(reg, m.budgetExhausted); err != nil {
		return nil, fmt.Errorf("registering upstream metrics: %w", err)
	}
	if m.hedges, err = edgemetrics.Register(reg, m.hedges); err != nil {
		return nil, fmt.Errorf("registering upstream metrics: %w", err)
	}
	if m.breakerState, err = edgemetrics.Register(reg, m.breakerState); err != nil {
		return nil, fmt.Errorf("registering upstream metrics: %w", err)
	}
	return m, nil
}
