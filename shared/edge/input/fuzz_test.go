package input_test

import (
	"errors"
	"testing"

	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/edge/problem"
)

// FuzzUnmarshal: any body is either decoded or refused with a 400
// validation_failed listing 1-20 problems, each in the body.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"productId":"p-0001","quantity":2}],"currency":"USD"}`,
		`{"items":[{"productId":"p","quantity":1e999999}]}`, `{"currency":"USD","currency":"EUR"}`,
		`{"items":[{"productId":7,"qty":"x"}],"gift":"yes"}`, "{\"currency\":\"\xff\"}", `[[[[[[[[`, `{} {}`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	type line struct {
		ProductID *string `json:"productId"`
		Quantity  *int    `json:"quantity"`
	}
	type body struct {
		Items    []line            `json:"items"`
		Currency *string           `json:"currency"`
		Labels   map[string]int    `json:"labels"`
		Meta     map[string]string `json:"meta"`
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var dst body
		err := input.Unmarshal(raw, &dst)
		if err == nil {
			return
		}
		var p *problem.Problem
		if !errors.As(err, &p) || p.Status != 400 || p.Code != problem.CodeValidationFailed {
			t.Fatalf("not a validation_failed problem: %v", err)
		}
		errs, _ := p.Extensions["errors"].([]input.FieldError)
		if len(errs) == 0 || len(errs) > input.MaxFieldErrors {
			t.Fatalf("%d problems listed", len(errs))
		}
		for _, e := range errs {
			if e.In != input.InBody {
				t.Fatalf("problem outside the body: %+v", e)
			}
		}
	})
}
