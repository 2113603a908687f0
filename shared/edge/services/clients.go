package services

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/routing"
	"github.com/shopfront/shared/edge/upstream"
)

// HeaderIdempotencyKey is forwarded to the orders service on creation.
const HeaderIdempotencyKey = "Idempotency-Key"

// caller makes the calls of one service: a *routing.Route, which picks the
// variant of each call, or a single *upstream.Client.
type caller interface {
	Get(ctx context.Context, path string, query url.Values, out any) error
	Do(ctx context.Context, r upstream.Request, out any) error
	Stream(ctx context.Context, r upstream.Request, firstByte time.Duration) (*http.Response, error)
}

var (
	_ caller = (*routing.Route)(nil)
	_ caller = (*upstream.Client)(nil)
)

// Catalog is the client of the catalog service.
type Catalog struct{ c caller }

// Product returns one product; an unknown id is a 404 problem.
func (s *Catalog) Product(ctx context.Context, id string) (domain.Product, error) {
	var p domain.Product
	err := s.c.Get(ctx, upstream.Path("products", id), nil, &p)
	return p, err
}

// Products returns the known products among ids in one batch call, in the
// service's order; unknown ids are left out. No ids means no call.
func (s *Catalog) Products(ctx context.Context, ids []string) ([]domain.Product, error) {
	ids = unique(ids)
	if len(ids) == 0 {
		return []domain.Product{}, nil
	}
	var l domain.ProductList
	if err := s.c.Get(ctx, upstream.Path("products"), url.Values{"ids": {strings.Join(ids, ",")}}, &l); err != nil {
		return nil, err
	}
	return nonNil(l.Items), nil
}

// Search is a catalog query; zero fields are left out of the call.
type Search struct {
	// Q is the free-text query.
	Q string
	// Category narrows the search to one category.
	Category string
	// Page is the 1-based page number.
	Page int
	// PageSize is the number of products per page.
	PageSize int
}

// Search returns one page of products matching q.
func (s *Catalog) Search(ctx context.Context, q Search) (domain.ProductPage, error) {
	v := url.Values{}
	setString(v, "q", q.Q)
	setString(v, "category", q.Category)
	setInt(v, "page", q.Page)
	setInt(v, "pageSize", q.PageSize)
	var p domain.ProductPage
	err := s.c.Get(ctx, upstream.Path("products"), v, &p)
	p.Items = nonNil(p.Items)
	return p, err
}

// Inventory is the client of the inventory service.
type Inventory struct{ c caller }

// Stock returns the availability of one product.
func (s *Inventory) Stock(ctx context.Context, productID string) (domain.Stock, error) {
	var st domain.Stock
	err := s.c.Get(ctx, upstream.Path("stock", productID), nil, &st)
	return st, err
}

// Stores returns the stores within radiusKm of (lat, lon) that stock the
// product.
func (s *Inventory) Stores(ctx context.Context, productID string, lat, lon, radiusKm float64) ([]domain.StoreStock, error) {
	v := url.Values{
		"lat": {strconv.FormatFloat(lat, 'f', -1, 64)},
		"lon": {strconv.FormatFloat(lon, 'f', -1, 64)},
	}
	if radiusKm > 0 {
		v.Set("radiusKm", strconv.FormatFloat(radiusKm, 'f', -1, 64))
	}
	var l domain.StoreStockList
	if err := s.c.Get(ctx, upstream.Path("stock", productID, "stores"), v, &l); err != nil {
		return nil, err
	}
	return nonNil(l.Items), nil
}

// Pricing is the client of the pricing service.
type Pricing struct{ c caller }

// Price returns the price of one product in currency (the service's
// default when empty).
func (s *Pricing) Price(ctx context.Context, productID, currency string) (domain.Price, error) {
	v := url.Values{}
	setString(v, "currency", currency)
	var p domain.Price
	err := s.c.Get(ctx, upstream.Path("prices", productID), v, &p)
	return p, err
}

