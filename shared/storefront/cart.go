package storefront

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/aggregate"
	"github.com/shopfront/shared/edge/degraded"
	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/storefront/view"
)

// Cart is GET /v1/cart.
func (s *Routes) Cart(c echo.Context) error {
	id, err := input.UserID(c)
	if err != nil {
		return err
	}
	v, err := s.cartView(c, func(ctx context.Context) (domain.Cart, error) {
		return s.c.Cart.Get(ctx, id)
	})
	if err != nil {
		return err
	}
	return s.write(c, http.StatusOK, read, v.Degraded, v)
}

// setQuantity is the body of PUT /v1/cart/items/{productId}. Quantity is a
// pointer so that a missing member is told apart from 0 (which the cart
// service treats as removal).
type setQuantity struct {
	Quantity *int `json:"quantity"`
}

// cartItem returns the caller and the product of a cart item route.
func cartItem(c echo.Context) (userID, productID string, err error) {
	if userID, err = input.UserID(c); err != nil {
		return "", "", err
	}
	productID, err = input.PathID(c, "productId")
	return userID, productID, err
}

// SetCartItem is PUT /v1/cart/items/{productId} {quantity}.
func (s *Routes) SetCartItem(c echo.Context) error {
	id, productID, err := cartItem(c)
	if err != nil {
		return err
	}
	var body setQuantity
	if err := input.DecodeJSON(c, &body); err != nil {
		return err
	}
	if body.Quantity == nil || *body.Quantity < 0 || *body.Quantity > input.MaxQuantity {
		return input.Invalid(input.BodyError("/quantity", fmt.Sprintf("must be an integer within 0..%d", input.MaxQuantity)))
	}
	v, err := s.cartView(c, func(ctx context.Context) (domain.Cart, error) {
		return s.c.Cart.SetItem(ctx, id, productID, *body.Quantity)
	})
	if err != nil {
		return err
	}
	return s.write(c, http.StatusOK, change, v.Degraded, v)
}

// RemoveCartItem is DELETE /v1/cart/items/{productId}.
func (s *Routes) RemoveCartItem(c echo.Context) error {
	id, productID, err := cartItem(c)
	if err != nil {
		return err
	}
	v, err := s.cartView(c, func(ctx context.Context) (domain.Cart, error) {
		return s.c.Cart.RemoveItem(ctx, id, productID)
	})
	if err != nil {
		return err
	}
	return s.write(c, http.StatusOK, change, v.Degraded, v)
}

// cartView runs load (the cart service, critical), then the names and
// prices of its products (optional, one batch call each; an empty cart
// makes no call).
func (s *Routes) cartView(c echo.Context, load func(context.Context) (domain.Cart, error)) (view.Cart, error) {
	var (
		cart     domain.Cart
		products []domain.Product
		prices   []domain.Price
	)
	ids := func() []string {
		out := make([]string, 0, len(cart.Items))
		for _, it := range cart.Items {
			out = append(out, it.ProductID)
		}
		return out
	}
	failed, err := aggregate.Run(c.Request().Context(), s.cart, degraded.Log(s.log, c),
		aggregate.Critical(domain.ServiceCart, func(ctx context.Context) (err error) {
			cart, err = load(ctx)
			return
		}),
		aggregate.Then(
			aggregate.Optional(domain.ServiceCatalog, func(ctx context.Context) (err error) {
				products, err = s.c.Catalog.Products(ctx, ids())
				return
			}),
			aggregate.Optional(domain.ServicePricing, func(ctx context.Context) (err error) {
				prices, err = s.c.Pricing.Prices(ctx, ids(), s.currency)
				return
			}),
		),
	)
	if err != nil {
		return view.Cart{}, err
	}
	v := view.NewLookup(products, prices).Cart(cart)
	v.Degraded = failed
	return v, nil
}
