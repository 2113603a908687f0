// Package tracing sets up OpenTelemetry for a gateway:
// a TracerProvider exporting over OTLP when an endpoint is configured, the
// W3C TraceContext propagator, and the server middleware that
// continues an incoming traceparent and starts one span per request.
//
// Nothing here touches the otel globals (otel.SetTracerProvider and
// friends): the provider and propagator are handed to the server, the
// upstream client and anything else that needs them.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// The OTLP protocols of OTEL_EXPORTER_OTLP_PROTOCOL.
const (
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
	ProtocolGRPC         = "grpc"
)

// Config configures Setup. Its fields map to the standard OpenTelemetry
// variables; the gateway's config loader reads them, this package does not.
type Config struct {
	// ServiceName is the service.name resource attribute: OTEL_SERVICE_NAME,
	// else the gateway's name, e.g. bff-mobile. It wins over a service.name
	// in ResourceAttributes. Required.
	ServiceName string
	// ServiceVersion is the service.version resource attribute (the build's
	// version). Optional. Default none.
	ServiceVersion string
	// ResourceAttributes is OTEL_RESOURCE_ATTRIBUTES (key=value,...),
	// merged into the resource. Optional. Default none.
	ResourceAttributes string
	// Sampler is OTEL_TRACES_SAMPLER, one of Samplers(); see NewSampler for
	// how an incoming traceparent's flag is treated. Optional. Default
	// parentbased_always_on; a gateway's config loader defaults it to
	// DefaultSampler.
	Sampler string
	// SamplerArg is OTEL_TRACES_SAMPLER_ARG, the ratio of the traceidratio
	// samplers. Optional. Default 1.0.
	SamplerArg string
	// Endpoint is OTEL_EXPORTER_OTLP_ENDPOINT: the base URL of the OTLP
	// receiver (http://collector:4318 for HTTP, http://collector:4317 for
	// gRPC; https for TLS). For HTTP, /v1/traces is appended to its path as
	// the OpenTelemetry specification says. Optional. Default empty: no
	// span is recorded, but every request still gets a span context (a
	// trace id for the logs, and a traceparent for the upstream calls).
	Endpoint string
	// Protocol is OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf, http/json or
	// grpc. Optional. Default http/protobuf.
	Protocol string
	// SpanProcessors are added to the provider beside the exporter, e.g. a
	// tracetest.SpanRecorder in tests. Optional. Default none.
	SpanProcessors []sdktrace.SpanProcessor
}

// Validate reports every problem of c, one line each.
func (c Config) Validate() error {
	var errs []error
	if c.ServiceName == "" {
		errs = append(errs, errors.New("tracing: ServiceName is required"))
	}
	switch c.Protocol {
	case "", ProtocolHTTPProtobuf, ProtocolHTTPJSON, ProtocolGRPC:
	default:
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not one of %s, %s, %s",
			c.Protocol, ProtocolHTTPProtobuf, ProtocolHTTPJSON, ProtocolGRPC))
	}
	if _, err := NewSampler(c.Sampler, c.SamplerArg); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseResourceAttributes(c.ResourceAttributes); err != nil {
		errs = append(errs, err)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: parsing %q: %w", c.Endpoint, err))
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %q is not an http(s)://host:port URL", c.Endpoint))
		}
	}
	return errors.Join(errs...)
}

// Tracing is a gateway's tracing set-up.
type Tracing struct {
	// Provider creates tracers; give it to the middleware, and to the
	// upstream client when Recording.
	Provider trace.TracerProvider
	// Propagator reads and writes traceparent and tracestate.
	Propagator propagation.TextMapPropagator

	// sdk is Provider when spans are recorded, nil otherwise.
	sdk *sdktrace.TracerProvider
}

// Recording reports whether spans are recorded and exported (an endpoint
// or a span processor is configured). When they are not, Provider only
// makes span contexts, and the upstream client is better off without
// client spans: the request's span context is propagated as it is.
func (t *Tracing) Recording() bool { return t.sdk != nil }

// Setup builds the provider and the propagator. It does not connect to the
// endpoint: exporting happens in the background and a receiver that is down
// costs dropped spans, never a failed request. Without an endpoint or a
// span processor it builds no SDK provider at all (see Recording).
func Setup(ctx context.Context, cfg Config) (*Tracing, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Later attributes win: the environment's, then the service's own.
	attrs, _ := ParseResourceAttributes(cfg.ResourceAttributes)
	attrs = append(attrs, semconv.ServiceName(cfg.ServiceName))
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(cfg.ServiceVersion))
	}
	sampler, _ := NewSampler(cfg.Sampler, cfg.SamplerArg)
	if cfg.Endpoint == "" && len(cfg.SpanProcessors) == 0 {
		return &Tracing{Provider: newPropagatingProvider(sampler), Propagator: NewPropagator()}, nil
	}
	opts := []sdktrace.TracerProviderOption{
		// Schemaless and built here: resource.Default() would read
		// OTEL_RESOURCE_ATTRIBUTES itself, and the environment is the config
		// loader's to read.
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sampler),
	}
	if cfg.Endpoint != "" {
		exp, err := newExporter(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("creating OTLP exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	for _, sp := range cfg.SpanProcessors {
		opts = append(opts, sdktrace.WithSpanProcessor(sp))
	}
	sdk := sdktrace.NewTracerProvider(opts...)
	return &Tracing{Provider: sdk, Propagator: NewPropagator(), sdk: sdk}, nil
}

// NewPropagator returns the W3C TraceContext propagator (traceparent and
// tracestate). Baggage is left out on purpose: it is arbitrary
// client-chosen key/values, and forwarding it would carry untrusted input
// across the trust boundary into every domain service.
func NewPropagator() propagation.TextMapPropagator {
	return propagation.TraceContext{}
}

// Shutdown flushes the spans still buffered and stops the exporter; call it
// once while shutting down, with a deadline.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutting down tracing: %w", err)
	}
	return nil
}

func newExporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.Protocol == ProtocolGRPC {
		// gRPC has no path; the scheme decides TLS.
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(u.Scheme+"://"+u.Host))
	}
	// OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: the signal path is
	// appended to it (OpenTelemetry exporter specification).
	u.Path = strings.TrimRight(u.Path, "/") + "/v1/traces"
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String())}
	if cfg.Protocol == ProtocolHTTPJSON {
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	}
	return otlptracehttp.New(ctx, opts...)
}
