package edgetest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// SilentRedis is a TCP listener that accepts every connection, reads what
// the client sends and never answers: a Redis that is up as far as the
// network can tell but hung (a stuck server, a black-holing middlebox). It
// is the fault a deadline must bound; a stopped Redis (connection refused)
// fails fast on its own.
type SilentRedis struct {
	// Addr is the listener's host:port on 127.0.0.1.
	Addr string

	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// URL returns a BFF_REDIS_URL pointing at the silent listener.
func (s *SilentRedis) URL() string { return "redis://" + s.Addr + "/0" }

// Accepted returns how many connections the listener accepted so far.
func (s *SilentRedis) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// StartSilentRedis starts a SilentRedis on a free loopback port and closes
// it, and every connection it holds, when the test ends.
func StartSilentRedis(t testing.TB) *SilentRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SilentRedis{Addr: ln.Addr().String(), ln: ln}
	s.wg.Go(s.accept)
	t.Cleanup(s.close)
	return s
}

func (s *SilentRedis) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		// Reading keeps the client's writes from blocking on a full
		// socket buffer: the client must wait on the answer, not the send.
		s.wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
	}
}

func (s *SilentRedis) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
