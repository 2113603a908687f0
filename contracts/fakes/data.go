package fakes

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/shopfront/contracts/domain"
)

// epoch anchors every generated timestamp so that the data set is the same
// on every run; only tokens, new orders and cart edits use the clock.
var epoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// Sizes of the generated data set.
const (
	productCount = 240
	userCount    = 20
)

// DemoPassword is the password of every demo user.
const DemoPassword = "shopfront"

// Demo partner OAuth client of the identity fake.
const (
	DemoClientID     = "acme-client"
	DemoClientSecret = "acme-secret"
	DemoPartnerID    = "acme"
)

// demoClientScopes are the scopes the demo partner client may request.
var demoClientScopes = []string{"catalog:read", "inventory:read", "orders:read", "orders:write"}

// usernames are the logins of the demo users u-001..u-020, alice and bob first.
var usernames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
	"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "uma", "victor", "walter"}

var surnames = []string{"Anderson", "Baker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen"}

var tiers = []string{"bronze", "silver", "gold", "platinum"}

var tenants = []string{"tenant-north", "tenant-south", "tenant-west"}

var categories = []struct {
	name  string
	nouns []string
}{
	{"electronics", []string{"Headphones", "Speaker", "Charger", "Keyboard", "Monitor", "Webcam"}},
	{"home", []string{"Lamp", "Blanket", "Vase", "Clock", "Rug", "Cushion"}},
	{"kitchen", []string{"Kettle", "Skillet", "Knife Set", "Blender", "Mug", "Cutting Board"}},
	{"outdoors", []string{"Tent", "Backpack", "Lantern", "Hammock", "Cooler", "Sleeping Bag"}},
	{"sports", []string{"Yoga Mat", "Dumbbell", "Jump Rope", "Water Bottle", "Running Shoes", "Tennis Racket"}},
	{"toys", []string{"Puzzle", "Building Blocks", "Kite", "Robot", "Board Game", "Plush Bear"}},
	{"books", []string{"Cookbook", "Novel", "Atlas", "Field Guide", "Sketchbook", "Journal"}},
	{"beauty", []string{"Face Cream", "Shampoo", "Perfume", "Lip Balm", "Hair Dryer", "Soap Bar"}},
}

var adjectives = []string{"Classic", "Compact", "Deluxe", "Eco", "Everyday", "Nordic", "Pro", "Smart", "Urban", "Vintage"}

var brands = []string{"Acorn", "Bluebird", "Cobalt", "Driftwood", "Ember", "Fjord", "Granite", "Harbor"}

var sentences = []string{
	"Designed for daily use, it balances durability with a clean, understated look.",
	"Every unit is inspected by hand before it leaves our partner workshop.",
	"The materials are sourced from suppliers that publish their environmental reports.",
	"It ships in recyclable packaging without single-use plastic.",
	"Customers praise how quickly it becomes part of their routine.",
	"A two-year warranty covers manufacturing defects at no extra cost.",
	"The finish resists scratches, stains and fading under direct sunlight.",
	"Its compact footprint makes it easy to store when it is not in use.",
	"Care is simple: wipe it with a damp cloth and let it air dry.",
	"Spare parts remain available for at least five years after purchase.",
}

var reviewTitles = []string{"Great value", "Does the job", "Not what I expected", "Love it", "Solid build", "Would buy again", "Too small", "Perfect gift"}

var reviewBodies = []string{
	"Arrived quickly and works exactly as described.",
	"Quality is fine for the price, though the finish could be better.",
	"I use it every day and it still looks new after months.",
	"The size surprised me; check the dimensions before ordering.",
	"Exceeded my expectations, the whole family enjoys it.",
}

var orderStatuses = []string{"delivered", "shipped", "processing", "cancelled"}

// store is a physical shop holding stock.
type store struct {
	id, name string
	lat, lon float64
}

// stores are spread over three metropolitan areas so that radius queries
// return some, many or none of them.
var stores = []store{
	{"s-01", "Shopfront Market Street", 37.7890, -122.4010},
	{"s-02", "Shopfront Mission", 37.7599, -122.4148},
	{"s-03", "Shopfront Oakland", 37.8044, -122.2712},
	{"s-04", "Shopfront Berkeley", 37.8716, -122.2727},
	{"s-05", "Shopfront San Jose", 37.3382, -121.8863},
	{"s-06", "Shopfront Palo Alto", 37.4419, -122.1430},
	{"s-07", "Shopfront Manhattan", 40.7580, -73.9855},
	{"s-08", "Shopfront Brooklyn", 40.6782, -73.9442},
	{"s-09", "Shopfront Jersey City", 40.7178, -74.0431},
	{"s-10", "Shopfront Loop", 41.8837, -87.6289},
	{"s-11", "Shopfront Evanston", 42.0451, -87.6877},
	{"s-12", "Shopfront Oak Park", 41.8850, -87.7845},
}

