package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/shopfront/shared/edge/tracing"
)

// receiver is an OTLP/HTTP trace receiver keeping every resource's
// attributes and span names.
type receiver struct {
	url string
	mu  sync.Mutex
	got []*tracepb.ResourceSpans
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var msg collectortrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &msg)
		}
		if err != nil || req.URL.Path != "/v1/traces" {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, msg.GetResourceSpans()...)
		r.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// resource returns the attributes of the exported resource and the names
// of the exported spans.
func (r *receiver) resource() (map[string]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	attrs := map[string]string{}
	var spans []string
	for _, rs := range r.got {
		for _, kv := range rs.GetResource().GetAttributes() {
			attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				spans = append(spans, s.GetName())
			}
		}
	}
	return attrs, spans
}

func TestResourceFromEnvironment(t *testing.T) {
	t.Parallel()
	r := startReceiver(t)
	tr, err := tracing.Setup(context.Background(), tracing.Config{
		ServiceName: "checkout-edge", ServiceVersion: "v1.4.2", Endpoint: r.url,
		// service.name here loses to ServiceName (OTEL_SERVICE_NAME).
		ResourceAttributes: "deployment.environment.name=prod, k8s.pod.name=bff-web-7f9c,team=edge%20team,service.name=ignored",
	})
	require.NoError(t, err)
	startSpans(t, tr)
	attrs, spans := r.resource()
	assert.Len(t, spans, 2)
	assert.Equal(t, "checkout-edge", attrs["service.name"])
	assert.Equal(t, "v1.4.2", attrs["service.version"])
	assert.Equal(t, "prod", attrs["deployment.environment.name"])
	assert.Equal(t, "bff-web-7f9c", attrs["k8s.pod.name"])
	assert.Equal(t, "edge team", attrs["team"], "values are percent-decoded")
}

// TestSamplerObeysEnvironment ends one root span and one span whose remote
// parent (an incoming traceparent) claims to be sampled, and counts what
// reaches the receiver. The parent's flag never decides: a client cannot
// force tracing.
func TestSamplerObeysEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sampler string
		arg     string
		expect  []string
	}{
		{name: "ok, unset samples everything", expect: []string{"root", "remote child"}},
		{name: "ok, always_on", sampler: "always_on", expect: []string{"root", "remote child"}},
		{name: "ok, always_off", sampler: "always_off"},
		{name: "ok, parentbased_always_off ignores a sampled remote parent", sampler: "parentbased_always_off"},
		{name: "ok, traceidratio 1", sampler: "traceidratio", arg: "1", expect: []string{"root", "remote child"}},
		{name: "ok, traceidratio 0", sampler: "traceidratio", arg: "0"},
		{name: "ok, parentbased_traceidratio 0 ignores a sampled remote parent", sampler: "parentbased_traceidratio", arg: "0"},
		{name: "ok, parentbased_always_on", sampler: "parentbased_always_on", expect: []string{"root", "remote child"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startReceiver(t)
			tr, err := tracing.Setup(context.Background(), tracing.Config{
				ServiceName: "bff-web", Endpoint: r.url, Sampler: tt.sampler, SamplerArg: tt.arg,
			})
			require.NoError(t, err)
			tracer := tr.Provider.Tracer("test")
			_, root := tracer.Start(context.Background(), "root")
			root.End()
			carrier := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
			ctx := tr.Propagator.Extract(context.Background(), carrier)
			_, child := tracer.Start(ctx, "remote child")
			child.End()
			require.NoError(t, tr.Shutdown(context.Background()))
			_, spans := r.resource()
			assert.ElementsMatch(t, tt.expect, spans)
		})
	}
}

func TestSamplerConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		sampler   string
		arg       string
		attrs     string
		expectErr string
	}{
		{name: "ok, the gateways' default", sampler: tracing.DefaultSampler, arg: tracing.DefaultSamplerArg},
		{name: "ok, a ratio without arg is 1", sampler: "traceidratio"},
		{name: "nok, unknown sampler", sampler: "jaeger_remote", expectErr: `OTEL_TRACES_SAMPLER: "jaeger_remote" is not one of`},
		{name: "nok, ratio above 1", sampler: "traceidratio", arg: "1.5", expectErr: `OTEL_TRACES_SAMPLER_ARG: "1.5" is not a ratio`},
		{name: "nok, ratio not a number", sampler: "parentbased_traceidratio", arg: "ten", expectErr: `OTEL_TRACES_SAMPLER_ARG: "ten" is not a ratio`},
		{name: "nok, attribute without value", attrs: "a=b,broken", expectErr: `OTEL_RESOURCE_ATTRIBUTES: "broken" is not key=value`},
		{name: "nok, bad percent-encoding", attrs: "a=%zz", expectErr: "OTEL_RESOURCE_ATTRIBUTES: value of a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tracing.Config{ServiceName: "bff-web", Sampler: tt.sampler, SamplerArg: tt.arg, ResourceAttributes: tt.attrs}.Validate()
			if tt.expectErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.expectErr)
		})
	}
}
