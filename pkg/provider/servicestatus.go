package provider

import (
	"context"
	"encoding/json"
	"sync/atomic"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
)

// serviceStatusClientName is the user agent of the condition writes.
const serviceStatusClientName = "gce-ccm-service-status"

// serviceStatus writes Service conditions with strategic merge patches of
// the status subresource. status.conditions merges by type, so a patch
// carries only our condition and never conflicts with the service
// controller's patches of status.loadBalancer. The client arrives with
// Initialize, after the provider is built; before that nothing is written.
type serviceStatus struct {
	client   atomic.Pointer[kubernetes.Interface]
	recorder atomic.Pointer[record.EventRecorder]
}

var (
	_ loadbalancer.StatusWriter  = (*serviceStatus)(nil)
	_ loadbalancer.EventRecorder = (*serviceStatus)(nil)
)

func (s *serviceStatus) init(c kubernetes.Interface, r record.EventRecorder) {
	s.client.Store(&c)
	s.recorder.Store(&r)
}

// Eventf records an event once Initialize has given a recorder.
func (s *serviceStatus) Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	if r := s.recorder.Load(); r != nil {
		(*r).Eventf(object, eventtype, reason, messageFmt, args...)
	}
}

// AddFinalizer adds a finalizer with a strategic merge patch, which merges
// metadata.finalizers and so keeps the others.
func (s *serviceStatus) AddFinalizer(ctx context.Context, svc *v1.Service, finalizer string) error {
	return s.patchService(ctx, svc, map[string]any{"metadata": map[string]any{"finalizers": []string{finalizer}}}, "")
}

// RemoveFinalizer removes a finalizer and only that one.
func (s *serviceStatus) RemoveFinalizer(ctx context.Context, svc *v1.Service, finalizer string) error {
	return s.patchService(ctx, svc, map[string]any{"metadata": map[string]any{"$deleteFromPrimitiveList/finalizers": []string{finalizer}}}, "")
}

// ClearLoadBalancerStatus empties status.loadBalancer.
func (s *serviceStatus) ClearLoadBalancerStatus(ctx context.Context, svc *v1.Service) error {
	return s.patchService(ctx, svc, map[string]any{"status": map[string]any{"loadBalancer": map[string]any{"ingress": nil}}}, "status")
}

// SetServiceCondition adds or replaces the condition of cond's type.
func (s *serviceStatus) SetServiceCondition(ctx context.Context, svc *v1.Service, cond metav1.Condition) error {
	return s.patch(ctx, svc, conditionPatch(cond))
}

// RemoveServiceCondition removes the condition of the type.
func (s *serviceStatus) RemoveServiceCondition(ctx context.Context, svc *v1.Service, condType string) error {
	return s.patch(ctx, svc, map[string]any{"type": condType, "$patch": "delete"})
}

func (s *serviceStatus) patch(ctx context.Context, svc *v1.Service, entry any) error {
	return s.patchService(ctx, svc, map[string]any{"status": map[string]any{"conditions": []any{entry}}}, "status")
}

// patchService sends a strategic merge patch of the Service or of one of
// its subresources ("" for none).
func (s *serviceStatus) patchService(ctx context.Context, svc *v1.Service, patch any, subresource string) error {
	c := s.client.Load()
	if c == nil {
		return nil
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	var subresources []string
	if subresource != "" {
		subresources = append(subresources, subresource)
	}
	_, err = (*c).CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{}, subresources...)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// conditionPatch is the patch entry of a condition: all its fields, so that
// none of an older condition of the type survives the merge.
func conditionPatch(cond metav1.Condition) map[string]any {
	return map[string]any{
		"type":               cond.Type,
		"status":             cond.Status,
		"observedGeneration": cond.ObservedGeneration,
		"lastTransitionTime": cond.LastTransitionTime,
		"reason":             cond.Reason,
		"message":            cond.Message,
	}
}
