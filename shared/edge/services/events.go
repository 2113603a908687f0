package services

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/shopfront/shared/edge/upstream"
)

// Events opens userID's event stream (text/event-stream) after lastEventID
// (empty: from the next event on). The connection and the first byte must
// come within firstByte (the call timeout when zero); then the stream lasts
// as long as ctx or the service. The caller closes the body.
func (s *Notifications) Events(ctx context.Context, userID, lastEventID string, firstByte time.Duration) (io.ReadCloser, error) {
	r := upstream.Request{Path: upstream.Path("users", userID, "events")}
	if lastEventID != "" {
		r.Header = http.Header{"Last-Event-Id": {lastEventID}}
	}
	res, err := s.c.Stream(ctx, r, firstByte)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}
