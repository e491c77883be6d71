package loadbalancer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"
)

// stubLB answers every call with the error set for the Service's name.
type stubLB struct {
	cloudprovider.LoadBalancer
	errs map[string]error
}

func (s *stubLB) EnsureLoadBalancer(_ context.Context, _ string, svc *v1.Service, _ []*v1.Node) (*v1.LoadBalancerStatus, error) {
	return &v1.LoadBalancerStatus{}, s.errs[svc.Name]
}

func (s *stubLB) UpdateLoadBalancer(_ context.Context, _ string, svc *v1.Service, _ []*v1.Node) error {
	return s.errs[svc.Name]
}

func (s *stubLB) EnsureLoadBalancerDeleted(_ context.Context, _ string, svc *v1.Service) error {
	return s.errs[svc.Name]
}

func TestMetricsInstrument(t *testing.T) {
	m := NewMetrics()
	m.now = func() time.Time { return time.Unix(1700000000, 0) }
	reg := metrics.NewKubeRegistry()
	reg.MustRegister(m.Collectors()...)
	stub := &stubLB{errs: map[string]error{}}
	lb := m.Instrument(stub)
	ctx := t.Context()
	svc := func(name string) *v1.Service {
		return &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	}
	apiErr := errors.New("insert forwarding rule: quota exceeded")
	// Steps, each followed by the gauge it must leave.
	steps := []struct {
		name                    string
		do                      func()
		synced, failed, invalid int
	}{
		{"a ensured", func() { _, _ = lb.EnsureLoadBalancer(ctx, "c", svc("a"), nil) }, 1, 0, 0},
		{"b fails", func() {
			stub.errs["b"] = apiErr
			_, _ = lb.EnsureLoadBalancer(ctx, "c", svc("b"), nil)
		}, 1, 1, 0},
		{"c invalid", func() {
			stub.errs["c"] = &InputError{Field: "spec.loadBalancerIP", Value: "x", Reason: "not an IP"}
			_, _ = lb.EnsureLoadBalancer(ctx, "c", svc("c"), nil)
		}, 1, 1, 1},
		{"b updated, its ensure's failure stands", func() {
			stub.errs["b"] = nil
			_ = lb.UpdateLoadBalancer(ctx, "c", svc("b"), nil)
		}, 1, 1, 1},
		{"a update fails", func() {
			stub.errs["a"] = apiErr
			_ = lb.UpdateLoadBalancer(ctx, "c", svc("a"), nil)
		}, 0, 2, 1},
		{"a update succeeds again", func() {
			stub.errs["a"] = nil
			_ = lb.UpdateLoadBalancer(ctx, "c", svc("a"), nil)
		}, 1, 1, 1},
		{"b ensured", func() { _, _ = lb.EnsureLoadBalancer(ctx, "c", svc("b"), nil) }, 2, 0, 1},
		{"another controller's Service is not counted", func() {
			stub.errs["d"] = cloudprovider.ImplementedElsewhere
			_, _ = lb.EnsureLoadBalancer(ctx, "c", svc("d"), nil)
		}, 2, 0, 1},
		{"c deleted", func() { stub.errs["c"] = nil; _ = lb.EnsureLoadBalancerDeleted(ctx, "c", svc("c")) }, 2, 0, 0},
		{"a delete fails", func() {
			stub.errs["a"] = apiErr
			_ = lb.EnsureLoadBalancerDeleted(ctx, "c", svc("a"))
		}, 1, 1, 0},
	}
	for _, s := range steps {
		s.do()
		want := `
# HELP gce_loadbalancers [ALPHA] Services whose load balancer this manager manages, by the state of their last sync: synced, error (a retry or a fix in GCE can mend it) or invalid (the Service asks for something GCE cannot do).
# TYPE gce_loadbalancers gauge
gce_loadbalancers{state="error"} ` + itoa(s.failed) + `
gce_loadbalancers{state="invalid"} ` + itoa(s.invalid) + `
gce_loadbalancers{state="synced"} ` + itoa(s.synced) + `
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gce_loadbalancers"); err != nil {
			t.Errorf("after %q: %v", s.name, err)
		}
	}
	want := `
# HELP gce_loadbalancer_syncs_total [ALPHA] Load balancer syncs by operation (ensure, update, delete) and result (ok, error, invalid).
# TYPE gce_loadbalancer_syncs_total counter
gce_loadbalancer_syncs_total{operation="delete",result="error"} 1
gce_loadbalancer_syncs_total{operation="delete",result="ok"} 1
gce_loadbalancer_syncs_total{operation="ensure",result="error"} 1
gce_loadbalancer_syncs_total{operation="ensure",result="invalid"} 1
gce_loadbalancer_syncs_total{operation="ensure",result="ok"} 2
gce_loadbalancer_syncs_total{operation="update",result="error"} 1
gce_loadbalancer_syncs_total{operation="update",result="ok"} 2
# HELP gce_loadbalancer_last_successful_sync_timestamp_seconds [ALPHA] Unix time of the last load balancer sync (ensure, update or delete) that succeeded.
# TYPE gce_loadbalancer_last_successful_sync_timestamp_seconds gauge
gce_loadbalancer_last_successful_sync_timestamp_seconds 1.7e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gce_loadbalancer_syncs_total",
		"gce_loadbalancer_last_successful_sync_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

func TestSyncResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, "ok"},
		{"api", errors.New("boom"), "error"},
		{"input", &InputError{Field: "f"}, "invalid"},
		{"wrapped input", errors.Join(errors.New("x"), &InputError{Field: "f"}), "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := syncResult(tc.err); got != tc.want {
				t.Errorf("syncResult(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func itoa(n int) string { return string(rune('0' + n)) }
