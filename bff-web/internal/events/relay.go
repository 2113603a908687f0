package events

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopfront/shared/edge/auth"
)

// maxLine bounds one line of the upstream stream; a longer one ends the
// connection as malformed rather than growing a buffer without limit.
const maxLine = 64 << 10

// readCloser is an upstream stream's body.
type readCloser = io.ReadCloser

// event is one Server-Sent Event: its type, id and data (lines joined by
// "\n"), relayed unchanged.
type event struct {
	name, id, data string
}

// endReason says why a stream ended, in its access line.
type endReason string

const (
	endClient   endReason = "client_gone"
	endReauth   endReason = "reauth"
	endShutdown endReason = "shutdown"
	endUpstream endReason = "upstream_gone"
	endWrite    endReason = "write_failed"
)

// sink is one transport's side of a stream.
type sink interface {
	// event relays ev.
	event(ev event) error
	// ping keeps a quiet stream alive.
	ping() error
	// end writes the stream's last words for why and closes what the sink
	// owns.
	end(why endReason)
}

// pump relays events from body to s until the stream ends, reconnecting
// upstream when body breaks, and returns how many events it relayed and
// why it ended. It closes body.
func (r *Relay) pump(ctx context.Context, s sink, body readCloser, p *auth.Principal, lastID string, relayed prometheus.Counter) (n int, why endReason) {
	var expired <-chan time.Time
	if !p.Expires.IsZero() {
		t := time.NewTimer(p.Expires.Sub(r.cfg.Now()))
		defer t.Stop()
		expired = t.C
	}
	heartbeat := time.NewTimer(r.cfg.Heartbeat)
	defer heartbeat.Stop()

	for {
		events, broken, stop := read(body)
		why = func() endReason {
			defer stop()
			for {
				select {
				case ev := <-events:
					if err := s.event(ev); err != nil {
						return endWrite
					}
					n++
					relayed.Inc()
					if ev.id != "" {
						lastID = ev.id
					}
					heartbeat.Reset(r.cfg.Heartbeat)
				case <-heartbeat.C:
					if err := s.ping(); err != nil {
						return endWrite
					}
					heartbeat.Reset(r.cfg.Heartbeat)
				case <-broken:
					return ""
				case <-expired:
					return endReauth
				case <-r.cfg.Draining:
					return endShutdown
				case <-ctx.Done():
					return endClient
				}
			}
		}()
		if why != "" {
			s.end(why)
			return n, why
		}
		body, why = r.reconnect(ctx, p, lastID, expired)
		if why != "" {
			s.end(why)
			return n, why
		}
	}
}

// reconnect reopens the upstream stream after lastID with jittered
// exponential backoff, for up to ReconnectFor. The client sees nothing of
// it but, at worst, a late heartbeat.
func (r *Relay) reconnect(ctx context.Context, p *auth.Principal, lastID string, expired <-chan time.Time) (readCloser, endReason) {
	deadline := time.Now().Add(r.cfg.ReconnectFor)
	pause := 100 * time.Millisecond
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, endUpstream
		}
		wait := min(pause/2+rand.N(pause), left)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-expired:
			t.Stop()
			return nil, endReauth
		case <-r.cfg.Draining:
			t.Stop()
			return nil, endShutdown
		case <-ctx.Done():
			t.Stop()
			return nil, endClient
		}
		body, err := r.open(ctx, p, lastID)
		if err == nil {
			return body, ""
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// read parses body on a goroutine of its own. events yields each complete
// event; broken is closed when body ends or fails; stop closes body and
// waits for the goroutine to exit.
func read(body readCloser) (events <-chan event, broken <-chan struct{}, stop func()) {
	evc := make(chan event)
	brk := make(chan struct{})
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(brk)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 0, 4<<10), maxLine)
		var ev event
		var data []string
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if len(data) == 0 {
					ev = event{}
					continue
				}
				ev.data = strings.Join(data, "\n")
				select {
				case evc <- ev:
				case <-quit:
					return
				}
				ev, data = event{}, nil
				continue
			}
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				ev.name = value
			case "data":
				data = append(data, value)
			case "id":
				if !strings.ContainsRune(value, 0) {
					ev.id = value
				}
			}
			// Comments (": ...") and retry lines are the upstream's own
			// business with this gateway, not relayed.
		}
	}()
	return evc, brk, func() {
		close(quit)
		_ = body.Close()
		<-done
	}
}
