package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// callTimeout bounds one upstream call of the proxy and the fan-out, as
// the gateways' upstream timeout bounds theirs.
const callTimeout = 2 * time.Second

// transport is the pooled client transport of the proxy and the fan-out:
// enough idle connections per host that 128 clients never redial.
func transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 1024
	t.ResponseHeaderTimeout = callTimeout
	return t
}

// runProxy is a plain httputil.ReverseProxy: what a KrakenD-class Go
// gateway does for a pass-through route, without any edge policy.
func runProxy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	to := fs.String("to", "", "upstream base URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*to)
	if err != nil || target.Host == "" {
		return fmt.Errorf("-to %q: want an absolute URL", *to)
	}
	p := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: transport(),
	}
	return serve(ctx, *addr, p)
}

// shapes are the upstream calls of the aggregates the fan-out reference
// mirrors, stage by stage, relative to the upstream base URL: GET /v1/home
// of bff-mobile (user, unread count, balance, orders and recommendations,
// then products and prices) and GET /v1/pages/product/{id} of bff-web
// (product, price, stock, reviews and similar products, then the similar
// products' names and prices).
var shapes = map[string][][]string{
	"home": {
		{"/users/users/u-001", "/notifications/users/u-001/unread-count", "/payments/users/u-001/balance",
			"/orders/users/u-001/orders?limit=3", "/recommendations/users/u-001/recommendations?limit=6"},
		{"/catalog/products?ids=p-0001,p-0002,p-0003,p-0004", "/pricing/prices?ids=p-0001,p-0002,p-0003,p-0004&currency=USD"},
	},
	"product": {
		{"/catalog/products/p-0001", "/pricing/prices/p-0001?currency=USD", "/inventory/stock/p-0001",
			"/reviews/products/p-0001/reviews?page=1&pageSize=3", "/recommendations/products/p-0001/similar?limit=6"},
		{"/catalog/products?ids=p-0002,p-0003,p-0004", "/pricing/prices?ids=p-0002,p-0003,p-0004&currency=USD"},
	},
}

// runFanout serves every request with the stages of -shape: each stage's
// calls in parallel goroutines with net/http, the bodies decoded, then
// one JSON answer of them all. It is the least an aggregate costs in Go.
func runFanout(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	base := fs.String("upstream", "", "upstream base URL (may carry a /d/<delay> prefix)")
	shape := fs.String("shape", "home", "home or product")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stages, ok := shapes[*shape]
	if !ok {
		return fmt.Errorf("-shape %q: want home or product", *shape)
	}
	f := &fanout{base: strings.TrimSuffix(*base, "/"), stages: stages, client: &http.Client{Transport: transport()}}
	return serve(ctx, *addr, f)
}

type fanout struct {
	base   string
	stages [][]string
	client *http.Client
}

func (f *fanout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*callTimeout)
	defer cancel()
	out := make([][]any, len(f.stages))
	for i, stage := range f.stages {
		out[i] = make([]any, len(stage))
		errs := make([]error, len(stage))
		var wg sync.WaitGroup
		for j, p := range stage {
			wg.Go(func() { out[i][j], errs[j] = f.get(ctx, p) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"stages": out})
}

func (f *fanout) get(ctx context.Context, path string) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+path, nil)
	if err != nil {
		return nil, err
	}
	res, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil, fmt.Errorf("%s: status %d", path, res.StatusCode)
	}
	var v any
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
