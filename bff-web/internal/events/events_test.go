package events

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
)

// parse runs the upstream parser over input to its end and returns every
// event it yielded.
func parse(input string) []event {
	events, broken, stop := read(io.NopCloser(strings.NewReader(input)))
	defer stop()
	var got []event
	for {
		select {
		case ev := <-events:
			got = append(got, ev)
		case <-broken:
			// The parser sends every event before it closes broken.
			return got
		}
	}
}

func TestReadUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  string
		expect []event
	}{
		{name: "ok, one event", given: "id: 1\nevent: notification\ndata: {\"a\":1}\n\n",
			expect: []event{{name: "notification", id: "1", data: `{"a":1}`}}},
		{name: "ok, data lines joined by a line feed", given: "id: 2\ndata: first\ndata: second\ndata:\n\n",
			expect: []event{{id: "2", data: "first\nsecond\n"}}},
		{name: "ok, without the space after the colon", given: "id:3\nevent:order_status\ndata:{}\n\n",
			expect: []event{{name: "order_status", id: "3", data: "{}"}}},
		{name: "ok, only the first space is the separator", given: "data:  indented\n\n",
			expect: []event{{data: " indented"}}},
		{name: "ok, CRLF line ends", given: "id: 4\r\nevent: notification\r\ndata: x\r\n\r\n",
			expect: []event{{name: "notification", id: "4", data: "x"}}},
		{name: "ok, comments and retry are not relayed", given: ": ping\n\nretry: 10\n\n: hello\nid: 5\ndata: y\n\n",
			expect: []event{{id: "5", data: "y"}}},
		{name: "ok, unknown fields ignored", given: "foo: bar\ndata: z\n\n",
			expect: []event{{data: "z"}}},
		{name: "ok, each event starts afresh", given: "id: 6\nevent: a\ndata: 1\n\ndata: 2\n\n",
			expect: []event{{name: "a", id: "6", data: "1"}, {data: "2"}}},
		{name: "nok, a block without data is dropped", given: "id: 7\nevent: a\n\ndata: 3\n\n",
			expect: []event{{data: "3"}}},
		{name: "nok, an id holding NUL is ignored", given: "id: 8\x009\ndata: 4\n\n",
			expect: []event{{data: "4"}}},
		{name: "nok, an event cut off before its blank line is not relayed", given: "id: 9\ndata: 5\n\nid: 10\ndata: 6\n",
			expect: []event{{id: "9", data: "5"}}},
		{name: "nok, a line over the cap ends the stream", given: "id: 11\ndata: 7\n\ndata: " + strings.Repeat("x", maxLine) + "\n\nid: 12\ndata: 8\n\n",
			expect: []event{{id: "11", data: "7"}}},
		{name: "ok, a line just under the cap", given: "data: " + strings.Repeat("x", maxLine-len("data: ")-1) + "\n\n",
			expect: []event{{data: strings.Repeat("x", maxLine-len("data: ")-1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.expect, parse(tt.given))
		})
	}
}

// TestReadUpstreamStop checks that stop ends a parser blocked on an open
// upstream and closes its body.
func TestReadUpstreamStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		events, broken, stop := read(pr)
		_, _ = io.WriteString(pw, "data: 1\n\n")
		assert.Equal(t, event{data: "1"}, <-events)
		stop()
		_, err := io.WriteString(pw, "data: 2\n\n")
		assert.ErrorIs(t, err, io.ErrClosedPipe, "stop closed the body")
		_, open := <-broken
		assert.False(t, open)
	})
}

// recorder is a sink that records what it was sent, at which (bubble) time.
type recorder struct {
	mu     sync.Mutex
	events []event
	pings  int
	ended  endReason
	at     time.Time
}

func (r *recorder) event(ev event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) ping() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pings++
	return nil
}

func (r *recorder) end(why endReason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended, r.at = why, time.Now()
}

func (r *recorder) state() (endReason, int, []event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended, r.pings, r.events
}

