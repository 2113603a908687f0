package tracing_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/shopfront/shared/edge/tracing"
)

// exported collects the spans an OTLP receiver got: service name -> span names.
type exported struct {
	mu    sync.Mutex
	spans map[string][]string
	paths []string
}

func (e *exported) add(path string, req *collectortrace.ExportTraceServiceRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.spans == nil {
		e.spans = map[string][]string{}
	}
	e.paths = append(e.paths, path)
	for _, rs := range req.GetResourceSpans() {
		svc := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				svc = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				e.spans[svc] = append(e.spans[svc], s.GetName())
			}
		}
	}
}

func (e *exported) get() (map[string][]string, []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.spans, e.paths
}

// startSpans ends two spans with the provider of tr and flushes them.
func startSpans(t *testing.T, tr *tracing.Tracing) {
	t.Helper()
	ctx := context.Background()
	tracer := tr.Provider.Tracer("test")
	ctx, parent := tracer.Start(ctx, "GET /v1/home")
	_, child := tracer.Start(ctx, "users GET /users/{id}")
	child.End()
	parent.End()
	require.NoError(t, tr.Shutdown(ctx), "shutdown flushes the batch")
}

func TestExportOverOTLPHTTP(t *testing.T) {
	t.Parallel()
	var got exported
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got.add(r.URL.Path, &req)
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(recv.Close)

	tr, err := tracing.Setup(context.Background(), tracing.Config{
		ServiceName: "bff-mobile", Endpoint: recv.URL + "/otel/",
	})
	require.NoError(t, err)
	startSpans(t, tr)

	spans, paths := got.get()
	assert.ElementsMatch(t, []string{"GET /v1/home", "users GET /users/{id}"}, spans["bff-mobile"])
	require.NotEmpty(t, paths)
	assert.Equal(t, "/otel/v1/traces", paths[0], "the signal path is appended to the base endpoint")
}

type traceService struct {
	collectortrace.UnimplementedTraceServiceServer
	got *exported
}

func (s *traceService) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	s.got.add("grpc", req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func TestExportOverOTLPGRPC(t *testing.T) {
	t.Parallel()
	var got exported
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, &traceService{got: &got})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	tr, err := tracing.Setup(context.Background(), tracing.Config{
		ServiceName: "bff-partner", Endpoint: "http://" + lis.Addr().String(), Protocol: tracing.ProtocolGRPC,
	})
	require.NoError(t, err)
	startSpans(t, tr)

	spans, _ := got.get()
	assert.ElementsMatch(t, []string{"GET /v1/home", "users GET /users/{id}"}, spans["bff-partner"])
}

func TestSetupWithoutEndpointStillMakesTraceIDs(t *testing.T) {
	t.Parallel()
	tr, err := tracing.Setup(context.Background(), tracing.Config{ServiceName: "bff-web"})
	require.NoError(t, err)
	ctx, span := tr.Provider.Tracer("test").Start(context.Background(), "x")
	assert.True(t, span.SpanContext().IsValid())
	assert.True(t, span.SpanContext().IsSampled())
	span.End()
	h := http.Header{}
	tr.Propagator.Inject(ctx, propagationCarrier(h))
	assert.Contains(t, h.Get("traceparent"), span.SpanContext().TraceID().String())
	assert.NoError(t, tr.Shutdown(context.Background()))
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		given     tracing.Config
		expectErr []string
	}{
		{name: "ok, no endpoint", given: tracing.Config{ServiceName: "bff-web"}},
		{name: "ok, http endpoint", given: tracing.Config{ServiceName: "bff-web", Endpoint: "http://collector:4318"}},
		{name: "ok, grpc over tls", given: tracing.Config{ServiceName: "bff-web", Endpoint: "https://collector:4317", Protocol: "grpc"}},
		{name: "ok, http/json", given: tracing.Config{ServiceName: "bff-web", Endpoint: "http://collector:4318", Protocol: "http/json"}},
		{name: "nok, no service name", given: tracing.Config{}, expectErr: []string{"ServiceName is required"}},
		{name: "nok, unknown protocol", given: tracing.Config{ServiceName: "x", Protocol: "udp"}, expectErr: []string{"OTEL_EXPORTER_OTLP_PROTOCOL", `"udp"`}},
		{name: "nok, endpoint without scheme", given: tracing.Config{ServiceName: "x", Endpoint: "collector:4318"}, expectErr: []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}},
		{name: "nok, endpoint not a URL", given: tracing.Config{ServiceName: "x", Endpoint: "http://[::1"}, expectErr: []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}},
		{name: "nok, every problem reported", given: tracing.Config{Protocol: "x", Endpoint: "ftp://h"}, expectErr: []string{"ServiceName", "PROTOCOL", "ENDPOINT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.given.Validate()
			_, setupErr := tracing.Setup(context.Background(), tt.given)
			if len(tt.expectErr) == 0 {
				assert.NoError(t, err)
				assert.NoError(t, setupErr)
				return
			}
			require.Error(t, err)
			assert.Error(t, setupErr)
			for _, want := range tt.expectErr {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

func propagationCarrier(h http.Header) propagation.HeaderCarrier { return propagation.HeaderCarrier(h) }
