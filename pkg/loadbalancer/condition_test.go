package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSyncedCondition(t *testing.T) {
	t.Parallel()
	svc := testService(func(s *v1.Service) { s.Generation = 3 })
	input := &InputError{Field: "spec.loadBalancerIP", Value: "not-an-ip", Reason: "not an IPv4 address"}
	for _, tc := range []struct {
		name   string
		ip     string
		err    error
		want   metav1.Condition
		wantOK bool
	}{
		{name: "success", ip: "198.18.0.1", wantOK: true, want: metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionTrue,
			Reason: ReasonSynced, Message: "The load balancer matches the Service; its IP is 198.18.0.1", ObservedGeneration: 3}},
		{name: "bad input", err: input, wantOK: true, want: metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionFalse,
			Reason: ReasonInvalidConfiguration, Message: `spec.loadBalancerIP "not-an-ip": not an IPv4 address; nothing in GCE was changed`, ObservedGeneration: 3}},
		{name: "bad input wrapped", err: fmt.Errorf("ensure: %w", errors.Join(input)), wantOK: true, want: metav1.Condition{Type: ConditionSynced,
			Status: metav1.ConditionFalse, Reason: ReasonInvalidConfiguration, Message: `spec.loadBalancerIP "not-an-ip": not an IPv4 address; nothing in GCE was changed`,
			ObservedGeneration: 3}},
		{name: "API failure leaves the condition alone", err: errors.New("backendError")},
		{name: "ownership conflict leaves the condition alone", err: notOwned("firewall", "k8s-fw-a", "{}", "ns/web")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := syncedCondition(svc, tc.ip, tc.err)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("condition (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConditionUpdate(t *testing.T) {
	t.Parallel()
	then := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	now := metav1.NewTime(then.Add(time.Hour))
	cond := func(status metav1.ConditionStatus, reason, message string, at metav1.Time) metav1.Condition {
		return metav1.Condition{Type: ConditionSynced, Status: status, Reason: reason, Message: message, LastTransitionTime: at}
	}
	other := metav1.Condition{Type: "Other", Status: metav1.ConditionTrue, Reason: "X", LastTransitionTime: then}
	bad := cond(metav1.ConditionFalse, ReasonInvalidConfiguration, "spec.ports[0].protocol", metav1.Time{})
	good := cond(metav1.ConditionTrue, ReasonSynced, "ok", metav1.Time{})
	for _, tc := range []struct {
		name string
		have []metav1.Condition
		want metav1.Condition
		out  *metav1.Condition
	}{
		{name: "new condition", have: []metav1.Condition{other}, want: good, out: ptr(cond(metav1.ConditionTrue, ReasonSynced, "ok", now))},
		{name: "unchanged", have: []metav1.Condition{other, cond(metav1.ConditionTrue, ReasonSynced, "ok", then)}, want: good},
		{name: "status flips", have: []metav1.Condition{cond(metav1.ConditionTrue, ReasonSynced, "ok", then)}, want: bad,
			out: ptr(cond(metav1.ConditionFalse, ReasonInvalidConfiguration, "spec.ports[0].protocol", now))},
		{name: "another message keeps the transition time",
			have: []metav1.Condition{cond(metav1.ConditionFalse, ReasonInvalidConfiguration, "spec.loadBalancerIP", then)}, want: bad,
			out: ptr(cond(metav1.ConditionFalse, ReasonInvalidConfiguration, "spec.ports[0].protocol", then))},
		{name: "newer generation", have: []metav1.Condition{cond(metav1.ConditionTrue, ReasonSynced, "ok", then)},
			want: func() metav1.Condition { c := good; c.ObservedGeneration = 2; return c }(),
			out: func() *metav1.Condition {
				c := cond(metav1.ConditionTrue, ReasonSynced, "ok", then)
				c.ObservedGeneration = 2
				return &c
			}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.out, conditionUpdate(tc.have, tc.want, now)); diff != "" {
				t.Errorf("update (-want +got):\n%s", diff)
			}
		})
	}
}

// recordingWriter applies conditions to the Service it is given, as the
// API server would, and counts its writes.
type recordingWriter struct{ sets, removes int }

func (w *recordingWriter) SetServiceCondition(_ context.Context, svc *v1.Service, cond metav1.Condition) error {
	w.sets++
	for i := range svc.Status.Conditions {
		if svc.Status.Conditions[i].Type == cond.Type {
			svc.Status.Conditions[i] = cond
			return nil
		}
	}
	svc.Status.Conditions = append(svc.Status.Conditions, cond)
	return nil
}

func (w *recordingWriter) RemoveServiceCondition(_ context.Context, svc *v1.Service, condType string) error {
	w.removes++
	var keep []metav1.Condition
	for _, c := range svc.Status.Conditions {
		if c.Type != condType {
			keep = append(keep, c)
		}
	}
	svc.Status.Conditions = keep
	return nil
}

func (w *recordingWriter) AddFinalizer(_ context.Context, svc *v1.Service, f string) error {
	if !slices.Contains(svc.Finalizers, f) {
		svc.Finalizers = append(svc.Finalizers, f)
	}
	return nil
}

func (w *recordingWriter) RemoveFinalizer(_ context.Context, svc *v1.Service, f string) error {
	svc.Finalizers = slices.DeleteFunc(svc.Finalizers, func(s string) bool { return s == f })
	return nil
}

func (w *recordingWriter) ClearLoadBalancerStatus(_ context.Context, svc *v1.Service) error {
	svc.Status.LoadBalancer = v1.LoadBalancerStatus{}
	return nil
}

func TestRecordSyncWritesOnlyChanges(t *testing.T) {
	t.Parallel()
	w := &recordingWriter{}
	b := New(nil, Options{Status: w})
	svc := testService(nil)
	ctx := context.Background()
	bad := &InputError{Field: "spec.ports[0].protocol", Value: "SCTP", Reason: "only TCP and UDP"}
	steps := []struct {
		ip         string
		err        error
		wantSets   int
		wantStatus metav1.ConditionStatus
	}{
		{ip: "198.18.0.1", wantSets: 1, wantStatus: metav1.ConditionTrue},
		{ip: "198.18.0.1", wantSets: 1, wantStatus: metav1.ConditionTrue},
		{err: errors.New("backendError"), wantSets: 1, wantStatus: metav1.ConditionTrue},
		{err: bad, wantSets: 2, wantStatus: metav1.ConditionFalse},
		{err: bad, wantSets: 2, wantStatus: metav1.ConditionFalse},
		{ip: "198.18.0.1", wantSets: 3, wantStatus: metav1.ConditionTrue},
	}
	for i, s := range steps {
		b.recordSync(ctx, svc, s.ip, s.err)
		if w.sets != s.wantSets || len(svc.Status.Conditions) != 1 || svc.Status.Conditions[0].Status != s.wantStatus {
			t.Fatalf("step %d: %d writes, conditions %+v; want %d writes and status %s", i, w.sets, svc.Status.Conditions, s.wantSets, s.wantStatus)
		}
	}
	deleting := svc.DeepCopy()
	deleting.DeletionTimestamp = ptr(metav1.Now())
	b.forgetSync(ctx, deleting)
	b.forgetSync(ctx, svc)
	b.forgetSync(ctx, svc)
	if w.removes != 1 || len(svc.Status.Conditions) != 0 {
		t.Errorf("removes = %d, conditions %+v; want one remove, for the Service not being deleted", w.removes, svc.Status.Conditions)
	}
}
