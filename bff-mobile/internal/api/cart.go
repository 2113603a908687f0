package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/bff-mobile/internal/view"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/aggregate"
)

// cart is GET /v1/cart.
func (a *API) cart(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	v, degraded, err := a.cartView(c, func(ctx context.Context) (domain.Cart, error) {
		return a.c.Cart.Get(ctx, id)
	})
	if err != nil {
		return err
	}
	return a.writeView(c, degraded, v)
}

// setQuantity is the body of PUT /v1/cart/items/{productId}. Quantity is a
// pointer so that a missing member is told apart from 0 (which the cart
// service treats as removal).
type setQuantity struct {
	Quantity *int `json:"quantity"`
}

// setCartItem is PUT /v1/cart/items/{productId} {quantity}.
func (a *API) setCartItem(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	productID, err := pathID(c, "productId")
	if err != nil {
		return err
	}
	var body setQuantity
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if body.Quantity == nil || *body.Quantity < 0 || *body.Quantity > maxQuantity {
		return invalid(fieldError{Path: "$.quantity", Message: fmt.Sprintf("must be an integer within 0..%d", maxQuantity)})
	}
	v, _, err := a.cartView(c, func(ctx context.Context) (domain.Cart, error) {
		return a.c.Cart.SetItem(ctx, id, productID, *body.Quantity)
	})
	if err != nil {
		return err
	}
	return writeChange(c, http.StatusOK, v)
}

// removeCartItem is DELETE /v1/cart/items/{productId}.
func (a *API) removeCartItem(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	productID, err := pathID(c, "productId")
	if err != nil {
		return err
	}
	v, _, err := a.cartView(c, func(ctx context.Context) (domain.Cart, error) {
		return a.c.Cart.RemoveItem(ctx, id, productID)
	})
	if err != nil {
		return err
	}
	return writeChange(c, http.StatusOK, v)
}

// cartView runs load (the cart service, critical), then the names and
// prices of its products (optional).
func (a *API) cartView(c echo.Context, load func(context.Context) (domain.Cart, error)) (view.Cart, []string, error) {
	var (
		cart     domain.Cart
		products []domain.Product
		prices   []domain.Price
	)
	ids := func() []string { return view.ProductIDs(nil, nil, cart.Items) }
	degraded, err := aggregate.Run(c.Request().Context(), a.budgets.Cart, a.observe(c),
		aggregate.Critical(domain.ServiceCart, func(ctx context.Context) (err error) {
			cart, err = load(ctx)
			return
		}),
		aggregate.Then(
			aggregate.Optional(domain.ServiceCatalog, func(ctx context.Context) (err error) {
				products, err = a.c.Catalog.Products(ctx, ids())
				return
			}),
			aggregate.Optional(domain.ServicePricing, func(ctx context.Context) (err error) {
				prices, err = a.c.Pricing.Prices(ctx, ids(), a.currency)
				return
			}),
		),
	)
	if err != nil {
		return view.Cart{}, nil, err
	}
	v := view.NewLookup(products, prices).CartOf(cart)
	v.Degraded = degraded
	return v, degraded, nil
}
