package routes_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8stypes "k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/gce/gcetest"
	"github.com/gce-ccm/gce-ccm/pkg/instances"
	"github.com/gce-ccm/gce-ccm/pkg/routes"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// nodeList is a NodeLister over a fixed list, or one that fails.
type nodeList struct {
	nodes []*v1.Node
	err   error
}

func (l nodeList) List(labels.Selector) ([]*v1.Node, error) { return l.nodes, l.err }

func k8sNode(name, providerID string) *v1.Node {
	return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.NodeSpec{ProviderID: providerID}}
}

// TestTargetNodeIsTheNodeName checks that ListRoutes names a route's target
// by the Node's name, which the route controller pairs routes with, also
// when the node is not named like its VM. A route listed under the VM's name
// instead is one the controller deletes as belonging to no node, and then
// creates again, on every reconcile.
func TestTargetNodeIsTheNodeName(t *testing.T) {
	t.Parallel()
	const fqdn = "vm-1.us-central1-a.c.fake-project.internal"
	nodes := []*v1.Node{
		k8sNode(fqdn, ""), // registered under the VM's FQDN, not initialised yet
		k8sNode("custom-name", "gce://fake-project/us-central1-a/vm-2"),
		k8sNode("vm-3", ""),
	}
	srv := gcetest.StartFake(t, fakecompute.Config{}, vm("vm-1", true), vm("vm-2", true), vm("vm-3", true), vm("vm-gone", true))
	cloud := gcetest.NewCloud(t, srv, gce.Config{ProjectID: "fake-project", NetworkName: "default", LocalZone: "us-central1-a"})
	cfg := cloud.Config()
	inst := instances.New(cloud, instances.Options{Project: "fake-project", Zones: cfg.Zones, CacheTTL: time.Minute, IsNotFound: gce.IsNotFound})
	ctx := context.Background()

	create := routes.NewWithOptions(cloud, routes.Options{Instances: inst, NetworkURL: cfg.NetworkURL()})
	for i, r := range []struct{ node, uid, cidr string }{
		{fqdn, "00000000-0000-4000-8000-000000000001", "10.244.1.0/24"},
		{"vm-2", "00000000-0000-4000-8000-000000000002", "10.244.2.0/24"}, // CreateRoute finds VMs by name
		{"vm-3", "00000000-0000-4000-8000-000000000003", "10.244.3.0/24"},
		{"vm-gone", "00000000-0000-4000-8000-000000000004", "10.244.4.0/24"}, // its node was deleted
	} {
		if err := create.CreateRoute(ctx, cluster, r.uid, route(r.node, r.cidr)); err != nil {
			t.Fatalf("route %d: %v", i, err)
		}
	}

	for _, tc := range []struct {
		name    string
		nodes   routes.NodeLister
		want    []string // TargetNode by CIDR order
		wantErr bool
	}{
		{name: "with nodes", nodes: nodeList{nodes: nodes}, want: []string{fqdn, "custom-name", "vm-3", "vm-gone"}},
		// Without a node lister: the VM's name, as the long-standing provider does.
		{name: "without nodes", want: []string{"vm-1", "vm-2", "vm-3", "vm-gone"}},
		{name: "lister fails", nodes: nodeList{err: errors.New("not synced")}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := routes.NewWithOptions(cloud, routes.Options{Instances: inst, NetworkURL: cfg.NetworkURL(), Nodes: tc.nodes})
			got, err := r.ListRoutes(ctx, cluster)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ListRoutes = %d routes, nil; want an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sort.Slice(got, func(i, j int) bool { return got[i].DestinationCIDR < got[j].DestinationCIDR })
			var targets []string
			for _, rt := range got {
				targets = append(targets, string(rt.TargetNode))
			}
			if diff := cmp.Diff(tc.want, targets); diff != "" {
				t.Errorf("TargetNode of each route (-want +got):\n%s", diff)
			}
		})
	}

	// A route listed under the FQDN node's name can be deleted, and then
	// is gone (the route controller deletes it when the node's CIDR changes).
	r := routes.NewWithOptions(cloud, routes.Options{Instances: inst, NetworkURL: cfg.NetworkURL(), Nodes: nodeList{nodes: nodes}})
	name := cluster + "-00000000-0000-4000-8000-000000000001"
	if err := r.DeleteRoute(ctx, cluster, &cloudprovider.Route{Name: name, TargetNode: k8stypes.NodeName(fqdn), DestinationCIDR: "10.244.1.0/24"}); err != nil {
		t.Fatal(err)
	}
	for _, gr := range srv.Dump().Routes {
		if gr.Name == name {
			t.Errorf("route %s of node %s was not deleted", name, fqdn)
		}
	}
}
