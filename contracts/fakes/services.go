package fakes

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/shopfront/contracts/domain"
)

// Paging limits shared by the list endpoints.
const (
	defaultPageSize = 20
	maxPageSize     = 100
	defaultRadiusKm = 25.0
)

func (f *Fakes) catalogRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := f.product(r.PathValue("id"))
		if !ok {
			notFound(w, "product", r.PathValue("id"))
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET /products", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("ids") {
			items := []domain.Product{}
			for _, id := range splitIDs(q.Get("ids")) {
				if p, ok := f.product(id); ok {
					items = append(items, p)
				}
			}
			writeJSON(w, http.StatusOK, domain.ProductList{Items: items})
			return
		}
		page, size, err := paging(q, "pageSize", defaultPageSize)
		if err != nil {
			badRequest(w, err)
			return
		}
		text, category := strings.ToLower(strings.TrimSpace(q.Get("q"))), q.Get("category")
		var hits []domain.Product
		for _, p := range f.data.products {
			if category != "" && p.Category != category {
				continue
			}
			if text != "" && !strings.Contains(strings.ToLower(p.Name+" "+p.Brand+" "+p.Category), text) {
				continue
			}
			hits = append(hits, p)
		}
		writeJSON(w, http.StatusOK, domain.ProductPage{Items: window(hits, page, size), Page: page, PageSize: size, Total: len(hits)})
	})
}

func (f *Fakes) inventoryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /stock/{productId}", func(w http.ResponseWriter, r *http.Request) {
		s, ok := f.data.stock[r.PathValue("productId")]
		if !ok {
			notFound(w, "product", r.PathValue("productId"))
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("GET /stock/{productId}/stores", func(w http.ResponseWriter, r *http.Request) {
		per, ok := f.data.storeStock[r.PathValue("productId")]
		if !ok {
			notFound(w, "product", r.PathValue("productId"))
			return
		}
		q := r.URL.Query()
		lat, errLat := floatParam(q.Get("lat"), -90, 90)
		lon, errLon := floatParam(q.Get("lon"), -180, 180)
		radius, errRadius := defaultRadiusKm, error(nil)
		if q.Has("radiusKm") {
			radius, errRadius = floatParam(q.Get("radiusKm"), 0.1, 500)
		}
		switch {
		case errLat != nil:
			badRequest(w, fmt.Errorf("lat: %w", errLat))
			return
		case errLon != nil:
			badRequest(w, fmt.Errorf("lon: %w", errLon))
			return
		case errRadius != nil:
			badRequest(w, fmt.Errorf("radiusKm: %w", errRadius))
			return
		}
		items := []domain.StoreStock{}
		for i, s := range stores {
			if d := distanceKm(lat, lon, s.lat, s.lon); d <= radius {
				items = append(items, domain.StoreStock{StoreID: s.id, Name: s.name, DistanceKm: float64(int(d*100)) / 100, Available: per[i]})
			}
		}
		slices.SortStableFunc(items, func(a, b domain.StoreStock) int {
			return cmp.Compare(a.DistanceKm, b.DistanceKm)
		})
		writeJSON(w, http.StatusOK, domain.StoreStockList{Items: items})
	})
}

func (f *Fakes) pricingRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /prices/{productId}", func(w http.ResponseWriter, r *http.Request) {
		cur, err := currency(r.URL.Query())
		if err != nil {
			badRequest(w, err)
			return
		}
		id := r.PathValue("productId")
		if _, ok := f.data.prices[id]; !ok {
			notFound(w, "price of product", id)
			return
		}
		writeJSON(w, http.StatusOK, f.data.price(id, cur))
	})
	mux.HandleFunc("GET /prices", func(w http.ResponseWriter, r *http.Request) {
		cur, err := currency(r.URL.Query())
		if err != nil {
			badRequest(w, err)
			return
		}
		items := []domain.Price{}
		for _, id := range splitIDs(r.URL.Query().Get("ids")) {
			if _, ok := f.data.prices[id]; ok {
				items = append(items, f.data.price(id, cur))
			}
		}
		writeJSON(w, http.StatusOK, domain.PriceList{Items: items})
	})
}

func (f *Fakes) reviewsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /products/{productId}/reviews", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("productId")
		if _, ok := f.data.productIdx[id]; !ok {
			notFound(w, "product", id)
			return
		}
		page, limit, err := paging(r.URL.Query(), "limit", 10)
		if err != nil {
			badRequest(w, err)
			return
		}
		all := f.data.reviews[id]
		sum := 0
		for _, rv := range all {
			sum += rv.Rating
		}
		avg := 0.0
		if len(all) > 0 {
			avg = float64(sum*100/len(all)) / 100
		}
		writeJSON(w, http.StatusOK, domain.ReviewPage{ProductID: id, AverageRating: avg, Count: len(all), Items: window(all, page, limit)})
	})
}

