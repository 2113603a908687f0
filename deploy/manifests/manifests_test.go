package manifests_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/deploy/manifests"
	"github.com/shopfront/shared/edge/config"
)

var gateways = []string{"bff-mobile", "bff-web", "bff-partner"}

func TestOverlays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		dir         string
		policy      manifests.Policy
		expectRedis bool // whether the overlay runs its own Redis
		expectFakes bool
	}{
		{name: "ok, base", dir: "base", policy: manifests.Policy{Gateways: gateways, MinReplicas: 2}},
		{name: "ok, dev", dir: "overlays/dev", policy: manifests.Policy{Gateways: gateways}, expectRedis: true, expectFakes: true},
		{name: "ok, prod", dir: "overlays/prod", policy: manifests.Policy{Gateways: gateways, MinReplicas: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs, err := manifests.Render(filepath.Join("..", "k8s", tt.dir))
			require.NoError(t, err)
			assert.NoError(t, manifests.Check(objs, tt.policy))
			kinds := map[string]bool{}
			for _, o := range objs {
				kinds[o.String()] = true
			}
			for _, want := range []string{"Ingress/shopfront", "ServiceMonitor/shopfront", "PrometheusRule/shopfront"} {
				assert.True(t, kinds[want], "%s missing", want)
			}
			for _, g := range gateways {
				assert.True(t, kinds["HorizontalPodAutoscaler/"+g] != (tt.dir == "overlays/dev"), "autoscaler of %s", g)
			}
			// Every domain service has a URL: a missing one would default to
			// the pod's own loopback.
			for _, o := range objs {
				if cm, ok := o.Value.(*corev1.ConfigMap); ok && strings.HasPrefix(o.Name, "shopfront-upstreams") {
					for _, svc := range domain.ServiceNames() {
						assert.NotEmpty(t, cm.Data[config.UpstreamVar(svc)], "%s in %s", config.UpstreamVar(svc), o)
					}
				}
			}
			assert.Equal(t, tt.expectRedis, kinds["StatefulSet/redis"], "Redis StatefulSet")
			assert.Equal(t, tt.expectFakes, kinds["Deployment/fakes"], "fakes Deployment")
		})
	}
}

// TestRedisNeverEvicts pins the dev Redis to noeviction: an LRU policy
// would drop idempotency records, which carry a TTL.
func TestRedisNeverEvicts(t *testing.T) {
	t.Parallel()
	objs, err := manifests.Render(filepath.Join("..", "k8s", "overlays", "dev"))
	require.NoError(t, err)
	for _, o := range objs {
		if s, ok := o.Value.(*appsv1.StatefulSet); ok && o.Name == "redis" {
			args := s.Spec.Template.Spec.Containers[0].Args
			i := indexOf(args, "--maxmemory-policy")
			require.GreaterOrEqual(t, i, 0, "args %v", args)
			assert.Equal(t, "noeviction", args[i+1])
			return
		}
	}
	t.Fatal("no redis StatefulSet in the dev overlay")
}

// TestProdMemoryLimit checks that prod sets GOMEMLIMIT explicitly (the
// policy bounds it at 90 % of the limit) rather than at 100 % from the
// downward API.
func TestProdMemoryLimit(t *testing.T) {
	t.Parallel()
	objs, err := manifests.Render(filepath.Join("..", "k8s", "overlays", "prod"))
	require.NoError(t, err)
	seen := 0
	for _, o := range objs {
		tpl, ok := manifests.PodTemplate(o)
		if !ok {
			continue
		}
		seen++
		env := envOf(tpl.Spec.Containers[0])
		require.Contains(t, env, "GOMEMLIMIT", "%s", o)
		assert.Nil(t, env["GOMEMLIMIT"].ValueFrom, "%s: GOMEMLIMIT from the downward API", o)
	}
	assert.Equal(t, len(gateways), seen)
}

func TestBrokenFixtures(t *testing.T) {
	t.Parallel()
	prod := manifests.Policy{Gateways: []string{"bff-web"}, MinReplicas: 3}
	tests := []struct {
		name      string
		dir       string
		expectErr string
	}{
		{name: "ok, the fixture all others break", dir: "good"},
		{name: "nok, unknown field", dir: "unknown-field", expectErr: `unknown field "spec.template.spec.containers[0].resources.limit"`},
		{name: "nok, removed API version", dir: "unknown-kind", expectErr: "PodDisruptionBudget/old: decoding"},
		{name: "nok, latest tag", dir: "latest-image", expectErr: `image "shopfront/bff-web:latest" is not pinned`},
		{name: "nok, no tag", dir: "untagged-image", expectErr: `image "shopfront/bff-web" is not pinned`},
		{name: "nok, privilege escalation allowed", dir: "privilege-escalation", expectErr: "pod security restricted: allowPrivilegeEscalation != false"},
		{name: "nok, no seccomp profile", dir: "no-seccomp", expectErr: "pod security restricted: seccompProfile"},
		{name: "nok, no readiness probe", dir: "no-probes", expectErr: "needs a readinessProbe and a livenessProbe"},
		{name: "nok, no startup probe", dir: "no-startup-probe", expectErr: "no startupProbe"},
		{name: "nok, no memory limit", dir: "no-memory-limit", expectErr: "no memory limit"},
		{name: "nok, GOMEMLIMIT above 90 % of the limit", dir: "gomemlimit-above-limit", expectErr: "GOMEMLIMIT 250MiB is above 90 % of the memory limit 256Mi"},
		{name: "nok, too few replicas", dir: "one-replica", expectErr: "1 replicas, want at least 3"},
		{name: "nok, no disruption budget", dir: "no-pdb", expectErr: "no PodDisruptionBudget selects its pods"},
		{name: "nok, no network policy", dir: "no-networkpolicy", expectErr: "no NetworkPolicy selects its pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs, err := manifests.Render(filepath.Join("..", "testdata", "k8s", tt.dir))
			if err == nil {
				err = manifests.Check(objs, prod)
			}
			if tt.expectErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.expectErr)
		})
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}
