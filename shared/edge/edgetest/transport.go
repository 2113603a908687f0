package edgetest

import (
	"net/http"
	"net/http/httptest"
)

// HandlerTransport is an http.RoundTripper that serves every request with
// h in the caller's goroutine, without a socket. Network I/O never counts as
// durably blocked, so a client on real sockets cannot run on the fake clock
// of a testing/synctest bubble; through this transport it can, and timeouts,
// breaker open times and retry backoffs become exact and instant. A request
// whose context ends while h runs fails with the context's error, as it
// would on a real transport.
func HandlerTransport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	res := rec.Result()
	res.Request = req
	return res, nil
}