// upstream is an Upstream whose streams are pipes the test writes to, or
// which fails while down is set. It records each Last-Event-ID asked for.
type upstream struct {
	mu     sync.Mutex
	down   bool
	asked  []string
	writer *io.PipeWriter
}

func (u *upstream) Events(_ context.Context, _ string, lastEventID string, _ time.Duration) (io.ReadCloser, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.asked = append(u.asked, lastEventID)
	if u.down {
		return nil, errors.New("connection refused")
	}
	pr, pw := io.Pipe()
	u.writer = pw
	return pr, nil
}

// open is what Handle does before pump: the first upstream stream.
func (u *upstream) open(t *testing.T) (io.ReadCloser, *io.PipeWriter) {
	t.Helper()
	body, err := u.Events(context.Background(), "u-1", "", 0)
	require.NoError(t, err)
	u.mu.Lock()
	defer u.mu.Unlock()
	return body, u.writer
}

func newTestRelay(t *testing.T, u Upstream, cfg Config) *Relay {
	t.Helper()
	cfg.Upstream, cfg.Registry = u, prometheus.NewRegistry()
	r, err := New(cfg)
	require.NoError(t, err)
	return r
}

// TestPumpLifetime runs a stream on the bubble's clock: the relay's
// injected Now says when the credential was checked, and the stream ends
// exactly when it expires, with pings during the silence before. The
// heartbeat, 7s, divides none of the lifetimes, so that no ping is due at
// the instant the stream ends.
func TestPumpLifetime(t *testing.T) {
	t.Parallel()
	// now is the relay's clock, deliberately far from the bubble's: only
	// the distance to exp may count.
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		expires   time.Time
		drainAt   time.Duration
		expectEnd endReason
		expectAt  time.Duration
		pings     int
	}{
		{name: "ok, reauth at exp", expires: now.Add(30 * time.Minute), expectEnd: endReauth, expectAt: 30 * time.Minute, pings: 257},
		{name: "ok, exp already passed", expires: now.Add(-time.Minute), expectEnd: endReauth, expectAt: 0},
		{name: "ok, no exp: ends when the server drains", drainAt: 2 * time.Hour, expectEnd: endShutdown, expectAt: 2 * time.Hour, pings: 1028},
		{name: "ok, draining before exp wins", expires: now.Add(time.Hour), drainAt: 10 * time.Minute, expectEnd: endShutdown, expectAt: 10 * time.Minute, pings: 85},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				draining := make(chan struct{})
				u := &upstream{}
				r := newTestRelay(t, u, Config{Now: func() time.Time { return now }, Draining: draining, Heartbeat: 7 * time.Second})
				body, _ := u.open(t)
				if tt.drainAt > 0 {
					time.AfterFunc(tt.drainAt, func() { close(draining) })
				}
				rec := &recorder{}
				start := time.Now()
				done := make(chan endReason)
				go func() {
					_, why := r.pump(t.Context(), rec, body, &auth.Principal{Subject: "u-1", Expires: tt.expires}, "", prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}))
					done <- why
				}()
				if tt.expectAt > 0 {
					time.Sleep(tt.expectAt - time.Nanosecond)
					synctest.Wait()
					ended, _, _ := rec.state()
					assert.Empty(t, ended, "still open just before")
				}
				why := <-done
				assert.Equal(t, tt.expectEnd, why)
				ended, pings, _ := rec.state()
				assert.Equal(t, tt.expectEnd, ended, "the sink was told")
				assert.Equal(t, tt.expectAt, rec.at.Sub(start))
				assert.Equal(t, tt.pings, pings, "a ping every 7s of silence")
			})
		})
	}
}