// currencies are the ones pricing answers in, with the rate applied to USD.
var currencies = map[string]float64{"USD": 1, "EUR": 0.92, "GBP": 0.79}

// dataset is everything the fakes serve. Fields marked mutable are guarded
// by Fakes.mu; the rest never change after generation.
type dataset struct {
	products   []domain.Product
	productIdx map[string]int
	prices     map[string]domain.Price // USD
	stock      map[string]domain.Stock
	storeStock map[string][]int // product id -> available per store
	reviews    map[string][]domain.Review
	similar    map[string][]domain.Recommendation
	users      []domain.User
	userIdx    map[string]int
	byName     map[string]string // username -> user id
	recs       map[string][]domain.Recommendation
	balances   map[string]domain.Balance
	unread     map[string]int

	// Mutable.
	orders     map[string]domain.Order
	userOrders map[string][]string // user id -> order ids, oldest first
	carts      map[string]domain.Cart
	nextOrder  int
}

func generate(seed uint64) *dataset {
	r := rand.New(rand.NewPCG(seed, seed^0x5eedf00d))
	d := &dataset{
		productIdx: map[string]int{}, prices: map[string]domain.Price{}, stock: map[string]domain.Stock{},
		storeStock: map[string][]int{}, reviews: map[string][]domain.Review{}, similar: map[string][]domain.Recommendation{},
		userIdx: map[string]int{}, byName: map[string]string{}, recs: map[string][]domain.Recommendation{},
		balances: map[string]domain.Balance{}, unread: map[string]int{},
		orders: map[string]domain.Order{}, userOrders: map[string][]string{}, carts: map[string]domain.Cart{},
	}
	for i := range productCount {
		d.addProduct(r, i)
	}
	for i, p := range d.products {
		d.similar[p.ID] = d.pickSimilar(r, i)
	}
	for i := range userCount {
		d.addUser(r, i)
	}
	return d
}

func (d *dataset) addProduct(r *rand.Rand, i int) {
	id := fmt.Sprintf("p-%04d", i+1)
	cat := categories[i%len(categories)]
	name := adjectives[r.IntN(len(adjectives))] + " " + cat.nouns[r.IntN(len(cat.nouns))]
	// Two products in three get a description longer than the 280 characters
	// bff-mobile cuts to; the rest are short.
	n := 1 + r.IntN(2)
	if i%3 != 2 {
		n = 5 + r.IntN(3)
	}
	desc := make([]string, 0, n)
	for j := range n {
		desc = append(desc, sentences[(i+j*3)%len(sentences)])
	}
	images := make([]domain.Image, 1+r.IntN(4))
	for j := range images {
		images[j] = domain.Image{URL: fmt.Sprintf("https://img.shopfront.example/%s/%d.jpg", id, j+1), Width: 1200, Height: 900}
	}
	d.productIdx[id] = len(d.products)
	d.products = append(d.products, domain.Product{
		ID: id, SKU: fmt.Sprintf("SF-%s-%05d", strings.ToUpper(cat.name[:3]), 10000+i*37), Name: name,
		Description: name + ". " + strings.Join(desc, " "), Brand: brands[r.IntN(len(brands))], Category: cat.name,
		Images: images, UpdatedAt: epoch.Add(-time.Duration(r.IntN(365*24)) * time.Hour),
	})

	amount := int64(499 + r.IntN(400)*100)
	list := amount
	if r.IntN(3) == 0 {
		list = amount + amount*int64(10+r.IntN(30))/100
	}
	d.prices[id] = domain.Price{ProductID: id, Currency: "USD", Amount: amount, ListAmount: list}

	// Every tenth product is sold out and every fifth of the rest runs low,
	// so all three statuses occur (p-0010 out, p-0005 low, p-0001 in stock).
	avail := 10 + r.IntN(200)
	switch {
	case (i+1)%10 == 0:
		avail = 0
	case (i+1)%5 == 0:
		avail = 1 + r.IntN(9)
	}
	d.stock[id] = domain.Stock{ProductID: id, Available: avail, Status: stockStatus(avail)}
	per := make([]int, len(stores))
	for s := range per {
		if avail > 0 {
			per[s] = r.IntN(15)
		}
	}
	d.storeStock[id] = per

	// Every seventh product has no reviews yet.
	if (i+1)%7 == 0 {
		return
	}
	revs := make([]domain.Review, 2+r.IntN(24))
	for j := range revs {
		revs[j] = domain.Review{
			ID: fmt.Sprintf("r-%04d-%02d", i+1, j+1), Author: usernames[r.IntN(len(usernames))],
			Rating: 1 + r.IntN(5), Title: reviewTitles[r.IntN(len(reviewTitles))], Body: reviewBodies[r.IntN(len(reviewBodies))],
			CreatedAt: epoch.Add(-time.Duration(j*40+r.IntN(40)) * time.Hour),
		}
	}
	d.reviews[id] = revs
}

