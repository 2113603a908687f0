package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// FuzzIPExtractor: whatever X-Forwarded-For and X-Real-IP say, the client
// IP is an address; without trusted proxies it is the peer's, and with a
// trusted proxy it is the peer's or one the header names.
func FuzzIPExtractor(f *testing.F) {
	for _, s := range []string{"", "203.0.113.7", "203.0.113.7, 10.0.0.1", "unknown", "1.2.3.4, , ,", "[::1]:80", "2001:db8::1", "a\x00b", "10.0.0.1,10.0.0.2,203.0.113.9"} {
		f.Add(s, "198.51.100.4")
	}
	direct := ipExtractor(Config{})
	proxied := ipExtractor(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	f.Fuzz(func(t *testing.T, xff, realIP string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "127.0.0.1:4711"
		req.Header["X-Forwarded-For"] = []string{xff}
		req.Header["X-Real-Ip"] = []string{realIP}
		if got := direct(req); got != "127.0.0.1" {
			t.Fatalf("without trusted proxies the client is the peer, got %q", got)
		}
		got := proxied(req)
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("client IP %q is not an address (X-Forwarded-For %q)", got, xff)
		}
	})
}
