// Package manifests renders Shopfront's kustomizations offline and checks
// what a cluster would only reject, or accept and regret, at apply time:
// every object decodes strictly into its Kubernetes or prometheus-operator
// type (an unknown or misspelt field fails), every pod template passes the
// Pod Security Standard "restricted", and the house policy holds (pinned
// images, probes, memory limits, a disruption budget and a network policy
// per gateway, enough replicas where it matters).
package manifests

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Object is one rendered object, decoded into its typed struct (e.g.
// *appsv1.Deployment).
type Object struct {
	// Kind and Name identify the object in messages.
	Kind, Name string
	// Value is the typed object.
	Value runtime.Object
}

func (o Object) String() string { return o.Kind + "/" + o.Name }

// scheme knows every type a Shopfront manifest may hold; anything else is
// an error, so a typo in apiVersion or kind cannot slip through.
func scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme,
		autoscalingv2.AddToScheme, networkingv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the scheme: %w", err)
		}
	}
	return s, nil
}

// kustomizeMu serialises renders: kustomize's kyaml loads its built-in
// OpenAPI schema into package globals on first use without a lock, so two
// renders at once race (the race detector reports it).
var kustomizeMu sync.Mutex

// Render builds the kustomization in dir (as kubectl apply -k would) and
// decodes every object strictly.
func Render(dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	kustomizeMu.Lock()
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	kustomizeMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", dir, err)
	}
	s, err := scheme()
	if err != nil {
		return nil, err
	}
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Yaml: true, Strict: true})
	var objs []Object
	var errs []error
	for _, r := range res.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", r.GetKind(), r.GetName(), err))
			continue
		}
		v, _, err := strict.Decode(y, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: decoding: %w", r.GetKind(), r.GetName(), err))
			continue
		}
		objs = append(objs, Object{Kind: r.GetKind(), Name: r.GetName(), Value: v})
	}
	return objs, errors.Join(errs...)
}

// PodTemplate returns the pod template of a workload, or false when o runs
// no pods.
func PodTemplate(o Object) (*corev1.PodTemplateSpec, bool) {
	switch v := o.Value.(type) {
	case *appsv1.Deployment:
		return &v.Spec.Template, true
	case *appsv1.StatefulSet:
		return &v.Spec.Template, true
	case *appsv1.DaemonSet:
		return &v.Spec.Template, true
	}
	return nil, false
}

// replicas returns a workload's replica count (1 when unset, as the API
// server defaults it).
func replicas(o Object) (int32, bool) {
	var r *int32
	switch v := o.Value.(type) {
	case *appsv1.Deployment:
		r = v.Spec.Replicas
	case *appsv1.StatefulSet:
		r = v.Spec.Replicas
	default:
		return 0, false
	}
	if r == nil {
		return 1, true
	}
	return *r, true
}

// imagePinned reports whether image names a tag other than latest, or a
// digest.
func imagePinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	name := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(name, ":")
	return i >= 0 && i < len(name)-1 && name[i+1:] != "latest"
}