func stockStatus(avail int) domain.StockStatus {
	switch {
	case avail == 0:
		return domain.OutOfStock
	case avail < 10:
		return domain.LowStock
	default:
		return domain.InStock
	}
}

// pickSimilar returns 12 other products of the same category, best first.
func (d *dataset) pickSimilar(r *rand.Rand, i int) []domain.Recommendation {
	var out []domain.Recommendation
	step := len(categories)
	for k := 1; len(out) < 12; k++ {
		j := (i + k*step) % len(d.products)
		out = append(out, domain.Recommendation{ProductID: d.products[j].ID, Score: score(r)})
	}
	sortByScore(out)
	return out
}

func score(r *rand.Rand) float64 { return math.Round(r.Float64()*1000) / 1000 }

func sortByScore(items []domain.Recommendation) {
	slices.SortStableFunc(items, func(a, b domain.Recommendation) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		default:
			return 0
		}
	})
}

func (d *dataset) addUser(r *rand.Rand, i int) {
	id := fmt.Sprintf("u-%03d", i+1)
	name := usernames[i]
	d.userIdx[id] = len(d.users)
	d.byName[name] = id
	d.users = append(d.users, domain.User{
		ID: id, Name: strings.ToUpper(name[:1]) + name[1:] + " " + surnames[i%len(surnames)],
		Email: name + "@shopfront.example", Tier: tiers[r.IntN(len(tiers))], TenantID: tenants[i%len(tenants)],
		CreatedAt: epoch.Add(-time.Duration(400+r.IntN(1000)) * 24 * time.Hour),
	})

	recs := make([]domain.Recommendation, 20)
	for j := range recs {
		recs[j] = domain.Recommendation{ProductID: d.products[r.IntN(len(d.products))].ID, Score: score(r)}
	}
	sortByScore(recs)
	d.recs[id] = recs

	// Orders, oldest first, one to three weeks apart.
	at := epoch.Add(-time.Duration(200+r.IntN(100)) * 24 * time.Hour)
	for range 3 + r.IntN(6) {
		at = at.Add(time.Duration(7+r.IntN(14)) * 24 * time.Hour)
		lines := make([]domain.LineItem, 1+r.IntN(4))
		for j := range lines {
			lines[j] = domain.LineItem{ProductID: d.products[r.IntN(len(d.products))].ID, Quantity: 1 + r.IntN(3)}
		}
		o := d.newOrder(id, "", lines, "USD", at)
		o.Status = orderStatuses[r.IntN(len(orderStatuses))]
		d.orders[o.ID] = o
	}

	items := make([]domain.CartItem, 0, 4)
	for range r.IntN(5) {
		pid := d.products[r.IntN(len(d.products))].ID
		if !slices.ContainsFunc(items, func(it domain.CartItem) bool { return it.ProductID == pid }) {
			items = append(items, domain.CartItem{ProductID: pid, Quantity: 1 + r.IntN(3)})
		}
	}
	d.carts[id] = domain.Cart{UserID: id, Items: items, UpdatedAt: epoch.Add(-time.Duration(r.IntN(72)) * time.Hour)}
	d.balances[id] = domain.Balance{UserID: id, Currency: "USD", Amount: int64(r.IntN(50000))}
	d.unread[id] = r.IntN(16)
}

// newOrder records an order priced from the price list and returns it.
// Callers hold Fakes.mu once the data set is shared.
func (d *dataset) newOrder(userID, partnerID string, lines []domain.LineItem, currency string, at time.Time) domain.Order {
	d.nextOrder++
	o := domain.Order{
		ID: fmt.Sprintf("o-%05d", d.nextOrder), UserID: userID, PartnerID: partnerID, Status: "pending",
		Items: make([]domain.OrderItem, len(lines)), Currency: currency, CreatedAt: at,
	}
	for i, l := range lines {
		unit := d.price(l.ProductID, currency).Amount
		o.Items[i] = domain.OrderItem{ProductID: l.ProductID, Quantity: l.Quantity, UnitAmount: unit}
		o.TotalAmount += unit * int64(l.Quantity)
	}
	d.orders[o.ID] = o
	if userID != "" {
		d.userOrders[userID] = append(d.userOrders[userID], o.ID)
	}
	return o
}

// price converts the USD price of a known product into currency.
func (d *dataset) price(id, currency string) domain.Price {
	p := d.prices[id]
	rate := currencies[currency]
	p.Currency = currency
	p.Amount = int64(math.Round(float64(p.Amount) * rate))
	p.ListAmount = int64(math.Round(float64(p.ListAmount) * rate))
	return p
}

// distanceKm is the haversine distance between two points.
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const earthRadiusKm = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return earthRadiusKm * 2 * math.Atan2(math.Sqrt(a), math.Sqrt(1-a))
}
