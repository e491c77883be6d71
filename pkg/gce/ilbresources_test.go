package gce

import (
	"context"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestInternalLoadBalancerResources drives every method internal load
// balancers use against the fake: instance groups and their members,
// health checks, backend services, subnetworks, an internal forwarding rule
// and its patch, and the in-use refusals of deletes, each mutation waited
// for.
func TestInternalLoadBalancerResources(t *testing.T) {
	t.Parallel()
	c, srv := newTestCloud(t, fakecompute.Config{Latency: 20 * time.Millisecond}, nil)
	ctx := context.Background()
	for _, n := range []string{"vm-1", "vm-2"} {
		if err := srv.AddInstance(fakecompute.InstanceSeed{Name: n, Zone: "us-central1-a", NoExternalIP: true}); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	vm := func(n string) string {
		return SelfLinkPrefix + "projects/fake-project/zones/us-central1-a/instances/" + n
	}

	must(c.InsertInstanceGroup(ctx, "us-central1-a", &computepb.InstanceGroup{Name: ptr("ig")}))
	must(c.AddInstancesToInstanceGroup(ctx, "us-central1-a", "ig", []string{vm("vm-1"), vm("vm-2")}))
	must(c.RemoveInstancesFromInstanceGroup(ctx, "us-central1-a", "ig", []string{vm("vm-2")}))
	members, err := c.ListInstanceGroupInstances(ctx, "us-central1-a", "ig")
	must(err)
	if len(members) != 1 || members[0] != vm("vm-1") {
		t.Errorf("members = %v, want vm-1", members)
	}
	groups, err := c.ListInstanceGroups(ctx, `name eq "ig"`)
	must(err)
	if len(groups) != 1 || groups[0].GetName() != "ig" {
		t.Fatalf("instance groups = %v", groups)
	}

	must(c.InsertHealthCheck(ctx, &computepb.HealthCheck{Name: ptr("hc"), Type: ptr("HTTP"),
		HttpHealthCheck: &computepb.HTTPHealthCheck{Port: ptr(int32(10256)), RequestPath: ptr("/healthz")}}))
	must(c.PatchHealthCheck(ctx, &computepb.HealthCheck{Name: ptr("hc"), CheckIntervalSec: ptr(int32(8))}))
	hc, err := c.GetHealthCheck(ctx, "hc")
	must(err)
	if hc.GetCheckIntervalSec() != 8 || hc.GetHttpHealthCheck().GetPort() != 10256 {
		t.Errorf("health check = %v", hc)
	}

	sn, err := c.GetSubnetwork(ctx, "default")
	must(err)
	subnets, err := c.ListSubnetworks(ctx, `network eq ".*/networks/default"`)
	must(err)
	if len(subnets) != 1 || subnets[0].GetSelfLink() != sn.GetSelfLink() {
		t.Errorf("subnetworks = %v, want %s", subnets, sn.GetSelfLink())
	}

	must(c.InsertRegionBackendService(ctx, &computepb.BackendService{Name: ptr("bs"), LoadBalancingScheme: ptr("INTERNAL"), Protocol: ptr("TCP"),
		HealthChecks: []string{hc.GetSelfLink()}, Backends: []*computepb.Backend{{Group: groups[0].SelfLink}}}))
	bs, err := c.GetRegionBackendService(ctx, "bs")
	must(err)
	must(c.PatchRegionBackendService(ctx, &computepb.BackendService{Name: ptr("bs"), SessionAffinity: ptr("CLIENT_IP"), Fingerprint: bs.Fingerprint}))
	if bss, err := c.ListRegionBackendServices(ctx, `name eq "bs"`); err != nil || len(bss) != 1 || bss[0].GetSessionAffinity() != "CLIENT_IP" {
		t.Errorf("backend services = %v, %v", bss, err)
	}

	must(c.InsertForwardingRule(ctx, &computepb.ForwardingRule{Name: ptr("fr"), LoadBalancingScheme: ptr("INTERNAL"), IPProtocol: ptr("TCP"),
		Ports: []string{"80"}, BackendService: bs.SelfLink, Subnetwork: sn.SelfLink}))
	fr, err := c.GetForwardingRule(ctx, "fr")
	must(err)
	must(c.PatchForwardingRule(ctx, &computepb.ForwardingRule{Name: ptr("fr"), AllowGlobalAccess: ptr(true), Fingerprint: fr.Fingerprint}))
	if fr, err = c.GetForwardingRule(ctx, "fr"); err != nil || !fr.GetAllowGlobalAccess() {
		t.Errorf("patched rule = %v, %v", fr, err)
	}

	// What is in use cannot go; once unused it can.
	for _, del := range []func() error{
		func() error { return c.DeleteRegionBackendService(ctx, "bs") },
		func() error { return c.DeleteHealthCheck(ctx, "hc") },
		func() error { return c.DeleteInstanceGroup(ctx, "us-central1-a", "ig") },
	} {
		if err := del(); !IsInUse(err) {
			t.Errorf("delete of a used resource = %v, want in use", err)
		}
	}
	must(c.DeleteForwardingRule(ctx, "fr"))
	must(c.DeleteRegionBackendService(ctx, "bs"))
	must(c.DeleteHealthCheck(ctx, "hc"))
	must(c.DeleteInstanceGroup(ctx, "us-central1-a", "ig"))
	for _, m := range []string{"instanceGroups.insert", "regionBackendServices.patch", "healthChecks.patch", "forwardingRules.patch"} {
		if !slices.Contains(keys(srv.Calls()), m) {
			t.Errorf("no %s call", m)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
