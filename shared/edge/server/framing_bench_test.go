package server

import "testing"

// BenchmarkFraming is what watching request heads adds to each request on
// the normal path: the head and body of a keep-alive POST as net/http reads
// it, scanned by framingConn (the read itself not counted).
func BenchmarkFraming(b *testing.B) {
	req := []byte("POST /v2/orders HTTP/1.1\r\nHost: shopfront.test\r\nUser-Agent: bench/1.0\r\n" +
		"Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl\r\n" +
		"Content-Type: application/json\r\nAccept: application/json\r\nIdempotency-Key: 0f8e-42\r\n" +
		"Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
		"Content-Length: 27\r\n\r\n{\"items\":[],\"currency\":\"X\"}")
	c := newFramingConn(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		c.scan(req)
	}
	if c.refuseAt.Load() != 0 || c.closeFrom.Load() != 0 || c.state != scanHead {
		b.Fatalf("the stream was misread: state %d", c.state)
	}
}
