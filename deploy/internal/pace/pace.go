// Package pace drives open-loop load (make soak, make rolling-restart, the
// benchmark's overload scenario): calls start at a fixed rate whatever the
// answers do, each in its own goroutine, as clients arrive in production,
// so a slow or restarting gateway shows as latency or failures rather than
// a lower rate.
package pace

import (
	"context"
	"sync"
	"time"
)

// Load is a running load; Wait ends it.
type Load struct {
	start    time.Time
	rate     int
	done     chan struct{}
	inflight sync.WaitGroup
	started  int
}

// Start calls do(0), do(1), ... rate times a second until ctx ends. Call n
// is due at Scheduled(n); one that falls behind (a busy core, a slow
// timer) starts at once, so that the rate over the run is the rate asked
// for rather than what the timer managed.
func Start(ctx context.Context, rate int, do func(n int)) *Load {
	l := &Load{start: time.Now(), rate: rate, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		timer := time.NewTimer(0)
		defer timer.Stop()
		for n := 0; ; n++ {
			if wait := time.Until(l.Scheduled(n)); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			} else if ctx.Err() != nil {
				return
			}
			l.started++
			l.inflight.Go(func() { do(n) })
		}
	}()
	return l
}

// Scheduled is when call n is due.
func (l *Load) Scheduled(n int) time.Time {
	return l.start.Add(time.Duration(n) * time.Second / time.Duration(l.rate))
}

// Wait returns, once ctx has ended and every call started has returned, how
// many calls were started.
func (l *Load) Wait() int {
	<-l.done
	l.inflight.Wait()
	return l.started
}
