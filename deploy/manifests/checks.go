package manifests

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// Policy is what a rendered overlay must satisfy beyond the API types.
type Policy struct {
	// Gateways names the workloads that serve traffic; each must exist and
	// have a PodDisruptionBudget and a NetworkPolicy selecting its pods.
	// Required.
	Gateways []string
	// MinReplicas is the least number of replicas of every gateway (and the
	// least minReplicas of its autoscaler, if any). Optional. Default 1.
	MinReplicas int32
}

// memLimitShare is the largest GOMEMLIMIT an explicit value may set, as a
// share of the container's memory limit: the runtime's soft limit covers
// the heap, and stacks, buffers and page cache need the rest.
const memLimitShare = 0.9

// Check evaluates every pod template at the Pod Security Standard
// "restricted" (latest version) and the house policy p, returning every
// violation.
func Check(objs []Object, p Policy) error {
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		return fmt.Errorf("building the pod security evaluator: %w", err)
	}
	restricted := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	minReplicas := max(p.MinReplicas, 1)
	var errs []error
	fail := func(o Object, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", o, fmt.Sprintf(format, args...)))
	}
	pods := map[string]*corev1.PodTemplateSpec{}
	for _, o := range objs {
		tpl, ok := PodTemplate(o)
		if !ok {
			continue
		}
		pods[o.Name] = tpl
		for _, r := range eval.EvaluatePod(restricted, &tpl.ObjectMeta, &tpl.Spec) {
			if !r.Allowed {
				fail(o, "pod security restricted: %s (%s)", r.ForbiddenReason, r.ForbiddenDetail)
			}
		}
		for _, c := range append(append([]corev1.Container{}, tpl.Spec.InitContainers...), tpl.Spec.Containers...) {
			checkContainer(o, c, fail)
		}
	}
	for _, g := range p.Gateways {
		var workload *Object
		for i := range objs {
			if _, ok := PodTemplate(objs[i]); ok && objs[i].Name == g {
				workload = &objs[i]
			}
		}
		if workload == nil {
			errs = append(errs, fmt.Errorf("gateway %s: no Deployment or StatefulSet", g))
			continue
		}
		if n, _ := replicas(*workload); n < minReplicas {
			fail(*workload, "%d replicas, want at least %d", n, minReplicas)
		}
		if c := firstContainer(pods[g]); c != nil && c.StartupProbe == nil {
			fail(*workload, "container %s: no startupProbe", c.Name)
		}
		podLabels := labels.Set(pods[g].Labels)
		var pdb, netpol bool
		for _, o := range objs {
			switch v := o.Value.(type) {
			case *policyv1.PodDisruptionBudget:
				pdb = pdb || selects(v.Spec.Selector, podLabels)
			case *networkingv1.NetworkPolicy:
				netpol = netpol || selects(&v.Spec.PodSelector, podLabels)
			case *autoscalingv2.HorizontalPodAutoscaler:
				if v.Spec.ScaleTargetRef.Name == g && (v.Spec.MinReplicas == nil || *v.Spec.MinReplicas < minReplicas) {
					fail(o, "minReplicas below %d", minReplicas)
				}
			}
		}
		if !pdb {
			fail(*workload, "no PodDisruptionBudget selects its pods")
		}
		if !netpol {
			fail(*workload, "no NetworkPolicy selects its pods")
		}
	}
	return errors.Join(errs...)
}

func firstContainer(tpl *corev1.PodTemplateSpec) *corev1.Container {
	if tpl == nil || len(tpl.Spec.Containers) == 0 {
		return nil
	}
	return &tpl.Spec.Containers[0]
}

// selects reports whether sel, a non-empty selector, matches set. An empty
// selector would match every pod of the namespace, which no Shopfront
// object means to do.
func selects(sel *metav1.LabelSelector, set labels.Set) bool {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(set)
}

func checkContainer(o Object, c corev1.Container, fail func(Object, string, ...any)) {
	if !imagePinned(c.Image) {
		fail(o, "container %s: image %q is not pinned to a tag other than latest or a digest", c.Name, c.Image)
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		fail(o, "container %s: needs a readinessProbe and a livenessProbe", c.Name)
	}
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		fail(o, "container %s: no memory limit", c.Name)
		return
	}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		fail(o, "container %s: no CPU request (autoscaling and scheduling need one)", c.Name)
	}
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		switch {
		case e.ValueFrom != nil:
			if f := e.ValueFrom.ResourceFieldRef; f == nil || f.Resource != "limits.memory" || (!f.Divisor.IsZero() && f.Divisor.Value() != 1) {
				fail(o, "container %s: GOMEMLIMIT must come from limits.memory in bytes (divisor 1)", c.Name)
			}
		default:
			n, err := parseMemLimit(e.Value)
			if err != nil {
				fail(o, "container %s: GOMEMLIMIT: %v", c.Name, err)
			} else if float64(n) > memLimitShare*float64(limit.Value()) {
				fail(o, "container %s: GOMEMLIMIT %s is above %.0f %% of the memory limit %s", c.Name, e.Value, memLimitShare*100, limit.String())
			}
		}
	}
}

// parseMemLimit reads a GOMEMLIMIT value as the Go runtime does: a number
// of bytes with an optional unit B, KiB, MiB, GiB or TiB.
func parseMemLimit(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	num := s
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a byte size such as 230MiB", s)
	}
	return n << shift, nil
}