// TestPumpReconnect drops the upstream mid-stream: the relay reopens it
// with the last relayed id, or ends the stream once ReconnectFor has
// passed without an upstream.
func TestPumpReconnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		stayDown  bool
		expectEnd endReason
	}{
		{name: "ok, resumes after the last relayed id", expectEnd: endShutdown},
		{name: "nok, the upstream stays away", stayDown: true, expectEnd: endUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				draining := make(chan struct{})
				u := &upstream{}
				r := newTestRelay(t, u, Config{Draining: draining})
				body, w := u.open(t)
				rec := &recorder{}
				done := make(chan endReason)
				start := time.Now()
				go func() {
					_, why := r.pump(t.Context(), rec, body, &auth.Principal{Subject: "u-1"}, "", prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}))
					done <- why
				}()
				_, _ = io.WriteString(w, "id: 7\ndata: a\n\n")
				synctest.Wait()
				u.mu.Lock()
				u.down = tt.stayDown
				u.mu.Unlock()
				_ = w.CloseWithError(errors.New("connection reset"))
				synctest.Wait()

				if tt.stayDown {
					why := <-done
					assert.Equal(t, tt.expectEnd, why)
					assert.GreaterOrEqual(t, time.Since(start), DefaultReconnectFor, "retried for the whole window")
					assert.Less(t, time.Since(start), DefaultReconnectFor+time.Second)
					u.mu.Lock()
					assert.Greater(t, len(u.asked), 2, "retried with backoff")
					u.mu.Unlock()
					return
				}
				// The reconnection happens within the first backoff.
				time.Sleep(time.Second)
				synctest.Wait()
				u.mu.Lock()
				assert.Equal(t, []string{"", "7"}, u.asked, "reopened after the last relayed id")
				w = u.writer
				u.mu.Unlock()
				_, _ = io.WriteString(w, "id: 8\ndata: b\n\n")
				synctest.Wait()
				close(draining)
				assert.Equal(t, tt.expectEnd, <-done)
				_, _, events := rec.state()
				assert.Equal(t, []event{{id: "7", data: "a"}, {id: "8", data: "b"}}, events, "the client saw nothing of the drop")
			})
		})
	}
}

func TestMemorySlots(t *testing.T) {
	t.Parallel()
	type step struct {
		op     string // acquire or release
		user   string
		expect bool
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{name: "ok, up to max", max: 2, steps: []step{
			{"acquire", "a", true}, {"acquire", "a", true}, {"acquire", "a", false}}},
		{name: "ok, users counted apart", max: 1, steps: []step{
			{"acquire", "a", true}, {"acquire", "b", true}, {"acquire", "a", false}, {"acquire", "b", false}}},
		{name: "ok, a release frees a slot", max: 1, steps: []step{
			{"acquire", "a", true}, {"acquire", "a", false}, {"release", "a", false}, {"acquire", "a", true}, {"acquire", "a", false}}},
		{name: "nok, a stray release frees nothing beyond max", max: 1, steps: []step{
			{"release", "a", false}, {"release", "a", false}, {"acquire", "a", true}, {"acquire", "a", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewMemorySlots()
			for i, st := range tt.steps {
				if st.op == "release" {
					s.Release(t.Context(), st.user, "s")
					continue
				}
				ok, err := s.Acquire(t.Context(), st.user, "s", tt.max)
				require.NoError(t, err)
				assert.Equal(t, st.expect, ok, "step %d", i)
			}
		})
	}
}

// TestRedisSlotsStopWithContext checks that the refreshes of a process's
// slots end when the context it was given ends, without Close.
func TestRedisSlotsStopWithContext(t *testing.T) {
	t.Parallel()
	srv := edgetest.StartRedis(t)
	opts, err := redis.ParseURL(srv.URL())
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })

	ctx, cancel := context.WithCancel(t.Context())
	s := NewRedisSlots(ctx, rdb, "test:events:", nil)
	ok, err := s.Acquire(ctx, "u-1", "s-1", 1)
	require.NoError(t, err)
	require.True(t, ok)
	cancel()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		require.Fail(t, "the refresh loop outlived its context")
	}
	require.NoError(t, s.Close(), "Close after the context ended")
}
