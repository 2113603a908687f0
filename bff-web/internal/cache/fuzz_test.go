package cache_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/shopfront/bff-web/internal/cache"
)

// FuzzKey feeds cache keys any request target a client can send. A key
// must never panic, must depend only on the path and the route's known
// parameters (junk parameters and unkeyed headers cannot split the cache),
// and two requests whose known parameters differ must never share a key,
// since one could then be answered with the other's page.
func FuzzKey(f *testing.F) {
	for _, seed := range []string{
		"/v1/catalog?page=1&pageSize=5",
		"/v1/catalog?page=&pageSize=0",
		"/v1/catalog?page=2&page=1&utm_source=x",
		"/v1/catalog?q=%00%ff&category=a;b",
		"/v1/pages/product/p-0001",
		"/v1/catalog?q=a%26page%3D2",
	} {
		f.Add(seed, "junk=1")
	}
	rt := cache.Route{Query: []string{"q", "category", "page", "pageSize"}}
	f.Fuzz(func(t *testing.T, target, junk string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{"Accept-Language": {junk}, "X-Forwarded-Host": {junk}}}
		key := rt.Key(r)

		// Unkeyed headers and junk parameters do not change the key.
		if rt.Key(&http.Request{Method: http.MethodGet, URL: u}) != key {
			t.Fatalf("a header changed the key of %q", target)
		}
		withJunk := *u
		q := u.Query()
		q.Add("utm_"+junk, junk)
		withJunk.RawQuery = q.Encode()
		plain := &http.Request{Method: http.MethodGet, URL: &withJunk}
		if junk != "" && rt.Key(plain) != rt.Key(&http.Request{Method: http.MethodGet, URL: reencoded(u)}) {
			t.Fatalf("an unknown parameter changed the key of %q", target)
		}

		// Another value of a known parameter is another key.
		other := *u
		q = u.Query()
		q.Set("page", q.Get("page")+"0")
		other.RawQuery = q.Encode()
		if rt.Key(&http.Request{Method: http.MethodGet, URL: &other}) == key {
			t.Fatalf("keys of %q and %q collide", u.String(), other.String())
		}
	})
}

// reencoded is u with its query encoded as url.Values does, the form the
// junk variant is built in.
func reencoded(u *url.URL) *url.URL {
	c := *u
	c.RawQuery = u.Query().Encode()
	return &c
}
