package input_test

import (
	"errors"
	"testing"

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
		desc   string
		given  string
		expect []input.FieldError
	}{
		{desc: "ok, valid body", given: `{"items":[{"productId":"p","quantity":1}],"labels":{"a":1},"gift":true}`},
		{desc: "ok, null members are left alone", given: `{"items":null,"gift":null}`},
		{desc: "nok, wrong type deep in an array", given: `{"items":[{"productId":"p","quantity":1},{"productId":"q","quantity":2.5}]}`,
			expect: []input.FieldError{{In: "body", Path: "/items/1/quantity", Message: "must be an integer"}}},
		{desc: "nok, every offending member is listed", given: `{"items":[{"productId":7,"quantity":"x"}],"gift":"yes"}`,
			expect: []input.FieldError{
				{In: "body", Path: "/gift", Message: "must be a boolean"},
				{In: "body", Path: "/items/0/productId", Message: "must be a string"},
				{In: "body", Path: "/items/0/quantity", Message: "must be an integer"},
			}},
		{desc: "nok, member names are escaped", given: `{"labels":{"a/b~c":"x"}}`,
			expect: []input.FieldError{{In: "body", Path: "/labels/a~1b~0c", Message: "must be an integer"}}},
		{desc: "nok, unknown nested member", given: `{"items":[{"productId":"p","qty":1}]}`,
			expect: []input.FieldError{{In: "body", Path: "/items/0/qty", Message: "is not a known member"}}},
		{desc: "nok, whole body of the wrong type", given: `"items"`,
			expect: []input.FieldError{{In: "body", Path: "", Message: "must be an object"}}},
		{desc: "nok, broken JSON", given: `{"items":[`,
			expect: []input.FieldError{{In: "body", Path: "", Message: "is not valid JSON"}}},
		{desc: "nok, two values", given: `{} {}`,
			expect: []input.FieldError{{In: "body", Path: "", Message: "must hold a single JSON value"}}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
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
