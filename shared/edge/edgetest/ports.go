package edgetest

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// handedOut is every port FreePort returned in this test binary. Asking
// the kernel for port 0 again and again can give back a port it released
// a moment ago, and a test that starts many servers (a cluster of
// seventeen processes, a Redis Cluster of six nodes) would then tell two
// of them the same port, and one would fail to start.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier call in this test binary returned. It is taken below
// the kernel's ephemeral range when there is room there: the outgoing
// connections of the test (to Redis, to the servers it starts) take their
// local ports from that range and could take a port before the server it
// was meant for binds it.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if lo, hi := 20000, ephemeralLow(); hi-lo > 1000 {
		for range 200 {
			p := lo + rand.IntN(hi-lo)
			if !handedOut.ports[p] && bindable(p) {
				handedOut.ports[p] = true
				return p
			}
		}
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !handedOut.ports[p] {
			handedOut.ports[p] = true
			return p
		}
	}
	t.Fatal("edgetest: no free port found")
	return 0
}

func bindable(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default 32768 when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}
