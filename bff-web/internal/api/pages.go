package api

import (
	"context"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/aggregate"
	"github.com/shopfront/shared/edge/degraded"
	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/storefront/view"
)

// Sizes of the pages' lists.
const (
	productReviews = 10
	productSimilar = 8
	accountOrders  = 10
	// stockParallelism bounds the inventory calls of one catalog page
	// (inventory has no batch endpoint).
	stockParallelism = 8
)

// catalog is GET /v1/catalog: a page of the catalog's search (critical),
// then the prices (one batch call) and availability (one call per product,
// inventory having no batch endpoint) of its products.
func (a *API) catalog(c echo.Context) error {
	q, err := a.parseCatalog(c)
	if err != nil {
		return err
	}
	var (
		page   domain.ProductPage
		prices []domain.Price
		stock  map[string]domain.StockStatus
	)
	ids := func() []string {
		out := make([]string, 0, len(page.Items))
		for _, p := range page.Items {
			out = append(out, p.ID)
		}
		return out
	}
	degradedParts, err := aggregate.Run(c.Request().Context(), a.budgets.Catalog, degraded.Log(a.log, c),
		aggregate.Critical(domain.ServiceCatalog, func(ctx context.Context) (err error) {
			page, err = a.c.Catalog.Search(ctx, services.Search{Q: q.q, Category: q.category, Page: q.page, PageSize: q.pageSize})
			return
		}),
		aggregate.Then(
			aggregate.Optional(domain.ServicePricing, func(ctx context.Context) (err error) {
				if len(page.Items) == 0 {
					return nil
				}
				prices, err = a.c.Pricing.Prices(ctx, ids(), a.currency)
				return
			}),
			aggregate.Optional(domain.ServiceInventory, func(ctx context.Context) (err error) {
				stock, err = a.stockOf(ctx, ids())
				return
			}),
		),
	)
	if err != nil {
		return err
	}
	l := newLookup(page.Items, prices, stock)
	v := Catalog{Items: make([]Card, 0, len(page.Items)), Page: page.Page, PageSize: page.PageSize, Total: page.Total, Degraded: degradedParts}
	for _, p := range page.Items {
		v.Items = append(v.Items, l.card(p.ID, true))
	}
	if v.Page == 0 {
		v.Page = q.page
	}
	if v.PageSize == 0 {
		v.PageSize = q.pageSize
	}
	return a.writePage(c, degradedParts, v)
}

