package view_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-mobile/internal/view"
	"github.com/shopfront/contracts/domain"
	storeview "github.com/shopfront/shared/storefront/view"
)

func TestCut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  string
		n      int
		expect string
	}{
		{name: "ok, short text kept", given: "phone", n: 280, expect: "phone"},
		{name: "ok, ascii cut", given: strings.Repeat("a", 300), n: 280, expect: strings.Repeat("a", 280)},
		{name: "ok, exactly n runes kept", given: strings.Repeat("é", 280), n: 280, expect: strings.Repeat("é", 280)},
		{name: "ok, multi-byte cut on a rune boundary", given: strings.Repeat("日本", 200), n: 280, expect: strings.Repeat("日本", 140)},
		{name: "ok, emoji counted as one character", given: "👍👍👍", n: 2, expect: "👍👍"},
		{name: "ok, empty", given: "", n: 280, expect: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := view.Cut(tt.given, tt.n)
			assert.Equal(t, tt.expect, got)
			assert.True(t, utf8.ValidString(got))
			assert.LessOrEqual(t, utf8.RuneCountInString(got), tt.n)
		})
	}
}

func TestCompact(t *testing.T) {
	t.Parallel()
	p := domain.Product{ID: "p1", SKU: "S1", Name: "Phone", Description: strings.Repeat("x", 1000), Brand: "B", Category: "c",
		Images: []domain.Image{{URL: "l", Width: 800, Height: 800}, {URL: "s", Width: 80, Height: 80}}}
	got := view.Compact(p)
	assert.Len(t, got.Description, view.MaxText)
	require.NotNil(t, got.ThumbnailURL)
	assert.Equal(t, "s", *got.ThumbnailURL)
	assert.Equal(t, "Phone", got.Name)
}

func TestLookup(t *testing.T) {
	t.Parallel()
	l := view.NewLookup(
		[]domain.Product{{ID: "p1", Name: "One", Images: []domain.Image{{URL: "u1", Width: 1, Height: 1}}}},
		[]domain.Price{{ProductID: "p1", Currency: "USD", Amount: 1999, ListAmount: 2499}},
	)
	cards := l.Cards([]string{"p1", "p2"})
	require.Len(t, cards, 2)
	assert.Equal(t, "One", *cards[0].Name)
	assert.Equal(t, "u1", *cards[0].ThumbnailURL)
	assert.Equal(t, storeview.Money{Amount: 1999, Currency: "USD"}, *cards[0].Price)
	assert.Equal(t, view.Card{ProductID: "p2"}, cards[1], "an unknown product keeps its id and nothing else")
}

func TestReviews(t *testing.T) {
	t.Parallel()
	rs := []domain.Review{{ID: "r1", Body: strings.Repeat("b", 500)}, {ID: "r2"}, {ID: "r3"}, {ID: "r4"}}
	got := view.Reviews(rs, 3)
	require.Len(t, got, 3)
	assert.Equal(t, []string{"r1", "r2", "r3"}, []string{got[0].ID, got[1].ID, got[2].ID}, "the first three, in the service's order")
	assert.Len(t, got[0].Body, view.MaxText)
	assert.Empty(t, view.Reviews(nil, 3))
}

func TestProductIDs(t *testing.T) {
	t.Parallel()
	orders := []domain.Order{{Items: []domain.OrderItem{{ProductID: "a"}, {ProductID: "b"}}}, {Items: []domain.OrderItem{{ProductID: "a"}}}}
	recs := []domain.Recommendation{{ProductID: "c"}, {ProductID: "b"}}
	assert.Equal(t, []string{"a", "b", "c"}, view.ProductIDs(orders, recs))
	assert.Equal(t, []string{"c"}, view.RecommendedIDs(recs, 1))
}
