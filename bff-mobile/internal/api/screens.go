package api

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/bff-mobile/internal/view"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/aggregate"
	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/edge/services"
	storeview "github.com/shopfront/shared/storefront/view"
)

// Sizes of the screens' lists.
const (
	homeOrders          = 5
	homeRecommendations = 10
	productReviews      = 3
	productSimilar      = 6
)

// home is GET /v1/home: the user (critical), their latest orders,
// recommendations, unread notifications and balance in parallel, then the
// names, thumbnails and prices of the products found, in one batch call
// per service.
func (a *API) home(c echo.Context) error {
	id, err := input.UserID(c)
	if err != nil {
		return err
	}
	var (
		user                  domain.User
		orders                []domain.Order
		recs                  []domain.Recommendation
		unread                int
		balance               domain.Balance
		products              []domain.Product
		prices                []domain.Price
		gotUnread, gotBalance bool
	)
	degraded, err := aggregate.Run(c.Request().Context(), a.budgets.Home, a.observe(c),
		aggregate.Critical(domain.ServiceUsers, func(ctx context.Context) (err error) {
			user, err = a.c.Users.Get(ctx, id)
			return
		}),
		aggregate.Optional(domain.ServiceNotifications, func(ctx context.Context) (err error) {
			unread, err = a.c.Notifications.UnreadCount(ctx, id)
			gotUnread = err == nil
			return
		}),
		aggregate.Optional(domain.ServicePayments, func(ctx context.Context) (err error) {
			balance, err = a.c.Payments.Balance(ctx, id)
			gotBalance = err == nil
			return
		}),
		// The product lookups need only orders and recommendations: a
		// slow balance must not starve them of their budget.
		aggregate.Chain(
			aggregate.Optional(domain.ServiceOrders, func(ctx context.Context) (err error) {
				orders, err = a.c.Orders.ForUser(ctx, id, homeOrders)
				return
			}),
			aggregate.Optional(domain.ServiceRecommendations, func(ctx context.Context) (err error) {
				recs, err = a.c.Recommendations.ForUser(ctx, id, homeRecommendations)
				return
			}),
			aggregate.Then(
				aggregate.Optional(domain.ServiceCatalog, func(ctx context.Context) (err error) {
					products, err = a.c.Catalog.Products(ctx, view.ProductIDs(firstOrders(orders), firstRecs(recs)))
					return
				}),
				aggregate.Optional(domain.ServicePricing, func(ctx context.Context) (err error) {
					prices, err = a.c.Pricing.Prices(ctx, view.RecommendedIDs(recs, homeRecommendations), a.currency)
					return
				}),
			),
		),
	)
	if err != nil {
		return err
	}
	l := view.NewLookup(products, prices)
	v := view.Home{
		User:            view.User{ID: user.ID, Name: user.Name, Tier: user.Tier},
		RecentOrders:    l.OrderSummaries(firstOrders(orders)),
		Recommendations: l.Cards(view.RecommendedIDs(recs, homeRecommendations)),
		Degraded:        degraded,
	}
	if gotUnread {
		v.UnreadNotifications = &unread
	}
	if gotBalance {
		v.Balance = &storeview.Money{Amount: balance.Amount, Currency: balance.Currency}
	}
	return a.writeView(c, degraded, v)
}

func firstOrders(o []domain.Order) []domain.Order { return o[:min(homeOrders, len(o))] }

func firstRecs(r []domain.Recommendation) []domain.Recommendation {
	return r[:min(homeRecommendations, len(r))]
}

