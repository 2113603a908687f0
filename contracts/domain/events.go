package domain

import "encoding/json"

// The event types of the notifications service's per-user stream
// (GET /users/{userId}/events, text/event-stream).
const (
	// EventNotification carries a NotificationEvent.
	EventNotification = "notification"
	// EventOrderStatus carries an OrderStatusEvent.
	EventOrderStatus = "order_status"
)

// Event is one event of a user's stream: its SSE `event`, `id` and `data`
// lines. IDs increase along a user's stream; a client resumes after one
// with Last-Event-ID.
type Event struct {
	ID    string          `json:"id"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// NotificationEvent is the data of a notification event.
type NotificationEvent struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Unread int    `json:"unread"`
}

// OrderStatusEvent is the data of an order_status event.
type OrderStatusEvent struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
}

// PublishEvent is the body of the fakes' POST /__events/{userId}.
type PublishEvent struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}
