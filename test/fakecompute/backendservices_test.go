package fakecompute_test

import (
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// Helpers for regionBackendServices, with either client.

func (e *env) insertBS(t testing.TB, client string, bs *gce.BackendService) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.backendServices.Insert(e.ctx, &computepb.InsertRegionBackendServiceRequest{Project: project, Region: region,
			BackendServiceResource: toV1(t, bs, &computepb.BackendService{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.RegionBackendServices.Insert(project, region, bs).Context(e.ctx).Do())
}

func (e *env) getBS(t testing.TB, client, name string) (*gce.BackendService, error) {
	t.Helper()
	if client == "apiv1" {
		bs, err := e.v1.backendServices.Get(e.ctx, &computepb.GetRegionBackendServiceRequest{Project: project, Region: region, BackendService: name})
		if err != nil {
			return nil, err
		}
		return fromV1[gce.BackendService](t, bs), nil
	}
	return e.old.RegionBackendServices.Get(project, region, name).Context(e.ctx).Do()
}

func (e *env) listBSs(t testing.TB, client string) []string {
	t.Helper()
	if client == "apiv1" {
		return names(collect(t, e.v1.backendServices.List(e.ctx, &computepb.ListRegionBackendServicesRequest{Project: project, Region: region}).Next))
	}
	l, err := e.old.RegionBackendServices.List(project, region).Context(e.ctx).Do()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []string
	for _, bs := range l.Items {
		out = append(out, bs.Name)
	}
	return out
}

func (e *env) modifyBS(t testing.TB, client, name string, patch bool, bs *gce.BackendService) error {
	t.Helper()
	if client == "apiv1" {
		res := toV1(t, bs, &computepb.BackendService{})
		if patch {
			op, err := e.v1.backendServices.Patch(e.ctx, &computepb.PatchRegionBackendServiceRequest{Project: project, Region: region,
				BackendService: name, BackendServiceResource: res})
			return e.doV1(op, err)
		}
		op, err := e.v1.backendServices.Update(e.ctx, &computepb.UpdateRegionBackendServiceRequest{Project: project, Region: region,
			BackendService: name, BackendServiceResource: res})
		return e.doV1(op, err)
	}
	if patch {
		return e.doOld(e.old.RegionBackendServices.Patch(project, region, name, bs).Context(e.ctx).Do())
	}
	return e.doOld(e.old.RegionBackendServices.Update(project, region, name, bs).Context(e.ctx).Do())
}

func (e *env) deleteBS(client, name string) error {
	if client == "apiv1" {
		op, err := e.v1.backendServices.Delete(e.ctx, &computepb.DeleteRegionBackendServiceRequest{Project: project, Region: region, BackendService: name})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.RegionBackendServices.Delete(project, region, name).Context(e.ctx).Do())
}

func (e *env) bsHealth(t testing.TB, client, name, group string) (*gce.BackendServiceGroupHealth, error) {
	t.Helper()
	if client == "apiv1" {
		h, err := e.v1.backendServices.GetHealth(e.ctx, &computepb.GetHealthRegionBackendServiceRequest{Project: project, Region: region,
			BackendService: name, ResourceGroupReferenceResource: &computepb.ResourceGroupReference{Group: str(group)}})
		if err != nil {
			return nil, err
		}
		return fromV1[gce.BackendServiceGroupHealth](t, h), nil
	}
	return e.old.RegionBackendServices.GetHealth(project, region, name, &gce.ResourceGroupReference{Group: group}).Context(e.ctx).Do()
}

// ilbBackend builds, with the compute/v1 client, what one internal load
// balancer's backend service needs: a health check and an instance group
// per zone holding the given VMs.
func (e *env) ilbBackend(t testing.TB, hc string, groups map[string][]string) {
	t.Helper()
	if hc != "" {
		if err := e.insertHC(t, "compute/v1", "", &gce.HealthCheck{Name: hc, Type: "HTTP",
			HttpHealthCheck: &gce.HTTPHealthCheck{Port: 10256, RequestPath: "/healthz"}}); err != nil {
			t.Fatal(err)
		}
	}
	for zone, vms := range groups {
		if err := e.insertIG(t, "compute/v1", zone, &gce.InstanceGroup{Name: "k8s-ig--cluster"}); err != nil {
			t.Fatal(err)
		}
		var links []string
		for _, vm := range vms {
			links = append(links, instanceLink(zone, vm))
		}
		if len(links) > 0 {
			if err := e.addToIG("compute/v1", zone, "k8s-ig--cluster", links...); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRegionBackendServices(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "a-1", "a-2")
	e.seedVMs(t, zoneB, "b-1")
	if err := e.srv.SetInstanceStatus("", zoneA, "a-2", fakecompute.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	e.ilbBackend(t, "k8s-cluster-node", map[string][]string{zoneA: {"a-1", "a-2"}, zoneB: {"b-1"}})
	hcLink := globalLink("healthChecks", "k8s-cluster-node")
	igA, igB := igLink(zoneA, "k8s-ig--cluster"), igLink(zoneB, "k8s-ig--cluster")

	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			name := "a" + suffix(client)
			in := &gce.BackendService{Name: name, Description: `{"kubernetes.io/service-name":"default/db"}`, LoadBalancingScheme: "INTERNAL",
				Protocol: "TCP", SessionAffinity: "CLIENT_IP", HealthChecks: []string{"global/healthChecks/k8s-cluster-node"},
				Backends:           []*gce.Backend{{Group: "zones/" + zoneA + "/instanceGroups/k8s-ig--cluster"}, {Group: igB}},
				ConnectionDraining: &gce.ConnectionDraining{DrainingTimeoutSec: 10}}
			if err := e.insertBS(t, client, in); err != nil {
				t.Fatalf("insert: %v", err)
			}
			got, err := e.getBS(t, client, name)
			if err != nil {
				t.Fatal(err)
			}
			want := &gce.BackendService{Kind: "compute#backendService", Name: name, Description: in.Description, LoadBalancingScheme: "INTERNAL",
				Protocol: "TCP", SessionAffinity: "CLIENT_IP", HealthChecks: []string{hcLink}, TimeoutSec: 30,
				Backends:           []*gce.Backend{{Group: igA, BalancingMode: "CONNECTION"}, {Group: igB, BalancingMode: "CONNECTION"}},
				ConnectionDraining: &gce.ConnectionDraining{DrainingTimeoutSec: 10}, Region: regionLink,
				SelfLink: regionalLink("backendServices", name), Fingerprint: got.Fingerprint}
			if diff := cmp.Diff(want, got, cmpRoute); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}
			if !slices.Contains(e.listBSs(t, client), name) {
				t.Error("not listed")
			}

			// getHealth: RUNNING members are HEALTHY.
			h, err := e.bsHealth(t, client, name, igA)
			if err != nil {
				t.Fatalf("getHealth: %v", err)
			}
			var states []string
			for _, st := range h.HealthStatus {
				states = append(states, lastSegment(st.Instance)+"="+st.HealthState)
			}
			if !cmp.Equal(states, []string{"a-1=HEALTHY", "a-2=UNHEALTHY"}) || h.HealthStatus[0].IpAddress == "" {
				t.Errorf("getHealth = %v (%+v)", states, h.HealthStatus)
			}

			// An update needs the current fingerprint, a patch a current one or none.
			stale := got.Fingerprint
			if err := e.modifyBS(t, client, name, true, &gce.BackendService{SessionAffinity: "NONE", Fingerprint: stale}); err != nil {
				t.Fatalf("patch: %v", err)
			}
			got, _ = e.getBS(t, client, name)
			if got.SessionAffinity != "NONE" || got.Protocol != "TCP" || len(got.Backends) != 2 || got.Fingerprint == stale {
				t.Errorf("after patch: %+v", got)
			}
			got.Backends = got.Backends[:1]
			if err := e.modifyBS(t, client, name, false, got); err != nil {
				t.Fatalf("update: %v", err)
			}
			if after, _ := e.getBS(t, client, name); len(after.Backends) != 1 || after.Backends[0].Group != igA {
				t.Errorf("after update: backends %+v", after.Backends)
			}

			for _, tc := range []struct {
				what string
				call func() error
				want apiErr
			}{
				{"patch with a stale fingerprint", func() error {
					return e.modifyBS(t, client, name, true, &gce.BackendService{SessionAffinity: "CLIENT_IP", Fingerprint: stale})
				}, apiErr{412, "conditionNotMet"}},
				{"update without fingerprint", func() error {
					bs, _ := e.getBS(t, client, name)
					bs.Fingerprint = ""
					return e.modifyBS(t, client, name, false, bs)
				}, apiErr{412, "conditionNotMet"}},
				{"patch without fingerprint", func() error {
					return e.modifyBS(t, client, name, true, &gce.BackendService{SessionAffinity: "CLIENT_IP"})
				}, apiErr{}},
				{"insert again", func() error { return e.insertBS(t, client, in) }, apiErr{409, "alreadyExists"}},
				{"missing health check", func() error {
					return e.insertBS(t, client, &gce.BackendService{Name: "x-" + name, LoadBalancingScheme: "INTERNAL", Protocol: "TCP",
						HealthChecks: []string{globalLink("healthChecks", "nope")}})
				}, apiErr{404, "notFound"}},
				{"legacy health check", func() error {
					return e.insertBS(t, client, &gce.BackendService{Name: "x-" + name, LoadBalancingScheme: "INTERNAL", Protocol: "TCP",
						HealthChecks: []string{globalLink("httpHealthChecks", "k8s-cluster-node")}})
				}, apiErr{400, "invalid"}},
				{"no health check", func() error {
					return e.insertBS(t, client, &gce.BackendService{Name: "x-" + name, LoadBalancingScheme: "INTERNAL", Protocol: "TCP"})
				}, apiErr{400, "invalid"}},
				{"missing group", func() error {
					return e.insertBS(t, client, &gce.BackendService{Name: "x-" + name, LoadBalancingScheme: "INTERNAL", Protocol: "TCP",
						HealthChecks: []string{hcLink}, Backends: []*gce.Backend{{Group: igLink(zoneA, "nope")}}})
				}, apiErr{404, "notFound"}},
				{"duplicate group", func() error {
					return e.insertBS(t, client, &gce.BackendService{Name: "x-" + name, LoadBalancingScheme: "INTERNAL", Protocol: "TCP",
						HealthChecks: []string{hcLink}, Backends: []*gce.Backend{{Group: igA}, {Group: igA}}})
				}, apiErr{400, "invalid"}},
				{"HTTP protocol", func() error {
					return e.insertBS(t, client, &gce.BackendService{Name: "x-" + name, LoadBalancingScheme: "INTERNAL", HealthChecks: []string{hcLink}})
				}, apiErr{400, "invalid"}},
				{"UTILIZATION balancing", func() error {
					return e.insertBS(t, client, &gce.BackendService{Name: "x-" + name, LoadBalancingScheme: "INTERNAL", Protocol: "UDP",
						HealthChecks: []string{hcLink}, Backends: []*gce.Backend{{Group: igA, BalancingMode: "UTILIZATION"}}})
				}, apiErr{400, "invalid"}},
				{"getHealth of a group that is not a backend", func() error { _, err := e.bsHealth(t, client, name, igB); return err }, apiErr{400, "invalid"}},
				{"delete the health check it uses", func() error { return e.deleteHC(client, "", "k8s-cluster-node") }, apiErr{400, "resourceInUseByAnotherResource"}},
				{"delete the group it uses", func() error { return e.deleteIG(client, zoneA, "k8s-ig--cluster") }, apiErr{400, "resourceInUseByAnotherResource"}},
			} {
				if got := errOf(t, client, tc.call()); got != tc.want {
					t.Errorf("%s = %v, want %v", tc.what, got, tc.want)
				}
			}
			if slices.Contains(e.listBSs(t, client), "x-"+name) {
				t.Error("a refused insert left a backend service")
			}
			if err := e.deleteBS(client, name); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := e.getBS(t, client, name); errOf(t, client, err) != (apiErr{404, "notFound"}) {
				t.Errorf("get after delete = %v", err)
			}
		})
	}
	// With no backend service left, the group and the health check go.
	if err := e.deleteIG("apiv1", zoneA, "k8s-ig--cluster"); err != nil {
		t.Errorf("delete the group no longer used: %v", err)
	}
	if err := e.deleteHC("compute/v1", "", "k8s-cluster-node"); err != nil {
		t.Errorf("delete the health check no longer used: %v", err)
	}
}
