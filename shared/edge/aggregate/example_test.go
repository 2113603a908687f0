package aggregate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopfront/shared/edge/aggregate"
)

// ExampleRun declares a home screen: the user is critical, the rest is
// optional, and a second stage looks up the products the first one found.
func ExampleRun() {
	type home struct {
		User     string
		OrderIDs []string
		Recs     []string
		Names    []string
	}
	var v home
	degraded, err := aggregate.Run(context.Background(), 2500*time.Millisecond,
		aggregate.Critical("users", func(context.Context) error { v.User = "Alice"; return nil }),
		aggregate.Optional("orders", func(context.Context) error { v.OrderIDs = []string{"o-1"}; return nil }),
		aggregate.Optional("recommendations", func(context.Context) error { return errors.New("503") },
			aggregate.Timeout(800*time.Millisecond)),
		aggregate.Then(
			aggregate.Optional("catalog", func(context.Context) error {
				v.Names = []string{fmt.Sprintf("items of %d orders", len(v.OrderIDs))}
				return nil
			}),
		),
	)
	fmt.Println(v.User, v.Names, degraded, err)
	// Output: Alice [items of 1 orders] [recommendations] <nil>
}

// ExampleChain declares a product page whose similar products are priced
// as soon as recommendations answers, however long reviews takes.
func ExampleChain() {
	var (
		similar []string
		prices  map[string]int
	)
	degraded, err := aggregate.Run(context.Background(), 2500*time.Millisecond,
		aggregate.Critical("catalog", func(context.Context) error { return nil }),
		aggregate.Optional("reviews", func(context.Context) error { return errors.New("503") }),
		aggregate.Chain(
			aggregate.Optional("recommendations", func(context.Context) error { similar = []string{"p-2"}; return nil }),
			aggregate.Then(aggregate.Optional("pricing", func(context.Context) error {
				prices = map[string]int{similar[0]: 1999}
				return nil
			})),
		),
	)
	fmt.Println(prices, degraded, err)
	// Output: map[p-2:1999] [reviews] <nil>
}
