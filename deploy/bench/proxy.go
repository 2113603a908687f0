package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
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

// shape is the upstream calls of one aggregate, relative to the upstream
// base URL: a first stage of fixed calls, then a second stage whose calls
// are built from the first stage's answers, as the gateway builds them.
type shape struct {
	first []string
	// then returns the second stage's paths from the decoded answers of
	// the first stage, in the order of first.
	then func(first []any) []string
}

// shapes mirror the gateways' aggregates call for call, so that the
// reference does the same work: the same requests (limits and ids
// included), the same answers to decode. GET /v1/home of bff-mobile: the
// user, unread count, balance, 5 latest orders and 10 recommendations, then
// the products of those orders and recommendations and the recommendations'
// prices. GET /v1/pages/product/{id} of bff-web: the product, its price,
// stock, 10 reviews and 8 similar products, then the similar products' names
// and prices.
var shapes = map[string]shape{
	"home": {
		first: []string{"/users/users/u-001", "/notifications/users/u-001/unread-count", "/payments/users/u-001/balance",
			"/orders/users/u-001/orders?limit=5", "/recommendations/users/u-001/recommendations?limit=10"},
		then: func(first []any) []string {
			var products, recs []string
			for _, o := range field(first[3], "items") {
				for _, it := range field(o, "items") {
					products = appendNew(products, productID(it))
				}
			}
			for _, r := range field(first[4], "items") {
				recs = append(recs, productID(r))
				products = appendNew(products, productID(r))
			}
			return batch(products, recs)
		},
	},
	"product": {
		first: []string{"/catalog/products/p-0001", "/pricing/prices/p-0001?currency=USD", "/inventory/stock/p-0001",
			"/reviews/products/p-0001/reviews?limit=10&page=1", "/recommendations/products/p-0001/similar?limit=8"},
		then: func(first []any) []string {
			var similar []string
			for _, r := range field(first[4], "items") {
				similar = append(similar, productID(r))
			}
			return batch(similar, similar)
		},
	},
}

// batch returns the catalog call of products and the pricing call of
// priced, each left out when it has no ids, with the query the gateways'
// clients encode.
func batch(products, priced []string) []string {
	var paths []string
	if len(products) > 0 {
		paths = append(paths, "/catalog/products?"+url.Values{"ids": {strings.Join(products, ",")}}.Encode())
	}
	if len(priced) > 0 {
		paths = append(paths, "/pricing/prices?"+url.Values{"ids": {strings.Join(priced, ",")}, "currency": {"USD"}}.Encode())
	}
	return paths
}

// field returns the array member key of a decoded JSON object, or nil.
func field(v any, key string) []any {
	m, _ := v.(map[string]any)
	a, _ := m[key].([]any)
	return a
}

func productID(v any) string {
	m, _ := v.(map[string]any)
	id, _ := m["productId"].(string)
	return id
}

func appendNew(ids []string, id string) []string {
	if id == "" || slices.Contains(ids, id) {
		return ids
	}
	return append(ids, id)
}

// runFanout serves every request with the stages of -shape: each stage's
// calls in parallel goroutines with net/http, the bodies decoded, then
// one JSON answer of them all. It is the least an aggregate costs in Go.
func runFanout(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	base := fs.String("upstream", "", "upstream base URL (may carry a /d/<delay> prefix)")
	name := fs.String("shape", "home", "home or product")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sh, ok := shapes[*name]
	if !ok {
		return fmt.Errorf("-shape %q: want home or product", *name)
	}
	f := &fanout{base: strings.TrimSuffix(*base, "/"), shape: sh, client: &http.Client{Transport: transport()}}
	return serve(ctx, *addr, f)
}

type fanout struct {
	base   string
	shape  shape
	client *http.Client
}

func (f *fanout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*callTimeout)
	defer cancel()
	first, err := f.stage(ctx, f.shape.first)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	second, err := f.stage(ctx, f.shape.then(first))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"stages": [][]any{first, second}})
}

// stage calls paths in parallel and returns their decoded answers.
func (f *fanout) stage(ctx context.Context, paths []string) ([]any, error) {
	out := make([]any, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() { out[i], errs[i] = f.get(ctx, p) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
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
