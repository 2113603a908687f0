package events

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
)

// errAnswered is a failed handshake the WebSocket library has answered.
var errAnswered = errors.New("websocket handshake refused")

// wsSink writes WebSocket text messages {"event","id","data"}.
type wsSink struct {
	conn         *websocket.Conn
	ctx          context.Context
	writeTimeout time.Duration
}

// message is one WebSocket message. Data is the event's JSON as it is, or
// a string when the upstream's data is not JSON.
type message struct {
	Event string `json:"event"`
	ID    string `json:"id"`
	Data  any    `json:"data"`
}

// acceptWebSocket completes the handshake. The returned context ends when
// the client closes the connection or it breaks: a WebSocket has no request
// context that tells.
func acceptWebSocket(ctx context.Context, c echo.Context, cfg Config) (*wsSink, context.Context, error) {
	rc := http.NewResponseController(c.Response())
	// The hijacked connection keeps the deadlines the server set for the
	// handshake request; a stream outlives them.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{
		// Handle checked Origin against the allowed CORS origins already.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		// Accept has answered the bad handshake itself.
		return nil, ctx, errAnswered
	}
	conn.SetReadLimit(1 << 10)
	// The client sends nothing; reading only answers pings and notices its
	// close frame, and ends the context then.
	ctx = conn.CloseRead(ctx)
	return &wsSink{conn: conn, ctx: ctx, writeTimeout: cfg.WriteTimeout}, ctx, nil
}

func (s *wsSink) write(m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.writeTimeout)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, b)
}

func (s *wsSink) event(ev event) error {
	var data any = ev.data
	if json.Valid([]byte(ev.data)) {
		data = json.RawMessage(ev.data)
	}
	return s.write(message{Event: ev.name, ID: ev.id, Data: data})
}

func (s *wsSink) ping() error {
	ctx, cancel := context.WithTimeout(s.ctx, s.writeTimeout)
	defer cancel()
	return s.conn.Ping(ctx)
}

func (s *wsSink) end(why endReason) {
	switch why {
	case endReauth:
		if s.write(message{Event: "reauth", Data: json.RawMessage(`{}`)}) != nil {
			break
		}
		_ = s.conn.Close(websocket.StatusNormalClosure, "reauth")
		return
	case endShutdown:
		// 1001: the server is going away; the client reconnects elsewhere.
		_ = s.conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	case endUpstream:
		_ = s.conn.Close(websocket.StatusTryAgainLater, "events unavailable")
		return
	}
	_ = s.conn.CloseNow()
}
