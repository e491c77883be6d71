package instances_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/gce/gcetest"
	"github.com/gce-ccm/gce-ccm/pkg/instances"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

func setup(t *testing.T, ttl time.Duration) (*instances.Instances, *fakecompute.Server) {
	t.Helper()
	srv := gcetest.StartFake(t, fakecompute.Config{})
	cloud := gcetest.NewCloud(t, srv, gce.Config{ProjectID: "fake-project", NetworkName: "default", LocalZone: "us-central1-a", Multizone: true})
	c := cloud.Config()
	return instances.New(cloud, instances.Options{Project: c.ProjectID, Zones: c.Zones, CacheTTL: ttl, IsNotFound: gce.IsNotFound}), srv
}

func node(name, providerID string) *v1.Node {
	return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.NodeSpec{ProviderID: providerID}}
}

func TestInstanceMetadata(t *testing.T) {
	t.Parallel()
	in, srv := setup(t, time.Minute)
	if err := srv.AddInstance(fakecompute.InstanceSeed{Name: "vm-1", Zone: "us-central1-b", MachineType: "n2-standard-8",
		InternalIP: "10.128.0.50", ExternalIP: "198.18.0.50"}); err != nil {
		t.Fatal(err)
	}
	want := &cloudprovider.InstanceMetadata{
		ProviderID: "gce://fake-project/us-central1-b/vm-1", InstanceType: "n2-standard-8",
		Zone: "us-central1-b", Region: "us-central1",
		NodeAddresses: []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: "10.128.0.50"},
			{Type: v1.NodeExternalIP, Address: "198.18.0.50"},
			{Type: v1.NodeHostName, Address: "vm-1.us-central1-b.c.fake-project.internal"},
		},
	}
	for _, n := range []*v1.Node{
		node("vm-1", ""),
		node("vm-1.us-central1-b.c.fake-project.internal", ""),
		node("some-other-name", "gce://fake-project/us-central1-b/vm-1"),
	} {
		t.Run(n.Name, func(t *testing.T) {
			got, err := in.InstanceMetadata(context.Background(), n)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("InstanceMetadata (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExistsAndShutdown(t *testing.T) {
	t.Parallel()
	in, srv := setup(t, 0) // no caching: every call sees the fake's state
	ctx := context.Background()
	if err := srv.AddInstance(fakecompute.InstanceSeed{Name: "vm-1", Zone: "us-central1-a"}); err != nil {
		t.Fatal(err)
	}
	n := node("vm-1", "gce://fake-project/us-central1-a/vm-1")
	if ok, err := in.InstanceExists(ctx, n); err != nil || !ok {
		t.Fatalf("InstanceExists = %v, %v; want true", ok, err)
	}
	if down, err := in.InstanceShutdown(ctx, n); err != nil || down {
		t.Fatalf("InstanceShutdown(running) = %v, %v; want false", down, err)
	}
	if err := srv.SetInstanceStatus("", "us-central1-a", "vm-1", fakecompute.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	if down, err := in.InstanceShutdown(ctx, n); err != nil || !down {
		t.Fatalf("InstanceShutdown(terminated) = %v, %v; want true", down, err)
	}
	for _, gone := range []*v1.Node{node("nope", ""), node("x", "gce://fake-project/us-central1-c/nope")} {
		if ok, err := in.InstanceExists(ctx, gone); err != nil || ok {
			t.Errorf("InstanceExists(%s) = %v, %v; want false, nil", gone.Name, ok, err)
		}
	}
	if _, err := in.InstanceExists(ctx, node("bad", "aws:///i-123")); err == nil {
		t.Errorf("a foreign provider ID is not an error")
	}
	if _, err := in.InstanceExists(ctx, node("other", "gce://other-project/us-central1-a/vm-1")); err == nil {
		t.Errorf("a provider ID of another project is not an error")
	}
}

func TestLookupsAreBatched(t *testing.T) {
	t.Parallel()
	in, srv := setup(t, time.Minute)
	ctx := context.Background()
	const n = 60
	for i := range n {
		if err := srv.AddInstance(fakecompute.InstanceSeed{Name: fmt.Sprintf("vm-%d", i), Zone: "us-central1-a"}); err != nil {
			t.Fatal(err)
		}
	}
	srv.ResetCalls()
	for i := range n {
		nd := node(fmt.Sprintf("vm-%d", i), fmt.Sprintf("gce://fake-project/us-central1-a/vm-%d", i))
		if _, err := in.InstanceMetadata(ctx, nd); err != nil {
			t.Fatal(err)
		}
	}
	calls := srv.Calls()
	if got := calls["instances.aggregatedList"]["ok"]; got != 1 {
		t.Errorf("aggregatedList calls = %d, want 1", got)
	}
	if got := calls["instances.get"]["ok"]; got != 0 {
		t.Errorf("instances.get calls = %d, want 0", got)
	}

	// A VM newer than the snapshot is still found, with one GET.
	if err := srv.AddInstance(fakecompute.InstanceSeed{Name: "late", Zone: "us-central1-c"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := in.InstanceExists(ctx, node("late", "")); err != nil || !ok {
		t.Fatalf("InstanceExists(late) = %v, %v; want true", ok, err)
	}
}

func TestParseProviderID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id, project, zone, name string
		ok                      bool
	}{
		{"gce://p-1/us-central1-a/vm", "p-1", "us-central1-a", "vm", true},
		{"gce://p-1/us-central1-a/", "", "", "", false},
		{"gce://p-1/vm", "", "", "", false},
		{"aws:///us-east-1a/i-1", "", "", "", false},
		{"", "", "", "", false},
	} {
		p, z, n, err := instances.ParseProviderID(tc.id)
		if (err == nil) != tc.ok || p != tc.project || z != tc.zone || n != tc.name {
			t.Errorf("ParseProviderID(%q) = %q, %q, %q, %v", tc.id, p, z, n, err)
		}
		if tc.ok && instances.ProviderID(p, z, n) != tc.id {
			t.Errorf("ProviderID round trip of %q = %q", tc.id, instances.ProviderID(p, z, n))
		}
	}
}
