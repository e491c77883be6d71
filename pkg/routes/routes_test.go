package routes_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	k8stypes "k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/gce/gcetest"
	"github.com/gce-ccm/gce-ccm/pkg/instances"
	"github.com/gce-ccm/gce-ccm/pkg/routes"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

const (
	cluster = "test-cluster"
	uidA    = "aaaaaaaa-0000-4000-8000-000000000001"
	netURL  = "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/default"
	instURL = "https://www.googleapis.com/compute/v1/projects/fake-project/zones/us-central1-a/instances/"
)

type env struct {
	routes *routes.Routes
	cloud  *gce.Cloud
	fake   *fakecompute.Server
}

func setup(t *testing.T, vms ...fakecompute.InstanceSeed) *env {
	t.Helper()
	srv := gcetest.StartFake(t, fakecompute.Config{}, vms...)
	cloud := gcetest.NewCloud(t, srv, gce.Config{ProjectID: "fake-project", NetworkName: "default", LocalZone: "us-central1-a"})
	cfg := cloud.Config()
	inst := instances.New(cloud, instances.Options{Project: "fake-project", Zones: cfg.Zones, CacheTTL: time.Minute, IsNotFound: gce.IsNotFound})
	return &env{routes: routes.New(cloud, inst, cfg.NetworkURL(), nil), cloud: cloud, fake: srv}
}

func vm(name string, forward bool) fakecompute.InstanceSeed {
	return fakecompute.InstanceSeed{Name: name, Zone: "us-central1-a", CanIPForward: forward}
}

func route(node, cidr string) *cloudprovider.Route {
	return &cloudprovider.Route{TargetNode: k8stypes.NodeName(node), DestinationCIDR: cidr}
}

