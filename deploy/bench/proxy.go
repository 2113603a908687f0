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

	"github.com/shopfront/contracts/domain"
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
	first []call
	// then returns the second stage's calls from the decoded answers of
	// the first stage, in the order of first.
	then func(first []any) []call
}

// call is one upstream call and the domain type its answer is decoded
// into: a hand-written fan-out decodes into the contracts' types, as the
// gateways do, not into generic maps, which cost several times as much.
type call struct {
	path string
	into func() any
}

func get[T any](path string) call { return call{path: path, into: func() any { return new(T) }} }

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
		first: []call{
			get[domain.User]("/users/users/u-001"),
			get[domain.UnreadCount]("/notifications/users/u-001/unread-count"),
			get[domain.Balance]("/payments/users/u-001/balance"),
			get[domain.OrderList]("/orders/users/u-001/orders?limit=5"),
			get[domain.RecommendationList]("/recommendations/users/u-001/recommendations?limit=10"),
		},
		then: func(first []any) []call {
			var products, recs []string
			for _, o := range first[3].(*domain.OrderList).Items {
				for _, it := range o.Items {
					products = appendNew(products, it.ProductID)
				}
			}
			for _, r := range first[4].(*domain.RecommendationList).Items {
				recs = append(recs, r.ProductID)
				products = appendNew(products, r.ProductID)
			}
			return batch(products, recs)
		},
	},
	"product": {
		first: []call{
			get[domain.Product]("/catalog/products/p-0001"),
			get[domain.Price]("/pricing/prices/p-0001?currency=USD"),
			get[domain.Stock]("/inventory/stock/p-0001"),
			get[domain.ReviewPage]("/reviews/products/p-0001/reviews?limit=10&page=1"),
			get[domain.RecommendationList]("/recommendations/products/p-0001/similar?limit=8"),
		},
		then: func(first []any) []call {
			var similar []string
			for _, r := range first[4].(*domain.RecommendationList).Items {
				similar = append(similar, r.ProductID)
			}
			return batch(similar, similar)
		},
	},
}

// batch returns the catalog call of products and the pricing call of
// priced, each left out when it has no ids, with the query the gateways'
// clients encode.
func batch(products, priced []string) []call {
	var calls []call
	if len(products) > 0 {
		calls = append(calls, get[domain.ProductList]("/catalog/products?"+url.Values{"ids": {strings.Join(products, ",")}}.Encode()))
	}
	if len(priced) > 0 {
		calls = append(calls, get[domain.PriceList]("/pricing/prices?"+url.Values{"ids": {strings.Join(priced, ",")}, "currency": {"USD"}}.Encode()))
	}
	return calls
}

func appendNew(ids []string, id string) []string {
	if id == "" || slices.Contains(ids, id) {
		return ids
	}
	return append(ids, id)
}

// runFanout serves every request with the stages of -shape: each stage's
// calls in parallel goroutines with net/http, the bodies decoded into
// the domain types with encoding/json, then
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

// stage makes calls in parallel and returns their decoded answers.
func (f *fanout) stage(ctx context.Context, calls []call) ([]any, error) {
	out := make([]any, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() { out[i], errs[i] = f.get(ctx, c) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (f *fanout) get(ctx context.Context, c call) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+c.path, nil)
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
		return nil, fmt.Errorf("%s: status %d", c.path, res.StatusCode)
	}
	v := c.into()
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(v); err != nil {
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	return v, nil
}
