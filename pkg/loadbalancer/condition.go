package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/quote"
)

// The condition EnsureLoadBalancer keeps in a Service's status.conditions.
// The upstream service controller reports a failed sync only as an event,
// which expires and says nothing once the Service is fixed; the condition
// stays until the next sync decides otherwise.
const (
	// ConditionSynced says whether the load balancer matches the Service.
	ConditionSynced = "LoadBalancerSynced"
	// ReasonSynced: the last sync made the load balancer match the Service.
	ReasonSynced = "Synced"
	// ReasonInvalidConfiguration: the Service asks for something GCE cannot
	// do; the message names the field and the value. Nothing was changed.
	ReasonInvalidConfiguration = "InvalidConfiguration"
)

// StatusWriter writes a Service's status conditions. Implementations patch
// status.conditions only, merged by type, so that they leave the rest of
// the status to the service controller. A Service that is gone is not an
// error.
type StatusWriter interface {
	// SetServiceCondition adds cond or replaces the condition of its type.
	SetServiceCondition(ctx context.Context, svc *v1.Service, cond metav1.Condition) error
	// RemoveServiceCondition removes the condition of the type.
	RemoveServiceCondition(ctx context.Context, svc *v1.Service, condType string) error
	// AddFinalizer adds a finalizer to the Service, RemoveFinalizer removes
	// one; both leave the other finalizers as they are.
	AddFinalizer(ctx context.Context, svc *v1.Service, finalizer string) error
	RemoveFinalizer(ctx context.Context, svc *v1.Service, finalizer string) error
	// ClearLoadBalancerStatus empties status.loadBalancer.
	ClearLoadBalancerStatus(ctx context.Context, svc *v1.Service) error
}

// addFinalizer adds a finalizer the Service lacks.
func (b *Balancer) addFinalizer(ctx context.Context, svc *v1.Service, finalizer string) error {
	if b.opts.Status == nil || slices.Contains(svc.Finalizers, finalizer) || svc.DeletionTimestamp != nil {
		return nil
	}
	if err := b.opts.Status.AddFinalizer(ctx, svc, finalizer); err != nil {
		return fmt.Errorf("add finalizer %s: %w", finalizer, err)
	}
	return nil
}

// removeFinalizer removes a finalizer the Service has.
func (b *Balancer) removeFinalizer(ctx context.Context, svc *v1.Service, finalizer string) error {
	if b.opts.Status == nil || !slices.Contains(svc.Finalizers, finalizer) {
		return nil
	}
	if err := b.opts.Status.RemoveFinalizer(ctx, svc, finalizer); err != nil {
		return fmt.Errorf("remove finalizer %s: %w", finalizer, err)
	}
	klog.FromContext(ctx).V(2).Info("Removed finalizer", "finalizer", finalizer)
	return nil
}

// syncedCondition is the condition an outcome of EnsureLoadBalancer calls
// for. ok is false for the errors a retry may fix (the API failing, a quota)
// or that an operator must fix in GCE: the condition then stays as it was,
// so that transient failures do not make it flap.
func syncedCondition(svc *v1.Service, ip string, err error) (cond metav1.Condition, ok bool) {
	cond = metav1.Condition{Type: ConditionSynced, ObservedGeneration: svc.Generation}
	var input *InputError
	switch {
	case err == nil:
		cond.Status, cond.Reason = metav1.ConditionTrue, ReasonSynced
		cond.Message = "The load balancer matches the Service"
		if ip != "" {
			cond.Message += "; its IP is " + ip
		}
	case errors.As(err, &input):
		cond.Status, cond.Reason = metav1.ConditionFalse, ReasonInvalidConfiguration
		cond.Message = input.Error() + "; nothing in GCE was changed"
	default:
		return metav1.Condition{}, false
	}
	cond.Message = quote.Message(cond.Message, quote.MaxConditionMessage)
	return cond, true
}

// conditionUpdate returns the condition to write so that have holds want,
// nil when it holds it already. The transition time moves only when the
// status changes.
func conditionUpdate(have []metav1.Condition, want metav1.Condition, now metav1.Time) *metav1.Condition {
	old := meta.FindStatusCondition(have, want.Type)
	if old == nil || old.Status != want.Status {
		want.LastTransitionTime = now
		return &want
	}
	if old.Reason == want.Reason && old.Message == want.Message && old.ObservedGeneration == want.ObservedGeneration {
		return nil
	}
	want.LastTransitionTime = old.LastTransitionTime
	return &want
}

// recordSync writes the condition of an EnsureLoadBalancer outcome when it
// differs from what the Service has. A failure to write is logged: it must
// not turn a sync that worked into one that is retried.
func (b *Balancer) recordSync(ctx context.Context, svc *v1.Service, ip string, err error) {
	if b.opts.Status == nil {
		return
	}
	want, ok := syncedCondition(svc, ip, err)
	if !ok {
		return
	}
	cond := conditionUpdate(svc.Status.Conditions, want, metav1.Now())
	if cond == nil {
		return
	}
	logger := klog.FromContext(ctx)
	if werr := b.opts.Status.SetServiceCondition(ctx, svc, *cond); werr != nil {
		logger.Error(werr, "Cannot set the Service's condition", "condition", cond.Type, "status", cond.Status, "reason", cond.Reason)
		return
	}
	logger.V(2).Info("Set the Service's condition", "condition", cond.Type, "status", cond.Status, "reason", cond.Reason)
}

// forgetSync removes the condition from a Service that no longer wants a
// load balancer; a Service being deleted keeps it, since it goes anyway.
func (b *Balancer) forgetSync(ctx context.Context, svc *v1.Service) {
	if b.opts.Status == nil || svc.DeletionTimestamp != nil || meta.FindStatusCondition(svc.Status.Conditions, ConditionSynced) == nil {
		return
	}
	if err := b.opts.Status.RemoveServiceCondition(ctx, svc, ConditionSynced); err != nil {
		klog.FromContext(ctx).Error(err, "Cannot remove the Service's condition", "condition", ConditionSynced)
	}
}
