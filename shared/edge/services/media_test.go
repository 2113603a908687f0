package services_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
)

func TestMedia_UploadLifecycleAgainstTheFakes(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Subject: "u-001", Client: auth.ClientMobile})

	u, err := c.Media.Create(ctx, domain.CreateUpload{UserID: "u-001", Length: 5, Filename: "a.jpg", ContentType: "image/jpeg"})
	require.NoError(t, err)
	assert.Equal(t, "u-001", u.UserID)
	assert.Zero(t, u.Offset)

	u, err = c.Media.Patch(ctx, u.ID, 0, []byte("abc"))
	require.NoError(t, err)
	assert.Equal(t, int64(3), u.Offset)

	_, err = c.Media.Patch(ctx, u.ID, 0, []byte("de"))
	p := problem.Resolve(err)
	assert.Equal(t, http.StatusConflict, p.Status)
	assert.Equal(t, problem.CodeConflict, p.Code)

	// The gateway checks the length before it forwards, so a 413 from the
	// service means the gateway sent what it should not have: the caller
	// sees a bad gateway, and the status stays in the error for the logs.
	_, err = c.Media.Patch(ctx, u.ID, 3, []byte("def"))
	var ue *upstream.Error
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, http.StatusRequestEntityTooLarge, ue.Status)

	u, err = c.Media.Patch(ctx, u.ID, 3, []byte("de"))
	require.NoError(t, err)
	assert.True(t, u.Complete)
	got, err := c.Media.Get(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, u, got)
	data, _ := f.UploadData(u.ID)
	assert.Equal(t, "abcde", string(data))
	assert.Equal(t, "u-001", f.LastHeaders(domain.ServiceMedia).Get("X-User-Id"))

	f.ExpireUpload(u.ID)
	_, err = c.Media.Get(ctx, u.ID)
	p = problem.Resolve(err)
	assert.Equal(t, http.StatusGone, p.Status)
	assert.Equal(t, problem.CodeGone, p.Code)

	u, err = c.Media.Create(ctx, domain.CreateUpload{UserID: "u-001", Length: 5, Filename: "b.png", ContentType: "image/png"})
	require.NoError(t, err)
	require.NoError(t, c.Media.Delete(ctx, u.ID))
	_, err = c.Media.Get(ctx, u.ID)
	assert.Equal(t, http.StatusNotFound, problem.Resolve(err).Status)
}

// TestMedia_PatchIsNotRetried: with the media service failing, a PATCH
// reaches it once, while a GET is retried; both are counted under the
// media label with their own breaker.
func TestMedia_PatchIsNotRetried(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	reg := prometheus.NewRegistry()
	c, err := services.New(services.DefaultConfig(base), upstream.Options{Registerer: reg})
	require.NoError(t, err)
	ctx := context.Background()
	u, err := c.Media.Create(ctx, domain.CreateUpload{UserID: "u-001", Length: 5, Filename: "a.jpg", ContentType: "image/jpeg"})
	require.NoError(t, err)
	require.NoError(t, f.SetFault(domain.ServiceMedia, domain.Fault{Status: http.StatusServiceUnavailable}))
	f.ResetStats()

	_, err = c.Media.Patch(ctx, u.ID, 0, []byte("abc"))
	assert.Equal(t, http.StatusBadGateway, problem.Resolve(err).Status)
	assert.Equal(t, 1, f.Requests(domain.ServiceMedia), "PATCH sent once")

	_, err = c.Media.Get(ctx, u.ID)
	require.Error(t, err)
	assert.Equal(t, 3, f.Requests(domain.ServiceMedia), "GET retried once")
	assert.Equal(t, 3.0, testutil.ToFloat64(counter(t, reg, "shopfront_upstream_calls_total", "media")), "create, patch, get")
	assert.Equal(t, "closed", c.Breakers()[domain.ServiceMedia])
}

// counter sums the series of name whose service label is service.
func counter(t *testing.T, reg *prometheus.Registry, name, service string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "service" && l.GetValue() == service {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sum"})
	g.Set(sum)
	return g
}
