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

// BenchmarkRun_ProductPageShapes compares the product page's two shapes
// with sources that return at once: the similar products' lookups as a
// Then stage of the whole screen, and as a Chain beside the other sources.
// The difference is the engine's cost of a chain (a nested stage).
func BenchmarkRun_ProductPageShapes(b *testing.B) {
	ok := func(context.Context) error { return nil }
	ctx := context.Background()
	first := func() []aggregate.Part {
		return []aggregate.Part{aggregate.Critical("catalog", ok), aggregate.Optional("pricing", ok),
			aggregate.Optional("inventory", ok), aggregate.Optional("reviews", ok)}
	}
	second := func() aggregate.Part {
		return aggregate.Then(aggregate.Optional("catalog", ok), aggregate.Optional("pricing", ok))
	}
	shapes := map[string]func() []aggregate.Part{
		"then": func() []aggregate.Part {
			return append(first(), aggregate.Optional("recommendations", ok), second())
		},
		"chain": func() []aggregate.Part {
			return append(first(), aggregate.Chain(aggregate.Optional("recommendations", ok), second()))
		},
	}
	for _, name := range []string{"then", "chain"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := aggregate.Run(ctx, time.Second, shapes[name]()...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