func (f *Fakes) recommendationsRoutes(mux *http.ServeMux) {
	serve := func(w http.ResponseWriter, r *http.Request, all []domain.Recommendation) {
		limit, err := intParam(r.URL.Query(), "limit", 10, 1, maxPageSize)
		if err != nil {
			badRequest(w, err)
			return
		}
		writeJSON(w, http.StatusOK, domain.RecommendationList{Items: all[:min(limit, len(all))]})
	}
	mux.HandleFunc("GET /users/{userId}/recommendations", func(w http.ResponseWriter, r *http.Request) {
		recs, ok := f.data.recs[r.PathValue("userId")]
		if !ok {
			notFound(w, "user", r.PathValue("userId"))
			return
		}
		serve(w, r, recs)
	})
	mux.HandleFunc("GET /products/{productId}/similar", func(w http.ResponseWriter, r *http.Request) {
		sim, ok := f.data.similar[r.PathValue("productId")]
		if !ok {
			notFound(w, "product", r.PathValue("productId"))
			return
		}
		serve(w, r, sim)
	})
}

func (f *Fakes) usersRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /users/{userId}", func(w http.ResponseWriter, r *http.Request) {
		i, ok := f.data.userIdx[r.PathValue("userId")]
		if !ok {
			notFound(w, "user", r.PathValue("userId"))
			return
		}
		writeJSON(w, http.StatusOK, f.data.users[i])
	})
}

func (f *Fakes) ordersRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /users/{userId}/orders", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("userId")
		if _, ok := f.data.userIdx[id]; !ok {
			notFound(w, "user", id)
			return
		}
		limit, err := intParam(r.URL.Query(), "limit", defaultPageSize, 1, maxPageSize)
		if err != nil {
			badRequest(w, err)
			return
		}
		f.mu.Lock()
		ids := f.data.userOrders[id]
		items := make([]domain.Order, 0, min(limit, len(ids)))
		for i := len(ids) - 1; i >= 0 && len(items) < limit; i-- {
			items = append(items, f.data.orders[ids[i]])
		}
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, domain.OrderList{Items: items})
	})
	mux.HandleFunc("GET /orders/{orderId}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		o, ok := f.data.orders[r.PathValue("orderId")]
		f.mu.Unlock()
		if !ok {
			notFound(w, "order", r.PathValue("orderId"))
			return
		}
		writeJSON(w, http.StatusOK, o)
	})
	mux.HandleFunc("POST /orders", f.createOrder)
}

// createOrder places an order priced by the pricing data. A repeated
// Idempotency-Key of the same owner returns the first order (200 would hide
// the replay from naive clients, so it is 201 again, as the first answer);
// the same key with another body is 422.
func (f *Fakes) createOrder(w http.ResponseWriter, r *http.Request) {
	var req domain.CreateOrder
	if err := decodeStrict(r, &req); err != nil {
		badRequest(w, err)
		return
	}
	if err := f.validateOrder(req); err != nil {
		writeProblem(w, http.StatusBadRequest, "validation_failed", err.Error())
		return
	}
	canon, _ := json.Marshal(req)
	key := r.Header.Get("Idempotency-Key")
	scope := "user:" + req.UserID + "\x00partner:" + req.PartnerID + "\x00" + key

	f.mu.Lock()
	if rec, seen := f.idem[scope]; key != "" && seen {
		o := f.data.orders[rec.orderID]
		f.mu.Unlock()
		if rec.body != string(canon) {
			writeProblem(w, http.StatusUnprocessableEntity, "idempotency_key_reused", "the Idempotency-Key was used with another request body")
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusCreated, o)
		return
	}
	o := f.data.newOrder(req.UserID, req.PartnerID, req.Items, req.Currency, f.clock().UTC())
	if key != "" {
		f.idem[scope] = idemRecord{body: string(canon), orderID: o.ID}
	}
	f.mu.Unlock()
	if o.UserID != "" {
		// The new order's status reaches the user's open event streams.
		_, _ = f.Publish(o.UserID, domain.EventOrderStatus, domain.OrderStatusEvent{OrderID: o.ID, Status: o.Status})
	}
	w.Header().Set("Location", "/orders/"+o.ID)
	writeJSON(w, http.StatusCreated, o)
}

