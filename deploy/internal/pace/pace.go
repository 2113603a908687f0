// Package pace drives the open-loop load of the long runs (make soak, make
// rolling-restart): calls start at a fixed rate whatever the answers do, each
// in its own goroutine, as clients arrive in production, so a slow or
// restarting gateway shows as latency or failures rather than a lower rate.
package pace

import (
	"context"
	"sync"
	"time"
)

// Load is a running load; Wait ends it.
type Load struct {
	done     chan struct{}
	inflight sync.WaitGroup
	started  int
}

// Start calls do(0), do(1), ... rate times a second until ctx ends.
func Start(ctx context.Context, rate int, do func(n int)) *Load {
	l := &Load{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			l.started++
			l.inflight.Go(func() { do(n) })
		}
	}()
	return l
}

// Wait returns, once ctx has ended and every call started has returned, how
// many calls were started.
func (l *Load) Wait() int {
	<-l.done
	l.inflight.Wait()
	return l.started
}
