package upstream

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	edgemetrics "github.com/shopfront/shared/edge/metrics"
)

// metrics are the per-service collectors served on /metrics. Clients of
// different services share one set per registry.
type metrics struct {
	calls           *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	retries         *prometheus.CounterVec
	budgetExhausted *prometheus.CounterVec
	breakerState    *breakerCollector
}

// breakerCollector exports the state of every client's breaker, read at
// scrape time: gobreaker moves from open to half-open lazily, on the next
// call, so a gauge set on state changes would show "open" long after the
// breaker let probes through.
type breakerCollector struct {
	desc *prometheus.Desc

	mu     sync.Mutex
	states map[string]func() gobreaker.State
}

func newBreakerCollector() *breakerCollector {
	return &breakerCollector{
		desc: prometheus.NewDesc("shopfront_upstream_breaker_state",
			"Circuit breaker state by domain service: 0 closed, 1 half-open, 2 open.", []string{"service"}, nil),
		states: map[string]func() gobreaker.State{},
	}
}

// add exports the breaker of service; a later client of the same service
// replaces the earlier one.
func (b *breakerCollector) add(service string, state func() gobreaker.State) {
	b.mu.Lock()
	b.states[service] = state
	b.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (b *breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

// Collect implements prometheus.Collector.
func (b *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for service, state := range b.states {
		ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, float64(state()), service)
	}
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopfront_upstream_calls_total",
			Help: "Upstream calls by domain service and outcome (ok or the failure kind).",
		}, []string{"service", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shopfront_upstream_duration_seconds",
			Help:    "Duration of upstream calls, retries included, by domain service.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5},
		}, []string{"service"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopfront_upstream_retries_total",
			Help: "Retries of upstream calls by domain service.",
		}, []string{"service"}),
		budgetExhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopfront_upstream_retry_budget_exhausted_total",
			Help: "Retries refused because the service's retry budget was spent.",
		}, []string{"service"}),
		breakerState: newBreakerCollector(),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.calls, err = edgemetrics.Register(reg, m.calls)
	if err != nil {
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
	if m.breakerState, err = edgemetrics.Register(reg, m.breakerState); err != nil {
		return nil, fmt.Errorf("registering upstream metrics: %w", err)
	}
	return m, nil
}
