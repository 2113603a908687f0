package storefront

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
	"github.com/shopfront/shared/storefront/view"
)

// createOrder is the body of POST /v1/orders. Pointers tell missing members
// apart from zero values. There is no user member: the user is the
// verified principal, and an unknown member is rejected.
type createOrder struct {
	Items []struct {
		ProductID *string `json:"productId"`
		Quantity  *int    `json:"quantity"`
	} `json:"items"`
	Currency *string `json:"currency"`
}

func (b createOrder) validate() (domain.CreateOrder, error) {
	var errs []input.FieldError
	out := domain.CreateOrder{Items: make([]domain.LineItem, 0, len(b.Items))}
	if len(b.Items) < 1 || len(b.Items) > input.MaxOrderLines {
		errs = append(errs, input.BodyError("/items", fmt.Sprintf("must hold 1-%d lines", input.MaxOrderLines)))
	}
	for i, it := range b.Items {
		if it.ProductID == nil || !input.ValidID(*it.ProductID) {
			errs = append(errs, input.BodyError(fmt.Sprintf("/items/%d/productId", i), "must be a product id"))
		}
		if it.Quantity == nil || *it.Quantity < 1 || *it.Quantity > input.MaxQuantity {
			errs = append(errs, input.BodyError(fmt.Sprintf("/items/%d/quantity", i), fmt.Sprintf("must be an integer within 1..%d", input.MaxQuantity)))
		}
		if len(errs) == 0 {
			out.Items = append(out.Items, domain.LineItem{ProductID: *it.ProductID, Quantity: *it.Quantity})
		}
	}
	if b.Currency == nil || !input.ValidCurrency(*b.Currency) {
		errs = append(errs, input.BodyError("/currency", "must be an ISO 4217 code such as USD"))
	} else {
		out.Currency = *b.Currency
	}
	if len(errs) > 0 {
		return domain.CreateOrder{}, input.Invalid(errs...)
	}
	return out, nil
}

// CreateOrder is POST /v1/orders: the order is placed for the verified
// user, with the caller's Idempotency-Key forwarded so that a retried POST
// over a flaky link does not order twice.
func (s *Routes) CreateOrder(c echo.Context) error {
	id, err := input.UserID(c)
	if err != nil {
		return err
	}
	key := c.Request().Header.Get(services.HeaderIdempotencyKey)
	if len(c.Request().Header.Values(services.HeaderIdempotencyKey)) > 1 || !input.ValidIdempotencyKey(key) {
		return input.Invalid(input.FieldError{In: input.InHeader, Path: services.HeaderIdempotencyKey,
			Message: fmt.Sprintf("must be one value of 1-%d visible ASCII characters", input.MaxIdempotencyKey)})
	}
	var body createOrder
	if err := input.DecodeJSON(c, &body); err != nil {
		return err
	}
	req, err := body.validate()
	if err != nil {
		return err
	}
	req.UserID = id
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.order)
	defer cancel()
	o, err := s.c.Orders.Create(ctx, req, key)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/orders/"+o.ID)
	return s.write(c, http.StatusCreated, change, nil, view.OrderOf(o))
}

// orderNotFound is the one answer for a missing order and for someone
// else's, so that order ids cannot be probed.
func orderNotFound() *problem.Problem { return problem.NotFound("No such order.") }

// Order is GET /v1/orders/{id}: only the caller's own orders exist for
// them.
func (s *Routes) Order(c echo.Context) error {
	id, err := input.UserID(c)
	if err != nil {
		return err
	}
	orderID, err := input.PathID(c, "id")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.order)
	defer cancel()
	o, err := s.c.Orders.Get(ctx, orderID)
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.Kind == upstream.KindClientError && ue.Status == http.StatusNotFound {
		return orderNotFound().Wrap(err)
	}
	if err != nil {
		return err
	}
	if o.UserID != id {
		return orderNotFound()
	}
	return s.write(c, http.StatusOK, read, nil, view.OrderOf(o))
}