// Prices returns the prices of the known products among ids in one batch
// call. No ids means no call.
func (s *Pricing) Prices(ctx context.Context, ids []string, currency string) ([]domain.Price, error) {
	ids = unique(ids)
	if len(ids) == 0 {
		return []domain.Price{}, nil
	}
	v := url.Values{"ids": {strings.Join(ids, ",")}}
	setString(v, "currency", currency)
	var l domain.PriceList
	if err := s.c.Get(ctx, upstream.Path("prices"), v, &l); err != nil {
		return nil, err
	}
	return nonNil(l.Items), nil
}

// Reviews is the client of the reviews service.
type Reviews struct{ c caller }

// ForProduct returns one page of a product's reviews with its rating
// summary. Zero page or limit leave the service's default.
func (s *Reviews) ForProduct(ctx context.Context, productID string, page, limit int) (domain.ReviewPage, error) {
	v := url.Values{}
	setInt(v, "page", page)
	setInt(v, "limit", limit)
	var p domain.ReviewPage
	err := s.c.Get(ctx, upstream.Path("products", productID, "reviews"), v, &p)
	p.Items = nonNil(p.Items)
	return p, err
}

// Recommendations is the client of the recommendations service.
type Recommendations struct{ c caller }

// ForUser returns up to limit products recommended to a user.
func (s *Recommendations) ForUser(ctx context.Context, userID string, limit int) ([]domain.Recommendation, error) {
	return s.list(ctx, upstream.Path("users", userID, "recommendations"), limit)
}

// Similar returns up to limit products similar to one product.
func (s *Recommendations) Similar(ctx context.Context, productID string, limit int) ([]domain.Recommendation, error) {
	return s.list(ctx, upstream.Path("products", productID, "similar"), limit)
}

func (s *Recommendations) list(ctx context.Context, path string, limit int) ([]domain.Recommendation, error) {
	v := url.Values{}
	setInt(v, "limit", limit)
	var l domain.RecommendationList
	if err := s.c.Get(ctx, path, v, &l); err != nil {
		return nil, err
	}
	return nonNil(l.Items), nil
}

// Users is the client of the users service.
type Users struct{ c caller }

// Get returns one user; an unknown id is a 404 problem.
func (s *Users) Get(ctx context.Context, userID string) (domain.User, error) {
	var u domain.User
	err := s.c.Get(ctx, upstream.Path("users", userID), nil, &u)
	return u, err
}

// Orders is the client of the orders service.
type Orders struct{ c caller }

// ForUser returns a user's latest orders, up to limit.
func (s *Orders) ForUser(ctx context.Context, userID string, limit int) ([]domain.Order, error) {
	v := url.Values{}
	setInt(v, "limit", limit)
	var l domain.OrderList
	if err := s.c.Get(ctx, upstream.Path("users", userID, "orders"), v, &l); err != nil {
		return nil, err
	}
	return nonNil(l.Items), nil
}

// Get returns one order. Whether the caller may see it is the gateway's
// check; an unknown id is a 404 problem.
func (s *Orders) Get(ctx context.Context, orderID string) (domain.Order, error) {
	var o domain.Order
	err := s.c.Get(ctx, upstream.Path("orders", orderID), nil, &o)
	return o, err
}

// Create places an order. A non-empty idempotencyKey is forwarded as
// Idempotency-Key and, since the service honours it, makes the call safe
// to retry once.
func (s *Orders) Create(ctx context.Context, order domain.CreateOrder, idempotencyKey string) (domain.Order, error) {
	r := upstream.Request{Method: http.MethodPost, Path: upstream.Path("orders"), JSON: order}
	if idempotencyKey != "" {
		r.Header = http.Header{HeaderIdempotencyKey: {idempotencyKey}}
		r.Idempotent = true
	}
	var o domain.Order
	err := s.c.Do(ctx, r, &o)
	return o, err
}

// Cart is the client of the cart service.
type Cart struct{ c caller }

