package fakes

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"

	"github.com/shopfront/contracts/domain"
)

// maxEventsPerUser bounds each user's event log; older events are
// forgotten, so a resume from an id that old gets what is left.
const maxEventsPerUser = 1000

// eventName is the shape of an event type, e.g. order_status: it goes on
// an SSE `event:` line, so it must hold no line break.
var eventName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// eventLog is the notifications service's per-user event streams: an
// in-memory log per user with ids increasing across all users, and the
// signals that wake open streams.
type eventLog struct {
	mu     sync.Mutex
	last   int64
	byUser map[string][]domain.Event
	// wake is closed, and replaced, when an event is published to its user.
	wake map[string]chan struct{}
	// drop is closed, and replaced, by DropStreams.
	drop chan struct{}
}

func newEventLog() *eventLog {
	return &eventLog{byUser: map[string][]domain.Event{}, wake: map[string]chan struct{}{}, drop: make(chan struct{})}
}

func (l *eventLog) publish(user, event string, data json.RawMessage) domain.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last++
	ev := domain.Event{ID: strconv.FormatInt(l.last, 10), Event: event, Data: data}
	log := append(l.byUser[user], ev)
	if len(log) > maxEventsPerUser {
		log = log[len(log)-maxEventsPerUser:]
	}
	l.byUser[user] = log
	if ch, ok := l.wake[user]; ok {
		close(ch)
		delete(l.wake, user)
	}
	return ev
}

// since returns user's events after the id after, the channel closed by
// the next event published to user, and the one closed by DropStreams.
func (l *eventLog) since(user string, after int64) ([]domain.Event, <-chan struct{}, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []domain.Event
	for _, ev := range l.byUser[user] {
		if id, _ := strconv.ParseInt(ev.ID, 10, 64); id > after {
			out = append(out, ev)
		}
	}
	ch, ok := l.wake[user]
	if !ok {
		ch = make(chan struct{})
		l.wake[user] = ch
	}
	return out, ch, l.drop
}

func (l *eventLog) lastID() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Publish appends an event to userID's stream, e.g. ("notification",
// domain.NotificationEvent{...}), and wakes its open streams. data is
// encoded as JSON.
func (f *Fakes) Publish(userID, event string, data any) (domain.Event, error) {
	if _, ok := f.data.userIdx[userID]; !ok {
		return domain.Event{}, fmt.Errorf("unknown user %q", userID)
	}
	if !eventName.MatchString(event) {
		return domain.Event{}, fmt.Errorf("event %q is not a snake_case name", event)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return domain.Event{}, fmt.Errorf("encoding event data: %w", err)
	}
	return f.events.publish(userID, event, raw), nil
}

// DropStreams cuts every open event stream mid-way, as a crashing or
// redeployed notifications service would: the connection closes without
// the end of the answer. Streams opened afterwards work as before.
func (f *Fakes) DropStreams() {
	l := f.events
	l.mu.Lock()
	close(l.drop)
	l.drop = make(chan struct{})
	l.mu.Unlock()
}

func (f *Fakes) postEvent(w http.ResponseWriter, r *http.Request) {
	var req domain.PublishEvent
	if err := decodeStrict(r, &req); err != nil {
		badRequest(w, err)
		return
	}
	if len(req.Data) == 0 {
		req.Data = json.RawMessage(`{}`)
	}
	ev, err := f.Publish(r.PathValue("userId"), req.Event, req.Data)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "validation_failed", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, ev)
}

// streamEvents serves GET /users/{userId}/events: without Last-Event-ID the
// events published from now on, with it every later event still in the log
// first. It ends when the caller goes away or DropStreams cuts it.
func (f *Fakes) streamEvents(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("userId")
	if _, ok := f.data.userIdx[user]; !ok {
		notFound(w, "user", user)
		return
	}
	after := f.events.lastID()
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			badRequest(w, errors.New("Last-Event-ID must be an event id"))
			return
		}
		after = n
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	for {
		evs, wake, drop := f.events.since(user, after)
		for _, ev := range evs {
			if _, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Event, ev.Data); err != nil {
				return
			}
			after, _ = strconv.ParseInt(ev.ID, 10, 64)
		}
		if len(evs) > 0 {
			if err := rc.Flush(); err != nil {
				return
			}
		}
		select {
		case <-wake:
		case <-drop:
			// Abort closes the connection without the final chunk: the
			// reader sees the answer cut off, not a clean end.
			panic(http.ErrAbortHandler)
		case <-r.Context().Done():
			return
		}
	}
}
