package upstream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/upstream"
)

const productJSON = `{"id":"p-0001","sku":"SF-KIT-10000","name":"Classic Kettle","description":"Designed for daily use.",` +
	`"brand":"Acorn","category":"kitchen","images":[{"url":"https://img.shopfront.example/p-0001/1.jpg","width":1200,"height":900}],` +
	`"updatedAt":"2026-01-01T00:00:00Z"}`

// BenchmarkClient_Get measures one GET through the whole client (headers,
// span, breaker, pooled connection, JSON decoding) against a loopback server.
func BenchmarkClient_Get(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(productJSON))
	}))
	b.Cleanup(srv.Close)
	c, err := upstream.New("catalog", upstream.Config{BaseURL: srv.URL}, upstream.Options{Registerer: prometheus.NewRegistry()})
	require.NoError(b, err)
	ctx := requestid.WithID(context.Background(), "bench-1")
	ctx = auth.WithPrincipal(ctx, &auth.Principal{Subject: "u-001", Roles: []auth.Role{"customer"}, Client: auth.ClientMobile})
	path := upstream.Path("products", "p-0001")

	b.ReportAllocs()
	for b.Loop() {
		var p domain.Product
		if err := c.Get(ctx, path, nil, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClient_GetParallel is BenchmarkClient_Get from many goroutines
// sharing the client, its breaker, budget and connection pool.
func BenchmarkClient_GetParallel(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(productJSON))
	}))
	b.Cleanup(srv.Close)
	c, err := upstream.New("catalog", upstream.Config{BaseURL: srv.URL}, upstream.Options{Registerer: prometheus.NewRegistry()})
	require.NoError(b, err)
	ctx := requestid.WithID(context.Background(), "bench-1")
	path := upstream.Path("products", "p-0001")

	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var p domain.Product
			if err := c.Get(ctx, path, nil, &p); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClient_GetList measures the batch call of a home screen: 24
// products of the fakes' size (about 20 KB) in one answer, where decoding
// the body is most of the client's work.
func BenchmarkClient_GetList(b *testing.B) {
	var l domain.ProductList
	var p domain.Product
	require.NoError(b, json.Unmarshal([]byte(productJSON), &p))
	p.Description = strings.Repeat("Designed for daily use, it balances durability with a clean look. ", 10)
	for range 24 {
		l.Items = append(l.Items, p)
	}
	body, err := json.Marshal(l)
	require.NoError(b, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	c, err := upstream.New("catalog", upstream.Config{BaseURL: srv.URL}, upstream.Options{Registerer: prometheus.NewRegistry()})
	require.NoError(b, err)
	ctx := requestid.WithID(context.Background(), "bench-1")
	path := upstream.Path("products")
	query := url.Values{"ids": {"p-0001,p-0002"}}

	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var got domain.ProductList
		if err := c.Get(ctx, path, query, &got); err != nil {
			b.Fatal(err)
		}
	}
}
