package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// propagatingProvider is the TracerProvider of a gateway that exports no
// spans (no OTLP endpoint and no span processor). Its spans are span
// contexts only: a trace id (the incoming one, else a new one), a new span
// id and the sampler's sampled flag, put in the context where the access
// log reads the trace id and the upstream client propagates it. Nothing
// is recorded, so a request pays for two ids and one context value
// instead of the SDK's span, attributes, locks and span processors, which
// profiles showed costing more than a tenth of the gateway's CPU for spans
// nobody received.
type propagatingProvider struct {
	embedded.TracerProvider
	tracer *propagatingTracer
}

var _ trace.TracerProvider = (*propagatingProvider)(nil)

func newPropagatingProvider(sampler sdktrace.Sampler) *propagatingProvider {
	return &propagatingProvider{tracer: &propagatingTracer{sampler: sampler}}
}

// Tracer returns the one tracer: with nothing recorded, scopes make no
// difference.
func (p *propagatingProvider) Tracer(string, ...trace.TracerOption) trace.Tracer { return p.tracer }

type propagatingTracer struct {
	embedded.Tracer
	sampler sdktrace.Sampler
}

// Start returns ctx carrying a non-recording span whose context continues
// the parent's trace under a new span id. The sampled flag is the
// sampler's decision, exactly as the SDK would have made it, so services
// downstream that honour the flag see the same traces sampled whether or
// not this gateway exports its own spans.
func (t *propagatingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	var cfg trace.SpanConfig
	if len(opts) > 0 {
		cfg = trace.NewSpanStartConfig(opts...)
	}
	parentCtx := ctx
	if cfg.NewRoot() {
		parentCtx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	}
	parent := trace.SpanContextFromContext(parentCtx)
	traceID := parent.TraceID()
	if !traceID.IsValid() {
		traceID = newTraceID()
	}
	res := t.sampler.ShouldSample(sdktrace.SamplingParameters{
		ParentContext: parentCtx, TraceID: traceID, Name: name, Kind: cfg.SpanKind(),
	})
	var flags trace.TraceFlags
	if res.Decision == sdktrace.RecordAndSample {
		flags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: newSpanID(), TraceFlags: flags, TraceState: res.Tracestate,
	})
	ctx = trace.ContextWithSpanContext(ctx, sc)
	return ctx, trace.SpanFromContext(ctx)
}

// newTraceID and newSpanID draw from the runtime's per-thread ChaCha8
// generator: ids must be unique, not secret (the SDK's own generator is
// math/rand too), and it needs no lock shared by every request.
func newTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		binary.LittleEndian.PutUint64(id[:8], rand.Uint64())
		binary.LittleEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func newSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		binary.LittleEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}