// stockOf asks inventory for each product, a few at a time; any failure
// fails the whole source, so availability is all or nothing.
func (a *API) stockOf(ctx context.Context, ids []string) (map[string]domain.StockStatus, error) {
	out := make(map[string]domain.StockStatus, len(ids))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(stockParallelism)
	for _, id := range ids {
		g.Go(func() error {
			s, err := a.c.Inventory.Stock(ctx, id)
			if err != nil {
				return err
			}
			mu.Lock()
			out[id] = s.Status
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// productPage is GET /v1/pages/product/{id}: the product (critical), its
// price, availability, first reviews page and similar products in
// parallel, and as soon as the similar products are known, their names and
// prices.
func (a *API) productPage(c echo.Context) error {
	id, err := input.PathID(c, "id")
	if err != nil {
		return err
	}
	var (
		product  domain.Product
		price    domain.Price
		stock    domain.Stock
		reviews  domain.ReviewPage
		similar  []domain.Recommendation
		products []domain.Product
		prices   []domain.Price

		gotPrice, gotStock, gotReviews bool
	)
	similarIDs := func() []string {
		out := make([]string, 0, len(similar))
		for _, r := range similar {
			if len(out) == productSimilar {
				break
			}
			out = append(out, r.ProductID)
		}
		return out
	}
	degradedParts, err := aggregate.Run(c.Request().Context(), a.budgets.Product, degraded.Log(a.log, c),
		aggregate.Critical(domain.ServiceCatalog, func(ctx context.Context) (err error) {
			product, err = a.c.Catalog.Product(ctx, id)
			return
		}),
		aggregate.Optional(domain.ServicePricing, func(ctx context.Context) (err error) {
			price, err = a.c.Pricing.Price(ctx, id, a.currency)
			gotPrice = err == nil
			return
		}),
		aggregate.Optional(domain.ServiceInventory, func(ctx context.Context) (err error) {
			stock, err = a.c.Inventory.Stock(ctx, id)
			gotStock = err == nil
			return
		}),
		aggregate.Optional(domain.ServiceReviews, func(ctx context.Context) (err error) {
			reviews, err = a.c.Reviews.ForProduct(ctx, id, 1, productReviews)
			gotReviews = err == nil
			return
		}),
		// The similar products are looked up as soon as recommendations
		// answers: slow reviews or inventory must not eat their budget.
		aggregate.Chain(
			aggregate.Optional(domain.ServiceRecommendations, func(ctx context.Context) (err error) {
				similar, err = a.c.Recommendations.Similar(ctx, id, productSimilar)
				return
			}),
			aggregate.Then(
				aggregate.Optional(domain.ServiceCatalog, func(ctx context.Context) (err error) {
					if len(similar) == 0 {
						return nil
					}
					products, err = a.c.Catalog.Products(ctx, similarIDs())
					return
				}),
				aggregate.Optional(domain.ServicePricing, func(ctx context.Context) (err error) {
					if len(similar) == 0 {
						return nil
					}
					prices, err = a.c.Pricing.Prices(ctx, similarIDs(), a.currency)
					return
				}),
			),
		),
	)
	if err != nil {
		return err
	}
	v := ProductPage{Product: productOf(product), Similar: []Card{}, Degraded: degradedParts}
	if gotPrice {
		v.Price, v.ListPrice = pricesOf(price)
	}
	if gotStock {
		v.Availability = &Availability{Status: stock.Status, Available: stock.Available}
	}
	if gotReviews {
		items := reviews.Items
		if items == nil {
			items = []domain.Review{}
		}
		if len(items) > productReviews {
			items = items[:productReviews]
		}
		v.Reviews = &Reviews{Rating: Rating{Average: reviews.AverageRating, Count: reviews.Count}, Page: 1, Items: items}
	}
	l := newLookup(products, prices, nil)
	for _, sid := range similarIDs() {
		v.Similar = append(v.Similar, l.card(sid, false))
	}
	return a.writePage(c, degradedParts, v)
}

// accountPage is GET /v1/pages/account: the user (critical), their last
// orders, balance and unread notifications in parallel.
func (a *API) accountPage(c echo.Context) error {
	id, err := input.UserID(c)
	if err != nil {
		return err
	}
	var (
		user    domain.User
		orders  []domain.Order
		balance domain.Balance
		unread  int

		gotBalance, gotUnread bool
	)
	degradedParts, err := aggregate.Run(c.Request().Context(), a.budgets.Account, degraded.Log(a.log, c),
		aggregate.Critical(domain.ServiceUsers, func(ctx context.Context) (err error) {
			user, err = a.c.Users.Get(ctx, id)
			return
		}),
		aggregate.Optional(domain.ServiceOrders, func(ctx context.Context) (err error) {
			orders, err = a.c.Orders.ForUser(ctx, id, accountOrders)
			return
		}),
		aggregate.Optional(domain.ServicePayments, func(ctx context.Context) (err error) {
			balance, err = a.c.Payments.Balance(ctx, id)
			gotBalance = err == nil
			return
		}),
		aggregate.Optional(domain.ServiceNotifications, func(ctx context.Context) (err error) {
			unread, err = a.c.Notifications.UnreadCount(ctx, id)
			gotUnread = err == nil
			return
		}),
	)
	if err != nil {
		return err
	}
	v := AccountPage{User: userOf(user), Orders: make([]view.Order, 0, len(orders)), Degraded: degradedParts}
	for i, o := range orders {
		if i == accountOrders {
			break
		}
		v.Orders = append(v.Orders, view.OrderOf(o))
	}
	if gotBalance {
		v.Balance = &view.Money{Amount: balance.Amount, Currency: balance.Currency}
	}
	if gotUnread {
		v.UnreadNotifications = &unread
	}
	degraded.Count(a.degraded, c, degradedParts)
	return writePersonal(c, http.StatusOK, v)
}

// me is GET /v1/me.
func (a *API) me(c echo.Context) error {
	id, err := input.UserID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if a.budgets.Single > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.budgets.Single)
		defer cancel()
	}
	u, err := a.c.Users.Get(ctx, id)
	if err != nil {
		return err
	}
	return writePersonal(c, http.StatusOK, userOf(u))
}
