package jsonx_test

import (
	stdjson "encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/jsonx"
)

// productList is a batch answer of the size a home screen reads: 24
// products with a paragraph of description each, about 20 KB.
func productList(b *testing.B) []byte {
	var l domain.ProductList
	for range 24 {
		l.Items = append(l.Items, domain.Product{ID: "p-0001", SKU: "SF-KIT-10000", Name: "Classic Kettle",
			Description: strings.Repeat("Designed for daily use, it balances durability with a clean look. ", 10),
			Brand:       "Acorn", Category: "kitchen",
			Images: []domain.Image{{URL: "https://img.shopfront.example/p-0001/1.jpg", Width: 1200, Height: 900}}})
	}
	data, err := stdjson.Marshal(l)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkUnmarshal compares encoding/json and jsonx on a batch answer.
func BenchmarkUnmarshal(b *testing.B) {
	data := productList(b)
	for _, c := range []struct {
		name string
		fn   func([]byte, any) error
	}{{"encoding-json", stdjson.Unmarshal}, {"jsonx", jsonx.Unmarshal}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var l domain.ProductList
				if err := c.fn(data, &l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSerialize compares echo's default serializer and jsonx's on a
// page of that size.
func BenchmarkSerialize(b *testing.B) {
	var l domain.ProductList
	if err := stdjson.Unmarshal(productList(b), &l); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		s    echo.JSONSerializer
	}{{"echo-default", echo.DefaultJSONSerializer{}}, {"jsonx", jsonx.Serializer{}}} {
		b.Run(c.name, func(b *testing.B) {
			e := echo.New()
			rec := httptest.NewRecorder()
			ctx := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
			b.ReportAllocs()
			for b.Loop() {
				rec.Body.Reset()
				if err := c.s.Serialize(ctx, l, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
