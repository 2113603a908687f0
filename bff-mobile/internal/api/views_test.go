package api_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// The screens as a client reads them: only the members the tests check,
// decoded with their JSON names so a renamed member fails a test instead of
// a type assertion panicking.

type money struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
}

type card struct {
	ID           string `json:"id"`
	ProductID    string `json:"productId"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	ThumbnailURL string `json:"thumbnailUrl"`
	Price        *money `json:"price"`
}

type homeScreen struct {
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Degraded        []string `json:"degraded"`
	Recommendations []card   `json:"recommendations"`
	RecentOrders    []struct {
		Items []card `json:"items"`
	} `json:"recentOrders"`
	Balance             json.RawMessage `json:"balance"`
	UnreadNotifications json.RawMessage `json:"unreadNotifications"`
}

type productScreen struct {
	Product      card            `json:"product"`
	Price        json.RawMessage `json:"price"`
	Availability json.RawMessage `json:"availability"`
	Rating       *struct {
		Average float64 `json:"average"`
		Count   int     `json:"count"`
	} `json:"rating"`
	TopReviews []struct {
		ID string `json:"id"`
	} `json:"topReviews"`
	Similar      []card            `json:"similar"`
	NearbyStores []json.RawMessage `json:"nearbyStores"`
	Degraded     []string          `json:"degraded"`
}

type listScreen struct {
	Items    []card   `json:"items"`
	Total    int      `json:"total"`
	Degraded []string `json:"degraded"`
}

type created struct {
	ID string `json:"id"`
}

// decode reads the reply's body as a T.
func decode[T any](t testing.TB, r reply) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}