// Get returns a user's cart.
func (s *Cart) Get(ctx context.Context, userID string) (domain.Cart, error) {
	var c domain.Cart
	err := s.c.Get(ctx, upstream.Path("carts", userID), nil, &c)
	c.Items = nonNil(c.Items)
	return c, err
}

// SetItem sets the quantity of a product in a user's cart and returns the
// cart.
func (s *Cart) SetItem(ctx context.Context, userID, productID string, quantity int) (domain.Cart, error) {
	var c domain.Cart
	err := s.c.Do(ctx, upstream.Request{
		Method: http.MethodPut,
		Path:   upstream.Path("carts", userID, "items", productID),
		JSON:   domain.SetQuantity{Quantity: quantity},
	}, &c)
	c.Items = nonNil(c.Items)
	return c, err
}

// RemoveItem removes a product from a user's cart and returns the cart.
func (s *Cart) RemoveItem(ctx context.Context, userID, productID string) (domain.Cart, error) {
	var c domain.Cart
	err := s.c.Do(ctx, upstream.Request{
		Method: http.MethodDelete,
		Path:   upstream.Path("carts", userID, "items", productID),
	}, &c)
	c.Items = nonNil(c.Items)
	return c, err
}

// Payments is the client of the payments service.
type Payments struct{ c caller }

// Balance returns a user's balance.
func (s *Payments) Balance(ctx context.Context, userID string) (domain.Balance, error) {
	var b domain.Balance
	err := s.c.Get(ctx, upstream.Path("users", userID, "balance"), nil, &b)
	return b, err
}

// Notifications is the client of the notifications service.
type Notifications struct{ c caller }

// UnreadCount returns the number of a user's unread notifications.
func (s *Notifications) UnreadCount(ctx context.Context, userID string) (int, error) {
	var u domain.UnreadCount
	err := s.c.Get(ctx, upstream.Path("users", userID, "unread-count"), nil, &u)
	return u.Unread, err
}

// Identity is the client of the identity service's token endpoint.
type Identity struct{ c caller }

// ErrInvalidCredentials is the cause of the 401 returned when identity
// rejects a username/password or a client id/secret.
var ErrInvalidCredentials = errors.New("invalid credentials")

// PasswordToken exchanges a user's credentials for a JWT (grant_type
// password, clientID mobile or web). Rejected credentials are a 401
// unauthorized problem wrapping ErrInvalidCredentials, not a 502.
func (s *Identity) PasswordToken(ctx context.Context, username, password, clientID string) (domain.Token, error) {
	return s.token(ctx, url.Values{
		"grant_type": {"password"},
		"username":   {username},
		"password":   {password},
		"client_id":  {clientID},
	})
}

// ClientCredentialsToken exchanges a partner's OAuth client credentials for
// a JWT carrying the granted scopes (all of the client's when scopes is
// empty).
func (s *Identity) ClientCredentialsToken(ctx context.Context, clientID, clientSecret string, scopes []string) (domain.Token, error) {
	v := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {clientSecret},
	}
	if len(scopes) > 0 {
		v.Set("scope", strings.Join(scopes, " "))
	}
	return s.token(ctx, v)
}

func (s *Identity) token(ctx context.Context, form url.Values) (domain.Token, error) {
	var t domain.Token
	err := s.c.Do(ctx, upstream.Request{Method: http.MethodPost, Path: upstream.Path("oauth", "token"), Form: form}, &t)
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.Kind == upstream.KindClientError &&
		(ue.Status == http.StatusUnauthorized || ue.Status == http.StatusBadRequest) {
		// OAuth 2.0 (RFC 6749 §5.2) answers bad credentials with 400
		// invalid_grant or 401 invalid_client: both mean the caller's
		// credentials are wrong.
		return domain.Token{}, problem.Unauthorized("Invalid credentials.").Wrap(errors.Join(ErrInvalidCredentials, err))
	}
	return t, err
}

func unique(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, ok := seen[id]; ok {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func setString(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

func setInt(v url.Values, k string, n int) {
	if n > 0 {
		v.Set(k, strconv.Itoa(n))
	}
}
