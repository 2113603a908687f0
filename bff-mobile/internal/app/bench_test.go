package app_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
)

// BenchmarkHome measures GET /v1/home through the whole gateway: the edge
// chain, gzip, JWT, rate limit, ETag, the two-stage fan-out to seven
// in-process fake services over loopback HTTP, and the mapping. The per-user
// limit is raised so that the loop measures answers, not 429s.
//
//	go test -run '^$' -bench BenchmarkHome -benchmem ./internal/app/
func BenchmarkHome(b *testing.B) {
	cfg := edgetest.TempFile(b, "bench.yaml", "mobile:\n  rate_limit: {per_minute: 100000000, burst: 100000000}\n")
	for _, bc := range []struct {
		name string
		hdr  map[string]string
	}{
		{name: "identity", hdr: map[string]string{}},
		{name: "gzip", hdr: map[string]string{"Accept-Encoding": "gzip"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := bootReady(b, map[string]string{"BFF_CONFIG": cfg})
			tok := fakestest.UserToken(b, s.fakes, "u-001", "mobile")
			client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}}
			req, err := http.NewRequest(http.MethodGet, s.url+"/v1/home", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			for k, v := range bc.hdr {
				req.Header.Set(k, v)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := client.Do(req.Clone(req.Context()))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkOrder measures GET /v1/orders/{id}, the pass-through route, through
// the whole gateway (the edge chain, JWT, rate limit, ETag, one call to the
// in-process orders fake over loopback HTTP, the mapping); its allocations
// include the client's and the fake's.
//
//	go test -run '^$' -bench BenchmarkOrder -benchmem ./internal/app/
func BenchmarkOrder(b *testing.B) {
	cfg := edgetest.TempFile(b, "bench.yaml", "mobile:\n  rate_limit: {per_minute: 100000000, burst: 100000000}\n")
	s := bootReady(b, map[string]string{"BFF_CONFIG": cfg})
	tok := fakestest.UserToken(b, s.fakes, "u-001", "mobile")
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}}
	req, err := http.NewRequest(http.MethodGet, s.url+"/v1/orders/o-00001", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := client.Do(req.Clone(req.Context()))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}
