package loadbalancer

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

func TestDesiredHealthCheck(t *testing.T) {
	t.Parallel()
	nodes := desiredHealthCheck(&spec{lbName: "aweb"}, "c1")
	wantNodes := &gce.HTTPHealthCheck{Name: "k8s-c1-node", Description: `{"kubernetes.io/service-name":"k8s-c1-node"}`, Port: 10256,
		RequestPath: "/healthz", CheckIntervalSec: 8, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3}
	if diff := cmp.Diff(wantNodes, nodes); diff != "" {
		t.Errorf("Cluster policy health check (-want +got):\n%s", diff)
	}
	local := desiredHealthCheck(&spec{lbName: "aweb", local: true, hcPort: 31234}, "c1")
	if local.Name != "aweb" || local.Port != 31234 || local.RequestPath != "/healthz" || local.Description != `{"kubernetes.io/service-name":"aweb"}` {
		t.Errorf("Local policy health check = %+v", local)
	}
}

func TestHealthCheckNeedsUpdate(t *testing.T) {
	t.Parallel()
	want := desiredHealthCheck(&spec{lbName: "aweb", local: true, hcPort: 31234}, "c1")
	change := func(f func(*gce.HTTPHealthCheck)) *gce.HTTPHealthCheck {
		h := *want
		h.SelfLink = "https://www.googleapis.com/compute/v1/projects/p/global/httpHealthChecks/aweb"
		f(&h)
		return &h
	}
	for _, tc := range []struct {
		name string
		have *gce.HTTPHealthCheck
		want bool
	}{
		{"identical", change(func(*gce.HTTPHealthCheck) {}), false},
		{"slower settings are kept", change(func(h *gce.HTTPHealthCheck) {
			h.CheckIntervalSec, h.TimeoutSec, h.HealthyThreshold, h.UnhealthyThreshold = 30, 10, 2, 5
		}), false},
		{"port", change(func(h *gce.HTTPHealthCheck) { h.Port = 31235 }), true},
		{"path", change(func(h *gce.HTTPHealthCheck) { h.RequestPath = "/" }), true},
		{"host", change(func(h *gce.HTTPHealthCheck) { h.Host = "example.com" }), true},
		{"description", change(func(h *gce.HTTPHealthCheck) { h.Description = "" }), true},
		{"faster interval", change(func(h *gce.HTTPHealthCheck) { h.CheckIntervalSec = 2 }), true},
		{"lower unhealthy threshold", change(func(h *gce.HTTPHealthCheck) { h.UnhealthyThreshold = 2 }), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := healthCheckNeedsUpdate(want, tc.have); got != tc.want {
				t.Errorf("healthCheckNeedsUpdate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMergeHealthCheck(t *testing.T) {
	t.Parallel()
	want := desiredHealthCheck(&spec{lbName: "aweb"}, "c1")
	have := &gce.HTTPHealthCheck{Name: want.Name, Port: 80, RequestPath: "/", CheckIntervalSec: 5, TimeoutSec: 5, HealthyThreshold: 2, UnhealthyThreshold: 2}
	got := mergeHealthCheck(want, have)
	wantMerged := *want
	wantMerged.CheckIntervalSec, wantMerged.TimeoutSec, wantMerged.HealthyThreshold = 8, 5, 2
	if diff := cmp.Diff(&wantMerged, got); diff != "" {
		t.Errorf("mergeHealthCheck (-want +got):\n%s", diff)
	}
}
