package input_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/edge/problem"
)

func TestUnmarshalPointers(t *testing.T) {
	t.Parallel()
	type line struct {
		ProductID string `json:"productId"`
		Quantity  *int   `json:"quantity"`
	}
	type body struct {
		Items  []line         `json:"items"`
		Labels map[string]int `json:"labels"`
		Gift   bool           `json:"gift"`
	}
	tests := []struct {
		name   string
		given  string
		expect []input.FieldError
	}{
		{name: "ok, valid body", given: `{"items":[{"productId":"p","quantity":1}],"labels":{"a":1},"gift":true}`},
		{name: "ok, null members are left alone", given: `{"items":null,"gift":null}`},
		{name: "nok, wrong type deep in an array", given: `{"items":[{"productId":"p","quantity":1},{"productId":"q","quantity":2.5}]}`,
			expect: []input.FieldError{{In: "body", Path: "/items/1/quantity", Message: "must be an integer"}}},
		{name: "nok, every offending member is listed", given: `{"items":[{"productId":7,"quantity":"x"}],"gift":"yes"}`,
			expect: []input.FieldError{
				{In: "body", Path: "/gift", Message: "must be a boolean"},
				{In: "body", Path: "/items/0/productId", Message: "must be a string"},
				{In: "body", Path: "/items/0/quantity", Message: "must be an integer"},
			}},
		{name: "nok, member names are escaped", given: `{"labels":{"a/b~c":"x"}}`,
			expect: []input.FieldError{{In: "body", Path: "/labels/a~1b~0c", Message: "must be an integer"}}},
		{name: "nok, unknown nested member", given: `{"items":[{"productId":"p","qty":1}]}`,
			expect: []input.FieldError{{In: "body", Path: "/items/0/qty", Message: "is not a known member"}}},
		{name: "nok, whole body of the wrong type", given: `"items"`,
			expect: []input.FieldError{{In: "body", Path: "", Message: "must be an object"}}},
		{name: "nok, broken JSON", given: `{"items":[`,
			expect: []input.FieldError{{In: "body", Path: "", Message: "is not valid JSON"}}},
		{name: "nok, two values", given: `{} {}`,
			expect: []input.FieldError{{In: "body", Path: "", Message: "must hold a single JSON value"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b body
			err := input.Unmarshal([]byte(tt.given), &b)
			if tt.expect == nil {
				assert.NoError(t, err)
				return
			}
			var p *problem.Problem
			require.True(t, errors.As(err, &p), "a problem: %v", err)
			assert.Equal(t, 400, p.Status)
			assert.Equal(t, tt.expect, p.Extensions["errors"])
		})
	}
}

// TestUnmarshalHostile: what no customer body may hold is refused by the
// cheap scan before decoding, listing at most 20 problems.
func TestUnmarshalHostile(t *testing.T) {
	t.Parallel()
	type line struct {
		ProductID *string `json:"productId"`
		Quantity  *int    `json:"quantity"`
	}
	type body struct {
		Items    []line  `json:"items"`
		Currency *string `json:"currency"`
	}
	lines := func(n int, q string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = `{"productId":"p","quantity":` + q + `}`
		}
		return `{"items":[` + strings.Join(items, ",") + `],"currency":"USD"}`
	}
	tests := []struct {
		name  string
		given string
		first input.FieldError
		count int
	}{
		{"huge exponent", `{"items":[{"productId":"p","quantity":1e999999}]}`, input.BodyError("/items/0/quantity", "must be an integer"), 1},
		{"21 digits", `{"items":[{"productId":"p","quantity":100000000000000000000}]}`, input.BodyError("/items/0/quantity", "must have at most 20 digits"), 1},
		{"duplicate member", `{"currency":"USD","currency":"EUR"}`, input.BodyError("/currency", "is a duplicate member"), 1},
		{"deep nesting", `{"items":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, input.BodyError("/items/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0", "nests deeper than 32 levels"), 1},
		{"invalid UTF-8", "{\"currency\":\"US\xffD\"}", input.BodyError("", "is not valid UTF-8"), 1},
		{"too many lines", lines(101, "1"), input.BodyError("/items", "must have at most 100 items"), 1},
		{"at most 20 problems", lines(100, "1e9"), input.BodyError("/items/0/quantity", "must be an integer"), 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var dst body
			err := input.Unmarshal([]byte(tc.given), &dst)
			var p *problem.Problem
			require.ErrorAs(t, err, &p)
			errs, _ := p.Extensions["errors"].([]input.FieldError)
			require.Len(t, errs, tc.count)
			assert.Equal(t, tc.first, errs[0])
			assert.Nil(t, dst.Items, "nothing decoded")
		})
	}
}

// TestPathIDTraversal: a path id that would walk an upstream's paths is
// 404, as no resource has it; other malformed ids stay 400.
func TestPathIDTraversal(t *testing.T) {
	t.Parallel()
	e := echo.New()
	for _, tc := range []struct {
		id     string
		status int
	}{
		{".", 404}, {"..", 404}, {"a/b", 404}, {`a\b`, 404}, {"../admin", 404}, {"%2e%2e", 404}, {"%2E", 404}, {"a%2Fb", 404}, {"a%5cb", 404},
		{"a b", 400}, {"", 400}, {"p-1", 0}, {"p.1", 0}, {"...", 0},
	} {
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
		c.SetParamNames("id")
		c.SetParamValues(tc.id)
		id, err := input.PathID(c, "id")
		if tc.status == 0 {
			assert.NoError(t, err, tc.id)
			assert.Equal(t, tc.id, id)
			continue
		}
		var p *problem.Problem
		require.ErrorAs(t, err, &p, tc.id)
		assert.Equal(t, tc.status, p.Status, tc.id)
		assert.False(t, input.ValidID(tc.id), tc.id)
	}
}