func (e *env) insertRaw(t *testing.T, r *computepb.Route) {
	t.Helper()
	if err := e.cloud.InsertRoute(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func TestCreateAndList(t *testing.T) {
	t.Parallel()
	e := setup(t, vm("node-a", true), vm("node-b", true))
	ctx := context.Background()
	if err := e.routes.CreateRoute(ctx, cluster, uidA, route("node-a", "10.244.1.0/24")); err != nil {
		t.Fatal(err)
	}
	// Dual stack: a second CIDR of the same node gets its own route.
	if err := e.routes.CreateRoute(ctx, cluster, uidA, route("node-a", "fd00:10:244:1::/64")); err != nil {
		t.Fatal(err)
	}
	if err := e.routes.CreateRoute(ctx, cluster, "bbbbbbbb-0000-4000-8000-000000000002", route("node-b", "10.244.2.0/24")); err != nil {
		t.Fatal(err)
	}
	// Not ours: another cluster's prefix, another description, another network's route.
	other := "otherclstr-" + uidA
	e.insertRaw(t, &computepb.Route{Name: &other, Network: ptr(netURL), DestRange: ptr("10.9.0.0/24"),
		NextHopInstance: ptr(instURL + "node-a"), Description: ptr(routes.Description)})
	e.insertRaw(t, &computepb.Route{Name: ptr(cluster + "-manual"), Network: ptr(netURL), DestRange: ptr("10.9.1.0/24"),
		NextHopInstance: ptr(instURL + "node-a"), Description: ptr("made by hand")})

	got, err := e.routes.ListRoutes(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].DestinationCIDR < got[j].DestinationCIDR })
	want := []*cloudprovider.Route{
		{Name: cluster + "-" + uidA, TargetNode: "node-a", DestinationCIDR: "10.244.1.0/24"},
		{Name: cluster + "-bbbbbbbb-0000-4000-8000-000000000002", TargetNode: "node-b", DestinationCIDR: "10.244.2.0/24"},
		{Name: cluster + "-aaaaaaaa000040008000000000000001-v6", TargetNode: "node-a", DestinationCIDR: "fd00:10:244:1::/64"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListRoutes (-want +got):\n%s", diff)
	}
	if n := e.fake.Calls()["routes.list"]["ok"]; n != 1 {
		t.Errorf("routes.list calls = %d, want 1", n)
	}
}

func TestCreateIsIdempotentAndRepairs(t *testing.T) {
	t.Parallel()
	e := setup(t, vm("node-a", true), vm("node-b", true))
	ctx := context.Background()
	r := route("node-a", "10.244.1.0/24")
	if err := e.routes.CreateRoute(ctx, cluster, uidA, r); err != nil {
		t.Fatal(err)
	}
	e.fake.ResetCalls()
	if err := e.routes.CreateRoute(ctx, cluster, uidA, r); err != nil {
		t.Fatalf("second create of the same route: %v", err)
	}
	if n := e.fake.Calls()["routes.delete"]["ok"]; n != 0 {
		t.Errorf("an identical route was deleted %d times", n)
	}
	// The node's route now points at node-b: it is replaced.
	if err := e.routes.CreateRoute(ctx, cluster, uidA, route("node-b", "10.244.1.0/24")); err != nil {
		t.Fatal(err)
	}
	rs := e.fake.Dump().Routes
	if len(rs) != 1 || !strings.HasSuffix(rs[0].NextHopInstance, "/node-b") {
		t.Fatalf("routes after repair = %+v, want one to node-b", rs)
	}
}

func TestCreateRefusesVMWithoutIPForward(t *testing.T) {
	t.Parallel()
	e := setup(t, vm("no-forward", false))
	err := e.routes.CreateRoute(context.Background(), cluster, uidA, route("no-forward", "10.244.1.0/24"))
	if err == nil || !strings.Contains(err.Error(), "no-forward") || !strings.Contains(err.Error(), "canIpForward") {
		t.Fatalf("err = %v, want one naming the VM and canIpForward", err)
	}
	if n := len(e.fake.Dump().Routes); n != 0 {
		t.Errorf("%d routes created to a VM that cannot forward", n)
	}
}

func TestCreateQuotaErrorNamesQuota(t *testing.T) {
	t.Parallel()
	e := setup(t, vm("node-a", true))
	if err := e.fake.SetQuota(fakecompute.QuotaRoutes, 0); err != nil {
		t.Fatal(err)
	}
	err := e.routes.CreateRoute(context.Background(), cluster, uidA, route("node-a", "10.244.1.0/24"))
	if !gce.IsQuotaExceeded(err) || !strings.Contains(err.Error(), "quota STATIC_ROUTES_PER_NETWORK is exhausted (limit 0)") {
		t.Fatalf("err = %v, want a quota error naming STATIC_ROUTES_PER_NETWORK and its limit", err)
	}
}

func TestDeleteRoute(t *testing.T) {
	t.Parallel()
	e := setup(t, vm("node-a", true), vm("node-b", true))
	ctx := context.Background()
	if err := e.routes.CreateRoute(ctx, cluster, uidA, route("node-a", "10.244.1.0/24")); err != nil {
		t.Fatal(err)
	}
	name := cluster + "-" + uidA

	// A route replaced since it was listed is left alone.
	stale := &cloudprovider.Route{Name: name, TargetNode: "node-b", DestinationCIDR: "10.244.1.0/24"}
	if err := e.routes.DeleteRoute(ctx, cluster, stale); err != nil {
		t.Fatal(err)
	}
	if len(e.fake.Dump().Routes) != 1 {
		t.Fatal("a route that no longer matched the listed one was deleted")
	}

	// Not ours: refused, and left in place.
	foreign := cluster + "-foreign"
	e.insertRaw(t, &computepb.Route{Name: &foreign, Network: ptr(netURL), DestRange: ptr("10.9.0.0/24"),
		NextHopInstance: ptr(instURL + "node-a"), Description: ptr("someone else's")})
	if err := e.routes.DeleteRoute(ctx, cluster, &cloudprovider.Route{Name: foreign, TargetNode: "node-a", DestinationCIDR: "10.9.0.0/24"}); err == nil {
		t.Error("deleting a route that fails the ownership check is not an error")
	}

	if err := e.routes.DeleteRoute(ctx, cluster, &cloudprovider.Route{Name: name, TargetNode: "node-a", DestinationCIDR: "10.244.1.0/24"}); err != nil {
		t.Fatal(err)
	}
	// Already gone is success.
	if err := e.routes.DeleteRoute(ctx, cluster, &cloudprovider.Route{Name: name, TargetNode: "node-a", DestinationCIDR: "10.244.1.0/24"}); err != nil {
		t.Fatalf("deleting a missing route: %v", err)
	}
	rs := e.fake.Dump().Routes
	if len(rs) != 1 || rs[0].Name != foreign {
		t.Errorf("routes left = %v, want only %s", rs, foreign)
	}
}

func ptr[T any](v T) *T { return &v }
