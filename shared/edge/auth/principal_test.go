package auth_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/scope"
)

func TestRequestWithPrincipal(t *testing.T) {
	t.Parallel()
	alice := &auth.Principal{Subject: "alice"}
	tests := []struct {
		name string
		// given the context of the request
		given func() context.Context
		// expectSame: the request itself is returned, filled in place
		expectSame bool
	}{
		{name: "ok, in the edge chain: no copy", given: func() context.Context {
			ctx, _ := scope.New(context.Background())
			return ctx
		}, expectSame: true},
		{name: "ok, outside it: a copy", given: context.Background},
		{name: "ok, under a derived scope: a copy", given: func() context.Context {
			ctx, _ := scope.New(context.Background())
			return auth.WithPrincipal(ctx, &auth.Principal{Subject: "bob"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := tt.given()
			before, hadBefore := auth.FromContext(parent)
			r := httptest.NewRequest("GET", "/", nil).WithContext(parent)
			got := auth.RequestWithPrincipal(r, alice)
			p, ok := auth.FromContext(got.Context())
			require.True(t, ok)
			assert.Equal(t, "alice", p.Subject)
			if tt.expectSame {
				assert.Same(t, r, got)
				return
			}
			assert.NotSame(t, r, got)
			after, hasAfter := auth.FromContext(parent)
			assert.Equal(t, hadBefore, hasAfter, "the parent context is left as it was")
			assert.Same(t, before, after)
		})
	}
}

func TestFromContextWithoutPrincipal(t *testing.T) {
	t.Parallel()
	_, ok := auth.FromContext(context.Background())
	assert.False(t, ok)
	ctx, _ := scope.New(context.Background())
	_, ok = auth.FromContext(ctx)
	assert.False(t, ok)
	_, ok = auth.FromContext(auth.WithPrincipal(ctx, nil))
	assert.False(t, ok, "a nil principal is none")
}
