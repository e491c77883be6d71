package provider

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
)

func TestServiceStatusPatchesOnlyItsCondition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	other := metav1.Condition{Type: "Other", Status: metav1.ConditionTrue, Reason: "Mine", Message: "someone else's", LastTransitionTime: at}
	old := metav1.Condition{Type: loadbalancer.ConditionSynced, Status: metav1.ConditionTrue, Reason: loadbalancer.ReasonSynced,
		Message: "ok", ObservedGeneration: 4, LastTransitionTime: at}
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Status: v1.ServiceStatus{
			LoadBalancer: v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: "198.18.0.1"}}},
			Conditions:   []metav1.Condition{other, old},
		},
	}
	client := fake.NewClientset(svc)
	s := &serviceStatus{}

	// Before Initialize there is no client and nothing is written.
	if err := s.SetServiceCondition(ctx, svc, metav1.Condition{}); err != nil {
		t.Fatalf("without a client: %v", err)
	}
	s.init(client, record.NewFakeRecorder(10))

	bad := metav1.Condition{Type: loadbalancer.ConditionSynced, Status: metav1.ConditionFalse, Reason: loadbalancer.ReasonInvalidConfiguration,
		Message: `spec.ports[0].protocol "SCTP"`, LastTransitionTime: metav1.NewTime(at.Add(time.Hour))}
	if err := s.SetServiceCondition(ctx, svc, bad); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := svc.Status.DeepCopy()
	want.Conditions = []metav1.Condition{other, bad}
	if diff := cmp.Diff(*want, got.Status); diff != "" {
		t.Errorf("status after set (-want +got):\n%s", diff)
	}

	if err := s.RemoveServiceCondition(ctx, svc, loadbalancer.ConditionSynced); err != nil {
		t.Fatal(err)
	}
	if got, err = client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	want.Conditions = []metav1.Condition{other}
	if diff := cmp.Diff(*want, got.Status); diff != "" {
		t.Errorf("status after remove (-want +got):\n%s", diff)
	}

	gone := &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gone"}}
	if err := s.SetServiceCondition(ctx, gone, bad); err != nil {
		t.Errorf("a Service that is gone: %v, want no error", err)
	}
}
