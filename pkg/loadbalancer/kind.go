package loadbalancer

import (
	"slices"

	v1 "k8s.io/api/core/v1"
)

// Annotations, classes and finalizers of the long-standing GCE provider
// that decide which kind of load balancer a Service gets and who builds it.
const (
	// TypeAnnotation asks for an internal load balancer with "Internal".
	TypeAnnotation = "networking.gke.io/load-balancer-type"
	// DeprecatedTypeAnnotation is TypeAnnotation's older name; it also
	// accepts "internal".
	DeprecatedTypeAnnotation = "cloud.google.com/load-balancer-type"
	// ClassInternalLegacy is the loadBalancerClass of the target-pool era
	// internal load balancer.
	ClassInternalLegacy = "networking.gke.io/l4-regional-internal-legacy"
	// ClassExternalLegacy is the loadBalancerClass of the network load
	// balancer with a target pool: gce-ccm's own.
	ClassExternalLegacy = "networking.gke.io/l4-regional-external-legacy"
	// RBSAnnotation "enabled" hands the Service to the controller that builds
	// network load balancers with regional backend services (GKE's).
	RBSAnnotation = "cloud.google.com/l4-rbs"
	// NetLBFinalizer is kept on a Service while its external load balancer
	// may exist.
	NetLBFinalizer = "gke.networking.io/l4-netlb-v1"
	// ILBFinalizer is kept on a Service while its internal load balancer may
	// exist.
	ILBFinalizer = "gke.networking.io/l4-ilb-v1"
	// rbsFinalizer marks a Service whose load balancer the backend-service
	// controller built.
	rbsFinalizer = "gke.networking.io/l4-netlb-v2"
)

// kind is who builds a Service's load balancer, and what sort.
type kind int

const (
	// kindExternal: a network load balancer with a target pool, by gce-ccm.
	kindExternal kind = iota
	// kindInternal: an internal passthrough load balancer, by gce-ccm.
	kindInternal
	// kindForeignClass: spec.loadBalancerClass names another controller.
	kindForeignClass
	// kindRBS: GKE's backend-service controller builds it.
	kindRBS
)

// serviceKind decides the kind as the long-standing provider does: the
// class first, then the type annotation (the current key before the
// deprecated one). It is stricter in two ways on purpose, so that no
// Service gets something more exposed than it asked for: a type annotation
// with a value that is neither internal nor external is an error, where that
// provider built a public load balancer for any value it did not know; and
// an Internal annotation wins over the external legacy class and over an
// External value of the other annotation key, where that provider let the
// class or the first key present win.
func serviceKind(svc *v1.Service) (kind, error) {
	if c := serviceClass(svc); c != nil {
		switch *c {
		case ClassInternalLegacy:
			return kindInternal, nil
		case ClassExternalLegacy:
			// External, unless an annotation below asks for internal.
		default:
			return kindForeignClass, nil
		}
	}
	if svc.Annotations[RBSAnnotation] == "enabled" || slices.Contains(svc.Finalizers, rbsFinalizer) {
		return kindRBS, nil
	}
	// Both keys are read: when they disagree, Internal wins (the
	// long-standing provider reads only the first key present, so the
	// current key's External hid the deprecated key's Internal).
	k := kindExternal
	var bad error
	for _, key := range []string{TypeAnnotation, DeprecatedTypeAnnotation} {
		v, ok := svc.Annotations[key]
		if !ok {
			continue
		}
		switch {
		case v == "Internal" || v == "internal":
			k = kindInternal
		case v == "External" || v == "external" || v == "":
		case bad == nil:
			bad = &InputError{Field: "metadata.annotations[" + key + "]", Value: v,
				Reason: `not a load balancer type; use "Internal" for an internal load balancer, or remove the annotation for an external one`}
		}
	}
	return k, bad
}

// serviceClass is the Service's class, also when LegacyClassView moved it
// to an annotation.
func serviceClass(svc *v1.Service) *string {
	if c := svc.Spec.LoadBalancerClass; c != nil {
		return c
	}
	if v, ok := svc.Annotations[viewClassAnnotation]; ok {
		return &v
	}
	return nil
}

// viewClassAnnotation carries a legacy class in LegacyClassView: that view
// clears spec.loadBalancerClass so that the upstream service controller,
// which skips every Service with a class, serves the Service.
const viewClassAnnotation = "gce-ccm.internal/load-balancer-class"

// LegacyClassView is an informer transform for a second instance of the
// upstream service controller that serves the Services of the long-standing
// provider's own classes, which the first instance skips as it skips every
// Service with a loadBalancerClass. Such a Service is seen without its
// class, which an annotation of the view keeps, so that this package still
// tells the internal class from the external one. Every
// other Service is seen as a ClusterIP Service without finalizers, which
// that instance never touches. The view exists only in that instance's
// informer cache; nothing of it is written back, since the controller's
// patches carry only what changed between two views.
func LegacyClassView(obj any) (any, error) {
	svc, ok := obj.(*v1.Service)
	if !ok {
		return obj, nil
	}
	c := svc.Spec.LoadBalancerClass
	out := svc.DeepCopy()
	if c != nil && (*c == ClassExternalLegacy || *c == ClassInternalLegacy) {
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[viewClassAnnotation] = *c
		out.Spec.LoadBalancerClass = nil
		return out, nil
	}
	out.Spec.Type = v1.ServiceTypeClusterIP
	out.Finalizers = nil
	return out, nil
}
