package tracing

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The samplers of OTEL_TRACES_SAMPLER.
const (
	SamplerAlwaysOn                = "always_on"
	SamplerAlwaysOff               = "always_off"
	SamplerTraceIDRatio            = "traceidratio"
	SamplerParentBasedAlwaysOn     = "parentbased_always_on"
	SamplerParentBasedAlwaysOff    = "parentbased_always_off"
	SamplerParentBasedTraceIDRatio = "parentbased_traceidratio"
)

// Samplers returns the accepted OTEL_TRACES_SAMPLER values.
func Samplers() []string {
	return []string{SamplerAlwaysOn, SamplerAlwaysOff, SamplerTraceIDRatio,
		SamplerParentBasedAlwaysOn, SamplerParentBasedAlwaysOff, SamplerParentBasedTraceIDRatio}
}

// The sampling a gateway uses when OTEL_TRACES_SAMPLER is unset (its config
// loader's default): one trace in ten.
const (
	DefaultSampler    = SamplerParentBasedTraceIDRatio
	DefaultSamplerArg = "0.1"
)

// NewSampler returns the sampler named by OTEL_TRACES_SAMPLER with its
// OTEL_TRACES_SAMPLER_ARG (a ratio in [0, 1] for the traceidratio ones; an
// empty arg is 1.0, as the OpenTelemetry specification says). An empty name
// samples everything (parentbased_always_on).
//
// The gateway is the edge of the trust boundary, so the sampled flag of an
// incoming traceparent never decides: a client could otherwise force every
// one of its requests to be traced (cost) or hide them (blind spot). A
// remote parent's trace id is kept (the trace continues), but whether it is
// sampled is this sampler's own decision on the trace id: traceidratio is
// deterministic on the id, so services sampling at the same ratio agree.
// The parentbased_ samplers honour local parents only, i.e. the spans of
// upstream calls follow their request's span.
func NewSampler(name, arg string) (sdktrace.Sampler, error) {
	if name == "" {
		name = SamplerParentBasedAlwaysOn
	}
	ratio := 1.0
	if strings.HasSuffix(name, SamplerTraceIDRatio) && arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio between 0 and 1", arg)
		}
		ratio = r
	}
	var root sdktrace.Sampler
	switch strings.TrimPrefix(name, "parentbased_") {
	case SamplerAlwaysOn:
		root = sdktrace.AlwaysSample()
	case SamplerAlwaysOff:
		root = sdktrace.NeverSample()
	case SamplerTraceIDRatio:
		root = sdktrace.TraceIDRatioBased(ratio)
	default:
		return nil, fmt.Errorf("OTEL_TRACES_SAMPLER: %q is not one of %s", name, strings.Join(Samplers(), ", "))
	}
	if !strings.HasPrefix(name, "parentbased_") {
		return root, nil
	}
	return sdktrace.ParentBased(root,
		sdktrace.WithRemoteParentSampled(root), sdktrace.WithRemoteParentNotSampled(root)), nil
}

// ParseResourceAttributes reads OTEL_RESOURCE_ATTRIBUTES: comma-separated
// key=value pairs, values percent-encoded (W3C Baggage octets).
func ParseResourceAttributes(s string) ([]attribute.KeyValue, error) {
	var attrs []attribute.KeyValue
	var errs []error
	for pair := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %q is not key=value", pair))
			continue
		}
		val, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: value of %s: %w", k, err))
			continue
		}
		attrs = append(attrs, attribute.String(k, val))
	}
	return attrs, errors.Join(errs...)
}