// product is GET /v1/products/{id}?lat=&lon=: the product (critical), its
// price, stock, nearby stores (with lat and lon), reviews and similar
// products in parallel, then the names, thumbnails and prices of the
// similar products.
func (a *API) product(c echo.Context) error {
	if _, err := input.UserID(c); err != nil {
		return err
	}
	id, err := input.PathID(c, "id")
	if err != nil {
		return err
	}
	point, err := parsePoint(c)
	if err != nil {
		return err
	}
	var (
		product  domain.Product
		price    domain.Price
		stock    domain.Stock
		stores   []domain.StoreStock
		reviews  domain.ReviewPage
		similar  []domain.Recommendation
		products []domain.Product
		prices   []domain.Price

		gotPrice, gotStock, gotStores, gotReviews bool
	)
	parts := []aggregate.Part{
		a.observe(c),
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
		// answers, whatever reviews or inventory take.
		aggregate.Chain(
			aggregate.Optional(domain.ServiceRecommendations, func(ctx context.Context) (err error) {
				similar, err = a.c.Recommendations.Similar(ctx, id, productSimilar)
				return
			}),
			aggregate.Then(
				aggregate.Optional(domain.ServiceCatalog, func(ctx context.Context) (err error) {
					products, err = a.c.Catalog.Products(ctx, view.RecommendedIDs(similar, productSimilar))
					return
				}),
				aggregate.Optional(domain.ServicePricing, func(ctx context.Context) (err error) {
					prices, err = a.c.Pricing.Prices(ctx, view.RecommendedIDs(similar, productSimilar), a.currency)
					return
				}),
			),
		),
	}
	if point != nil {
		parts = append(parts, aggregate.Optional(domain.ServiceInventory, func(ctx context.Context) (err error) {
			stores, err = a.c.Inventory.Stores(ctx, id, point.lat, point.lon, a.radiusKm)
			gotStores = err == nil
			return
		}))
	}
	degraded, err := aggregate.Run(c.Request().Context(), a.budgets.Product, parts...)
	if err != nil {
		return err
	}
	l := view.NewLookup(products, prices)
	v := view.ProductScreen{
		Product:    view.Compact(product),
		TopReviews: []view.Review{},
		Similar:    l.Cards(view.RecommendedIDs(similar, productSimilar)),
		Degraded:   degraded,
	}
	if gotPrice {
		m := storeview.MoneyOf(price)
		v.Price = &m
	}
	if gotStock {
		v.Availability = &view.Availability{Status: stock.Status, Available: stock.Available}
	}
	if gotReviews {
		v.Rating = &view.Rating{Average: reviews.AverageRating, Count: reviews.Count}
		v.TopReviews = view.Reviews(reviews.Items, productReviews)
	}
	if point != nil {
		s := []view.Store{}
		if gotStores {
			s = view.Stores(stores)
		}
		v.NearbyStores = &s
	}
	return a.writeView(c, degraded, v)
}

// search is GET /v1/search?q=&page=: one page of the catalog's matches
// (critical), then their prices. Pricing is optional: a list of products
// without prices is still useful to browse, and the client learns from
// degraded that prices are missing.
func (a *API) search(c echo.Context) error {
	if _, err := input.UserID(c); err != nil {
		return err
	}
	q, page, err := parseSearch(c)
	if err != nil {
		return err
	}
	var (
		found  domain.ProductPage
		prices []domain.Price
	)
	ids := func() []string {
		out := make([]string, 0, len(found.Items))
		for _, p := range found.Items {
			out = append(out, p.ID)
		}
		return out
	}
	degraded, err := aggregate.Run(c.Request().Context(), a.budgets.Search, a.observe(c),
		aggregate.Critical(domain.ServiceCatalog, func(ctx context.Context) (err error) {
			found, err = a.c.Catalog.Search(ctx, services.Search{Q: q, Page: page, PageSize: a.pageSize})
			return
		}),
		aggregate.Then(aggregate.Optional(domain.ServicePricing, func(ctx context.Context) (err error) {
			prices, err = a.c.Pricing.Prices(ctx, ids(), a.currency)
			return
		})),
	)
	if err != nil {
		return err
	}
	l := view.NewLookup(found.Items, prices)
	return a.writeView(c, degraded, view.SearchPage{Items: l.Cards(ids()), Page: page, Total: found.Total, Degraded: degraded})
}
