package compose_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/deploy/compose"
	"github.com/shopfront/shared/edge/config"
)

func TestShopfrontCompose(t *testing.T) {
	t.Parallel()
	p, err := compose.Load(t.Context(), filepath.Join("..", "docker-compose.yml"))
	require.NoError(t, err)
	assert.NoError(t, compose.Check(p))
	for _, want := range []string{"fakes", "redis", "bff-mobile", "bff-web", "bff-partner", "otel-collector", "prometheus", "grafana"} {
		assert.Contains(t, p.Services, want)
	}
	// Every file a service mounts exists, so docker compose up cannot
	// create an empty directory in its place.
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != "bind" {
				continue
			}
			_, err := os.Stat(v.Source)
			assert.NoError(t, err, "service %s mounts %s", name, v.Source)
		}
	}
	// Gateways wait for Redis and the fakes to be healthy, not just started.
	for _, g := range []string{"bff-mobile", "bff-web", "bff-partner"} {
		s := p.Services[g]
		assert.Equal(t, "service_healthy", s.DependsOn["redis"].Condition, g)
		assert.Equal(t, "service_healthy", s.DependsOn["fakes"].Condition, g)
		assert.NotEmpty(t, s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"], g)
		for _, svc := range domain.ServiceNames() {
			assert.NotEmpty(t, s.Environment[config.UpstreamVar(svc)], "%s: %s", g, config.UpstreamVar(svc))
		}
	}
}

func TestBrokenFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string
		expectErr string
	}{
		{name: "nok, unknown key", file: "unknown-key.yml", expectErr: "restart_policy"},
		{name: "nok, no healthcheck", file: "no-healthcheck.yml", expectErr: "service web: no healthcheck"},
		{name: "nok, healthcheck disabled", file: "healthcheck-disabled.yml", expectErr: "service web: no healthcheck"},
		{name: "nok, latest tag", file: "latest-image.yml", expectErr: `image "nginx:latest" is not pinned`},
		{name: "nok, no tag", file: "untagged-image.yml", expectErr: `image "nginx" is not pinned`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := compose.Load(t.Context(), filepath.Join("..", "testdata", "compose", tt.file))
			if err == nil {
				err = compose.Check(p)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.expectErr)
		})
	}
}
