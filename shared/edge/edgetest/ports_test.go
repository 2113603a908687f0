package edgetest

import (
	"net"
	"strconv"
	"testing"
)

// A test that starts many servers gets a different port for each, each
// one free to bind, and none from the range its own outgoing connections
// draw from.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	low := ephemeralLow()
	for range 300 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if low-20000 > 1000 && p >= low {
			t.Errorf("port %d is in the ephemeral range (from %d)", p, low)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		_ = l.Close()
	}
}
