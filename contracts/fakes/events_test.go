package fakes_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
)

func TestEventStream(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	first, err := f.Publish("u-001", domain.EventNotification, domain.NotificationEvent{ID: "n-1", Title: "one", Unread: 1})
	require.NoError(t, err)
	_, err = f.Publish("u-001", domain.EventNotification, domain.NotificationEvent{ID: "n-2", Title: "two", Unread: 2})
	require.NoError(t, err)

	req, _ := http.NewRequest(http.MethodGet, base+"/notifications/users/u-001/events", nil)
	req.Header.Set("Last-Event-ID", first.ID)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	r := bufio.NewReader(res.Body)
	var got []string
	for range 4 {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		got = append(got, strings.TrimSuffix(line, "\n"))
	}
	assert.Equal(t, []string{"id: 2", "event: notification", `data: {"id":"n-2","title":"two","unread":2}`, ""}, got, "only the later event")

	f.DropStreams()
	_, err = r.ReadString('\n')
	assert.Error(t, err, "the stream is cut, not ended cleanly")

	res, err = http.Get(base + "/notifications/users/u-999/events")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	_, err = f.Publish("u-001", "bad\nname", nil)
	assert.Error(t, err)
}