func (f *Fakes) validateOrder(req domain.CreateOrder) error {
	var problems []string
	switch {
	case req.UserID == "" && req.PartnerID == "":
		problems = append(problems, "one of userId or partnerId is required")
	case req.UserID != "" && req.PartnerID != "":
		problems = append(problems, "only one of userId or partnerId may be set")
	case req.UserID != "":
		if _, ok := f.data.userIdx[req.UserID]; !ok {
			problems = append(problems, fmt.Sprintf("userId: unknown user %q", req.UserID))
		}
	}
	if _, ok := currencies[req.Currency]; !ok {
		problems = append(problems, fmt.Sprintf("currency: %q is not one of USD, EUR, GBP", req.Currency))
	}
	if len(req.Items) == 0 || len(req.Items) > 100 {
		problems = append(problems, "items: between 1 and 100 lines are required")
	}
	for i, it := range req.Items {
		if _, ok := f.data.productIdx[it.ProductID]; !ok {
			problems = append(problems, fmt.Sprintf("items[%d].productId: unknown product %q", i, it.ProductID))
		}
		if it.Quantity < 1 || it.Quantity > 999 {
			problems = append(problems, fmt.Sprintf("items[%d].quantity: must be between 1 and 999", i))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func (f *Fakes) cartRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /carts/{userId}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		c, ok := f.data.carts[r.PathValue("userId")]
		f.mu.Unlock()
		if !ok {
			notFound(w, "cart of user", r.PathValue("userId"))
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
	mux.HandleFunc("PUT /carts/{userId}/items/{productId}", func(w http.ResponseWriter, r *http.Request) {
		var body domain.SetQuantity
		if err := decodeStrict(r, &body); err != nil {
			badRequest(w, err)
			return
		}
		if body.Quantity < 0 || body.Quantity > 999 {
			writeProblem(w, http.StatusBadRequest, "validation_failed", "quantity: must be between 0 and 999")
			return
		}
		f.editCart(w, r, body.Quantity)
	})
	mux.HandleFunc("DELETE /carts/{userId}/items/{productId}", func(w http.ResponseWriter, r *http.Request) {
		f.editCart(w, r, 0)
	})
}

// editCart sets the quantity of one product in a cart; 0 removes the line.
func (f *Fakes) editCart(w http.ResponseWriter, r *http.Request, qty int) {
	uid, pid := r.PathValue("userId"), r.PathValue("productId")
	if _, ok := f.data.productIdx[pid]; !ok {
		notFound(w, "product", pid)
		return
	}
	f.mu.Lock()
	c, ok := f.data.carts[uid]
	if !ok {
		f.mu.Unlock()
		notFound(w, "cart of user", uid)
		return
	}
	items := slices.DeleteFunc(slices.Clone(c.Items), func(it domain.CartItem) bool { return it.ProductID == pid && qty == 0 })
	if i := slices.IndexFunc(items, func(it domain.CartItem) bool { return it.ProductID == pid }); i >= 0 {
		items[i].Quantity = qty
	} else if qty > 0 {
		items = append(items, domain.CartItem{ProductID: pid, Quantity: qty})
	}
	c.Items, c.UpdatedAt = items, f.clock().UTC()
	f.data.carts[uid] = c
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, c)
}

func (f *Fakes) paymentsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /users/{userId}/balance", func(w http.ResponseWriter, r *http.Request) {
		b, ok := f.data.balances[r.PathValue("userId")]
		if !ok {
			notFound(w, "user", r.PathValue("userId"))
			return
		}
		writeJSON(w, http.StatusOK, b)
	})
}

func (f *Fakes) notificationsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /users/{userId}/unread-count", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("userId")
		n, ok := f.data.unread[id]
		if !ok {
			notFound(w, "user", id)
			return
		}
		writeJSON(w, http.StatusOK, domain.UnreadCount{UserID: id, Unread: n})
	})
	mux.HandleFunc("GET /users/{userId}/events", f.streamEvents)
}

func (f *Fakes) product(id string) (domain.Product, bool) {
	i, ok := f.data.productIdx[id]
	if !ok {
		return domain.Product{}, false
	}
	return f.data.products[i], true
}

func notFound(w http.ResponseWriter, what, id string) {
	writeProblem(w, http.StatusNotFound, "not_found", fmt.Sprintf("%s %q not found", what, id))
}

func badRequest(w http.ResponseWriter, err error) {
	writeProblem(w, http.StatusBadRequest, "validation_failed", err.Error())
}

func splitIDs(s string) []string {
	var out []string
	for id := range strings.SplitSeq(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// paging reads page (default 1) and a page size parameter.
func paging(q map[string][]string, sizeName string, def int) (page, size int, err error) {
	if page, err = intParam(q, "page", 1, 1, 100000); err != nil {
		return 0, 0, err
	}
	if size, err = intParam(q, sizeName, def, 1, maxPageSize); err != nil {
		return 0, 0, err
	}
	return page, size, nil
}

func intParam(q map[string][]string, name string, def, lo, hi int) (int, error) {
	vs := q[name]
	if len(vs) == 0 || vs[0] == "" {
		return def, nil
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: must be an integer between %d and %d", name, lo, hi)
	}
	return n, nil
}

func floatParam(s string, lo, hi float64) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("must be a number between %g and %g", lo, hi)
	}
	return v, nil
}

func currency(q map[string][]string) (string, error) {
	vs := q["currency"]
	if len(vs) == 0 || vs[0] == "" {
		return "USD", nil
	}
	if _, ok := currencies[vs[0]]; !ok {
		return "", fmt.Errorf("currency: %q is not one of USD, EUR, GBP", vs[0])
	}
	return vs[0], nil
}

// window returns page (1-based) of size items, never nil.
func window[T any](all []T, page, size int) []T {
	start := min((page-1)*size, len(all))
	return append(make([]T, 0, min(size, len(all)-start)), all[start:min(start+size, len(all))]...)
}
