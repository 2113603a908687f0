package upstream

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns the pooled keep-alive transport the clients share.
// It is tuned for many concurrent calls to a few hosts: a gateway talks to
// twelve services, often behind one or two load balancers, and a screen
// makes five to seven calls at once for each request in flight, so the idle
// pool per host is as large as the whole pool (the standard library keeps
// only 2 per host, which under load means a new TCP connection for most
// calls; a per-host cap below the calls in flight closes the surplus after
// every burst, and the next burst dials again). The read and write buffers
// are the standard library's 4 KiB: answers are decoded from a buffer of
// their own, so a larger connection buffer saves no read, and every pooled
// connection holds both.
func NewTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // Internal calls never go through an HTTP proxy from the environment.
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          MaxIdleConns,
		MaxIdleConnsPerHost:   MaxIdleConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   2 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // Bounded by each call's context instead.
	}
}

// MaxIdleConns is the idle connections NewTransport keeps, for all hosts
// and for any one of them.
const MaxIdleConns = 1024
