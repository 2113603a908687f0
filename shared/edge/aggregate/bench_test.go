package aggregate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/aggregate"
	"github.com/shopfront/shared/edge/upstream"
)

// BenchmarkRun_SixSources measures a home-screen-like fan-out: one critical
// and five optional sources, each a real GET to a loopback server through
// its own upstream client sharing one pooled transport.
func BenchmarkRun_SixSources(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"p-0001","name":"Classic Kettle","brand":"Acorn","category":"kitchen"}`))
	}))
	b.Cleanup(srv.Close)
	reg, tr := prometheus.NewRegistry(), upstream.NewTransport()
	names := []string{"users", "orders", "recommendations", "notifications", "payments", "catalog"}
	clients := make([]*upstream.Client, len(names))
	for i, n := range names {
		c, err := upstream.New(n, upstream.Config{BaseURL: srv.URL}, upstream.Options{Registerer: reg, Transport: tr})
		require.NoError(b, err)
		clients[i] = c
	}
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		var v [6]domain.Product
		degraded, err := aggregate.Run(ctx, 2500*time.Millisecond,
			aggregate.Critical("users", func(ctx context.Context) error { return clients[0].Get(ctx, "/users/u-001", nil, &v[0]) }),
			aggregate.Optional("orders", func(ctx context.Context) error { return clients[1].Get(ctx, "/orders", nil, &v[1]) }),
			aggregate.Optional("recommendations", func(ctx context.Context) error { return clients[2].Get(ctx, "/recs", nil, &v[2]) }),
			aggregate.Optional("notifications", func(ctx context.Context) error { return clients[3].Get(ctx, "/unread", nil, &v[3]) }),
			aggregate.Optional("payments", func(ctx context.Context) error { return clients[4].Get(ctx, "/balance", nil, &v[4]) }),
			aggregate.Optional("catalog", func(ctx context.Context) error { return clients[5].Get(ctx, "/products", nil, &v[5]) }),
		)
		if err != nil || len(degraded) != 0 {
			b.Fatal(err, degraded)
		}
	}
}

// BenchmarkRun_Engine measures the engine alone: six sources that return
// at once, so the figure is the cost of goroutines, contexts and the
// degraded list.
func BenchmarkRun_Engine(b *testing.B) {
	ok := func(context.Context) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, err := aggregate.Run(ctx, time.Second,
			aggregate.Critical("users", ok), aggregate.Optional("orders", ok), aggregate.Optional("recommendations", ok),
			aggregate.Optional("notifications", ok), aggregate.Optional("payments", ok), aggregate.Optional("catalog", ok))
		if err != nil {
			b.Fatal(err)
		}
	}
}
