package scope_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/scope"
)

func TestNewOwnDerive(t *testing.T) {
	t.Parallel()
	base := context.Background()
	assert.Nil(t, scope.FromContext(base))
	assert.Nil(t, scope.Own(base))

	ctx, v := scope.New(base)
	v.RequestID = "r1"
	require.Same(t, v, scope.Own(ctx), "the request's own values are filled in place")
	v.Principal = "p"
	assert.Equal(t, "p", scope.FromContext(ctx).Principal)

	derived, d := scope.Derive(ctx)
	d.Principal = "other"
	assert.Equal(t, "r1", scope.FromContext(derived).RequestID, "a derived context starts from its parent's values")
	assert.Equal(t, "other", scope.FromContext(derived).Principal, "the nearer value wins")
	assert.Equal(t, "p", scope.FromContext(ctx).Principal, "the parent's are untouched")
	assert.Nil(t, scope.Own(derived), "a derived context is not filled in place: it may be shared")

	inner, n := scope.New(derived)
	assert.Equal(t, "other", n.Principal, "a new request scope starts as a copy")
	assert.Same(t, n, scope.Own(inner))
	n.RequestID = "r2"
	assert.Equal(t, "r1", scope.FromContext(ctx).RequestID)
}
