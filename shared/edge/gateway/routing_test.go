package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
	"github.com/shopfront/shared/edge/routing"
)

// TestRoutingOnTheAdminListener boots a gateway with a routing section in its
// BFF_CONFIG file, shows it on GET /routing, then reloads an edited file.
func TestRoutingOnTheAdminListener(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	path := filepath.Join(t.TempDir(), "bff.yaml")
	write := func(canary int) {
		data := []byte("routing:\n  catalog:\n    fallback: stable\n    variants:\n" +
			"      - {name: stable, weight: 90}\n      - {name: canary, weight: " + itoa(canary) + "}\n")
		require.NoError(t, os.WriteFile(path, data, 0o600))
	}
	write(10)
	c := common(t, base, map[string]string{config.FileVar: path})
	require.NoError(t, config.LoadYAML(config.MapLookup(map[string]string{config.FileVar: path}), &c))
	g := serve(t, c)
	gatewaytest.WaitReady(t, g.AdminAddr())

	view := func() routing.ServiceView {
		res, err := http.Get("http://" + g.AdminAddr() + "/routing")
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var v routing.View
		require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
		return v.Services[domain.ServiceCatalog]
	}
	v := view()
	require.Len(t, v.Variants, 2)
	assert.Equal(t, "stable", v.Fallback)
	assert.Equal(t, 10, v.Variants[1].Weight)
	assert.Equal(t, "closed", v.Variants[1].Breaker)

	write(50)
	require.NoError(t, g.Reload(context.Background()))
	assert.Equal(t, 50, view().Variants[1].Weight)

	require.NoError(t, os.WriteFile(path, []byte("routing:\n  catalog:\n    variants: [{name: x, weight: -1}]\n"), 0o600))
	require.Error(t, g.Reload(context.Background()))
	assert.Equal(t, 50, view().Variants[1].Weight, "a bad file keeps the routing in force")
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
