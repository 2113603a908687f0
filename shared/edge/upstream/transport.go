package upstream

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns the pooled keep-alive transport the clients share.
// It is tuned for many concurrent calls to a few hosts: a gateway talks to
// twelve services, often behind one or two load balancers, so the idle pool
// per host is large (the standard library keeps only 2, which under load
// means a new TCP connection for most calls).
func NewTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // Internal calls never go through an HTTP proxy from the environment.
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   2 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // Bounded by each call's context instead.
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}
