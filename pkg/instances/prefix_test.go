package instances_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/gce/gcetest"
	"github.com/gce-ccm/gce-ccm/pkg/instances"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestNodeInstancePrefix checks node-instance-prefix as the long-standing
// GCE provider applies it: a name filter "<prefix>.*" on the instance lists
// (its getFoundInstanceByNames and computeHostTags), so VMs without the
// prefix are not listed, while a node whose VM lacks the prefix is still
// found by name (the provider drops the filter for such a name, and its
// single-VM lookups never filter). A node is never declared gone, and then
// deleted, because of its name.
func TestNodeInstancePrefix(t *testing.T) {
	t.Parallel()
	srv := gcetest.StartFake(t, fakecompute.Config{},
		fakecompute.InstanceSeed{Name: "k8s-node-1", Zone: "us-central1-a"},
		fakecompute.InstanceSeed{Name: "k8s-node-2", Zone: "us-central1-b"},
		fakecompute.InstanceSeed{Name: "build-server", Zone: "us-central1-a"},
		fakecompute.InstanceSeed{Name: "k8s-master", Zone: "us-central1-b"},
	)
	cloud := gcetest.NewCloud(t, srv, gce.Config{ProjectID: "fake-project", NetworkName: "default", LocalZone: "us-central1-a",
		Multizone: true, NodeInstancePrefix: "k8s-node"})
	ctx := context.Background()

	list, err := cloud.ListInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, vm := range list {
		names = append(names, vm.GetName())
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"k8s-node-1", "k8s-node-2"}, names); diff != "" {
		t.Errorf("ListInstances with node-instance-prefix k8s-node (-want +got):\n%s", diff)
	}

	c := cloud.Config()
	in := instances.New(cloud, instances.Options{Project: c.ProjectID, Zones: c.Zones, CacheTTL: time.Minute, IsNotFound: gce.IsNotFound})
	for _, tc := range []struct {
		node, providerID string
		wantGets         int
	}{
		{"k8s-node-1", "", 0}, // from the filtered list
		{"k8s-node-2", "gce://fake-project/us-central1-b/k8s-node-2", 0}, // from the filtered list
		{"k8s-master", "gce://fake-project/us-central1-b/k8s-master", 1}, // not listed: one GET
		{"build-server", "", 1}, // not listed, no provider ID: a GET per zone until found
	} {
		t.Run(tc.node, func(t *testing.T) {
			srv.ResetCalls()
			ok, err := in.InstanceExists(ctx, node(tc.node, tc.providerID))
			if err != nil || !ok {
				t.Fatalf("InstanceExists = %v, %v; want true", ok, err)
			}
			if got := srv.Calls()["instances.get"]["ok"]; got != tc.wantGets {
				t.Errorf("instances.get calls = %d, want %d", got, tc.wantGets)
			}
		})
	}
}
