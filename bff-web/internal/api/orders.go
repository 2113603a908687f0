package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
)

// createOrder is the body of POST /v1/orders. Pointers tell missing members
// apart from zero values. There is no user member: the user is the
// session's, and an unknown member is rejected.
type createOrder struct {
	Items []struct {
		ProductID *string `json:"productId"`
		Quantity  *int    `json:"quantity"`
	} `json:"items"`
	Currency *string `json:"currency"`
}

func (b createOrder) validate() (domain.CreateOrder, error) {
	var errs []fieldError
	out := domain.CreateOrder{Items: make([]domain.LineItem, 0, len(b.Items))}
	if len(b.Items) < 1 || len(b.Items) > maxOrderLines {
		errs = append(errs, fieldError{Path: "$.items", Message: fmt.Sprintf("must hold 1-%d lines", maxOrderLines)})
	}
	for i, it := range b.Items {
		if it.ProductID == nil || !idPattern.MatchString(*it.ProductID) {
			errs = append(errs, fieldError{Path: fmt.Sprintf("$.items[%d].productId", i), Message: "must be a product id"})
		}
		if it.Quantity == nil || *it.Quantity < 1 || *it.Quantity > maxQuantity {
			errs = append(errs, fieldError{Path: fmt.Sprintf("$.items[%d].quantity", i), Message: fmt.Sprintf("must be an integer within 1..%d", maxQuantity)})
		}
		if len(errs) == 0 {
			out.Items = append(out.Items, domain.LineItem{ProductID: *it.ProductID, Quantity: *it.Quantity})
		}
	}
	if b.Currency == nil || !currencyPattern.MatchString(*b.Currency) {
		errs = append(errs, fieldError{Path: "$.currency", Message: "must be an ISO 4217 code such as USD"})
	} else {
		out.Currency = *b.Currency
	}
	if len(errs) > 0 {
		return domain.CreateOrder{}, invalid(errs...)
	}
	return out, nil
}

// createOrder is POST /v1/orders: the order is placed for the session's
// user, with the caller's Idempotency-Key forwarded so that a retried POST
// does not order twice.
func (a *API) createOrder(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	key := c.Request().Header.Get(services.HeaderIdempotencyKey)
	if len(c.Request().Header.Values(services.HeaderIdempotencyKey)) > 1 || !validIdempotencyKey(key) {
		return invalid(fieldError{Path: services.HeaderIdempotencyKey,
			Message: fmt.Sprintf("must be one value of 1-%d visible ASCII characters", maxIdempotencyKey)})
	}
	var body createOrder
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	req, err := body.validate()
	if err != nil {
		return err
	}
	req.UserID = id
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.budgets.Single)
	defer cancel()
	o, err := a.c.Orders.Create(ctx, req, key)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/orders/"+o.ID)
	return writePersonal(c, http.StatusCreated, orderOf(o))
}

// validIdempotencyKey accepts an absent key or 1-255 visible ASCII
// characters.
func validIdempotencyKey(k string) bool {
	if len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// order is GET /v1/orders/{id}: only the caller's own orders exist for
// them; someone else's answers the same 404 as a missing one, so order ids
// cannot be probed.
func (a *API) order(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	orderID, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.budgets.Single)
	defer cancel()
	o, err := a.c.Orders.Get(ctx, orderID)
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.Kind == upstream.KindClientError && ue.Status == http.StatusNotFound {
		return problem.NotFound("No such order.").Wrap(err)
	}
	if err != nil {
		return err
	}
	if o.UserID != id {
		return problem.NotFound("No such order.")
	}
	return writePersonal(c, http.StatusOK, orderOf(o))
}
