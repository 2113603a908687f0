package gatewaytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/gateway"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it keeps the resource
// attributes and counts the spans it was sent.
type otlpReceiver struct {
	URL   string
	mu    sync.Mutex
	attrs map[string]string
	spans int
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{attrs: map[string]string{}}
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
		for _, rs := range msg.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				r.attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.GetScopeSpans() {
				r.spans += len(ss.GetSpans())
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *otlpReceiver) got() (map[string]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attrs, r.spans
}

// testTracing runs the binary with the OpenTelemetry variables set and an
// OTLP receiver, sends the in-flight request with a client-made
// traceparent that claims to be sampled, and stops the binary, which
// flushes its spans: they carry the service name and resource attributes
// of the environment, and the sampler, not the client's flag, decides.
func (c Command) testTracing(t *testing.T, bin string) {
	tests := []struct {
		name      string
		sampler   string
		wantSpans bool
	}{
		{name: "ok, always_on exports with the environment's resource", sampler: "always_on", wantSpans: true},
		{name: "ok, parentbased_always_off ignores the client's sampled flag", sampler: "parentbased_always_off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, base := fakestest.Start(t)
			recv := startOTLPReceiver(t)
			env := append([]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT=" + recv.URL,
				"OTEL_SERVICE_NAME=storefront-edge",
				"OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=test,team=edge%20team",
				"OTEL_TRACES_SAMPLER=" + tt.sampler,
			}, c.Env...)
			p := Start(t, bin, base, env...)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+p.Addr+c.InFlight.Path, nil)
			require.NoError(t, err)
			if c.InFlight.Credentials != nil {
				for k, v := range c.InFlight.Credentials(t, f) {
					req.Header[k] = v
				}
			}
			req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			require.NoError(t, res.Body.Close())
			require.Equal(t, http.StatusOK, res.StatusCode)
			p.Signal(t, syscall.SIGTERM)
			require.Equal(t, gateway.ExitOK, p.Wait(t), "output:\n%s", p.Output())

			attrs, spans := recv.got()
			if !tt.wantSpans {
				assert.Zero(t, spans, "no span exported")
				return
			}
			assert.Positive(t, spans)
			assert.Equal(t, "storefront-edge", attrs["service.name"])
			assert.Equal(t, "test", attrs["deployment.environment.name"])
			assert.Equal(t, "edge team", attrs["team"])
			assert.NotEmpty(t, attrs["service.version"])
		})
	}
}
