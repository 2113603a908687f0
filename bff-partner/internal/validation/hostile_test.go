package validation_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileBodies: what no partner body may hold is refused by the cheap
// scan before either schema library reads it, with at most 20 problems
// listed and the handler never reached.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	srv := newServer(t, 0)
	line := func(q string) string { return `{"productId":"p-1","quantity":` + q + `}` }
	lines := func(n int, q string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = line(q)
		}
		return `{"items":[` + strings.Join(items, ",") + `],"currency":"USD"}`
	}
	tests := []struct {
		name  string
		body  string
		first fieldError
		count int
	}{
		{"huge exponent", `{"items":[` + line("1e999999") + `],"currency":"USD"}`, fieldError{"body", "/items/0/quantity", "must be an integer"}, 1},
		{"fraction", `{"items":[` + line("2.0") + `],"currency":"USD"}`, fieldError{"body", "/items/0/quantity", "must be an integer"}, 1},
		{"21 digits", `{"items":[` + line("123456789012345678901") + `],"currency":"USD"}`, fieldError{"body", "/items/0/quantity", "must have at most 20 digits"}, 1},
		{"duplicate member", `{"items":[` + line("1") + `],"currency":"USD","currency":"EUR"}`, fieldError{"body", "/currency", "is a duplicate member"}, 1},
		{"nesting deeper than 32", `{"items":` + strings.Repeat("[", 33) + strings.Repeat("]", 33) + `}`, fieldError{"body", "/items" + strings.Repeat("/0", 31), "nests deeper than 32 levels"}, 1},
		{"invalid UTF-8", "{\"items\":[" + line("1") + "],\"currency\":\"\xffSD\"}", fieldError{"body", "", "is not valid UTF-8"}, 1},
		{"more lines than maxItems", lines(101, "1"), fieldError{"body", "/items", "must have at most 100 items"}, 1},
		{"at most 20 problems", lines(100, "1e999999"), fieldError{"body", "/items/0/quantity", "must be an integer"}, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/v2/orders", strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "k-1")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var got answer
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, "validation_failed", got.Error)
			assert.False(t, got.Reached)
			require.Len(t, got.Errors, tc.count)
			assert.Equal(t, tc.first, got.Errors[0])
		})
	}
}

// TestTraversalPathParameters: a path parameter that is "." or "..", or
// holds a "/" or "\" once decoded, never reaches the handler.
func TestTraversalPathParameters(t *testing.T) {
	t.Parallel()
	srv := newServer(t, 0)
	for _, p := range []string{"/v2/products/.", "/v2/products/..", "/v2/products/%2e%2e", "/v2/products/%2E", "/v2/products/a%2Fb", "/v2/products/..%2F..%2Fadmin", "/v2/products/a%5Cb", "/v2/inventory/%2e%2e"} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			resp, err := http.Get(srv.URL + p)
			require.NoError(t, err)
			defer resp.Body.Close()
			var got answer
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
			assert.False(t, got.Reached)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, "validation_failed", got.Error)
			require.Len(t, got.Errors, 1)
			assert.Equal(t, "path", got.Errors[0].In)
		})
	}
}
