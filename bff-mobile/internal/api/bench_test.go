package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/shared/edge/services"
)

// BenchmarkHomeSlowSources measures GET /v1/home with every source 200 ms
// slow: its two stages should take about 400 ms, where calling the seven
// sources one after another would take 1.4 s.
//
//	go test -run '^$' -bench BenchmarkHomeSlowSources -benchtime 5x ./internal/api/
func BenchmarkHomeSlowSources(b *testing.B) {
	f, err := fakes.New(fakes.Options{})
	require.NoError(b, err)
	fakeSrv := httptest.NewServer(f.Handler())
	b.Cleanup(fakeSrv.Close)
	g := startWith(b, f, fakeSrv.URL, services.DefaultConfig(fakeSrv.URL))
	for _, s := range domain.ServiceNames() {
		require.NoError(b, f.SetFault(s, domain.Fault{LatencyMs: 200}))
	}
	tok := g.token(b, "u-001")

	for b.Loop() {
		r := g.do(b, http.MethodGet, "/v1/home", tok, "", nil)
		if r.StatusCode != http.StatusOK {
			b.Fatal(r.StatusCode, string(r.body))
		}
	}
}
