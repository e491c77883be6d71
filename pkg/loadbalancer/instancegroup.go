package loadbalancer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// maxInstancesPerGroup is GCE's bound on the VMs of an unmanaged instance
// group. The long-standing provider keeps the first ones by name beyond it,
// and so does gce-ccm (an internal load balancer serves at most 250 VMs per
// zone anyway).
const maxInstancesPerGroup = 1000

// nodePoolSubnetLabel names the subnetwork of a GKE node pool's nodes.
const nodePoolSubnetLabel = "cloud.google.com/gke-node-pool-subnet"

// nodesOfSubnet leaves out the nodes labelled as being in another
// subnetwork than subnet, as the long-standing provider does for a cluster
// with several node subnetworks: an instance group holds VMs of one
// network interface's subnetwork. An empty label is the default's.
func nodesOfSubnet(nodes []*v1.Node, subnet string) []*v1.Node {
	if subnet == "" {
		return nodes
	}
	out := make([]*v1.Node, 0, len(nodes))
	for _, n := range nodes {
		if l := n.Labels[nodePoolSubnetLabel]; l == "" || l == subnet {
			out = append(out, n)
		}
	}
	return out
}

// hostsByZone groups instance URLs by zone, each list sorted and cut to
// maxInstancesPerGroup.
func hostsByZone(hosts []string) map[string][]string {
	out := map[string][]string{}
	for _, h := range hosts {
		z := gce.ZoneOfLink(h)
		out[z] = append(out[z], h)
	}
	for z, hs := range out {
		slices.SortFunc(hs, func(a, b string) int { return strings.Compare(lastSegment(a), lastSegment(b)) })
		if len(hs) > maxInstancesPerGroup {
			out[z] = hs[:maxInstancesPerGroup]
		}
	}
	return out
}

// instanceGroupsNeedUpdate returns, per zone, the members to add and to
// remove so that the groups hold want (the node VMs by zone). A group in a
// zone that has no nodes any more is emptied.
func instanceGroupsNeedUpdate(want, have map[string][]string) (add, remove map[string][]string) {
	add, remove = map[string][]string{}, map[string][]string{}
	for z, w := range want {
		if a, _ := membershipChanges(w, have[z]); len(a) > 0 {
			add[z] = a
		}
	}
	for z, h := range have {
		if _, r := membershipChanges(want[z], h); len(r) > 0 {
			remove[z] = r
		}
	}
	return add, remove
}

// ensureInstanceGroups makes the cluster's instance group exist in every
// zone with nodes and hold exactly the nodes' VMs of that zone, and returns
// the groups' URLs of those zones, sorted. The groups are shared with every
// internal load balancer of the cluster (and with GKE's ingress controller,
// which names them alike): Services synced together write them once.
func (b *Balancer) ensureInstanceGroups(ctx context.Context, clusterID string, hosts []string) ([]string, error) {
	want := hostsByZone(hosts)
	name := instanceGroupName(clusterID)
	key := "instanceGroups/" + name + "/" + strings.Join(hosts, ",")
	_, err := b.shared.do(ctx, key, func() (string, error) {
		b.ilb.groups.Lock()
		defer b.ilb.groups.Unlock()
		return "", b.syncInstanceGroups(ctx, name, want)
	})
	if err != nil {
		return nil, err
	}
	var links []string
	for _, z := range slices.Sorted(maps.Keys(want)) {
		links = append(links, instanceGroupURL(b.opts.Project, z, name))
	}
	return links, nil
}

// syncInstanceGroups reads the groups and their members and writes what
// differs: a group for each new zone, then the members in batches.
func (b *Balancer) syncInstanceGroups(ctx context.Context, name string, want map[string][]string) error {
	groups, err := b.api.ListInstanceGroups(ctx, `name eq "`+name+`"`)
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, ig := range groups {
		if ig.GetName() == name {
			exists[lastSegment(ig.GetZone())] = true
		}
	}
	have := map[string][]string{}
	var mu sync.Mutex
	var fns []func() error
	for z := range exists {
		fns = append(fns, func() error {
			members, err := b.api.ListInstanceGroupInstances(ctx, z, name)
			if gce.IsNotFound(err) {
				return nil
			}
			mu.Lock()
			have[z] = members
			mu.Unlock()
			return err
		})
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	add, remove := instanceGroupsNeedUpdate(want, have)
	fns = nil
	for z := range want {
		fns = append(fns, func() error {
			if !exists[z] {
				if err := b.createInstanceGroup(ctx, z, name); err != nil {
					return err
				}
			}
			return b.changeGroupMembers(ctx, z, name, add[z], remove[z])
		})
	}
	for z := range remove {
		if _, ok := want[z]; !ok {
			fns = append(fns, func() error { return b.changeGroupMembers(ctx, z, name, nil, remove[z]) })
		}
	}
	return parallel(fns...)
}

func (b *Balancer) createInstanceGroup(ctx context.Context, zone, name string) error {
	err := b.api.InsertInstanceGroup(ctx, zone, &computepb.InstanceGroup{Name: &name, Network: ptr(b.opts.NetworkURL)})
	if gce.IsAlreadyExists(err) {
		return nil // another controller's of the same name: shared
	}
	if err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Created instance group", "instanceGroup", name, "zone", zone)
	return nil
}

// changeGroupMembers adds and then removes instances in batches.
func (b *Balancer) changeGroupMembers(ctx context.Context, zone, name string, add, remove []string) error {
	logger := klog.FromContext(ctx).WithValues("instanceGroup", name, "zone", zone)
	for batch := range chunks(add, maxInstancesPerCall) {
		if err := b.api.AddInstancesToInstanceGroup(ctx, zone, name, batch); err != nil {
			return err
		}
		logger.V(2).Info("Added instances to instance group", "count", len(batch))
	}
	for batch := range chunks(remove, maxInstancesPerCall) {
		if err := b.api.RemoveInstancesFromInstanceGroup(ctx, zone, name, batch); err != nil && !gce.IsNotFound(err) {
			return err
		}
		logger.V(2).Info("Removed instances from instance group", "count", len(batch))
	}
	return nil
}

// deleteInstanceGroups deletes the cluster's instance groups that no
// backend service uses any more; GCE refuses to delete one in use (by
// another internal load balancer, or another controller's backend service),
// which is kept.
// The caller holds b.ilb.shared for writing.
func (b *Balancer) deleteInstanceGroups(ctx context.Context, clusterID string) error {
	b.ilb.groups.Lock()
	defer b.ilb.groups.Unlock()
	name := instanceGroupName(clusterID)
	groups, err := b.api.ListInstanceGroups(ctx, `name eq "`+name+`"`)
	if err != nil {
		return err
	}
	var fns []func() error
	for _, ig := range groups {
		if ig.GetName() != name {
			continue
		}
		zone := lastSegment(ig.GetZone())
		fns = append(fns, func() error {
			err := b.api.DeleteInstanceGroup(ctx, zone, name)
			switch {
			case gce.IsInUse(err):
				klog.FromContext(ctx).V(4).Info("Keeping instance group: a backend service uses it", "instanceGroup", name, "zone", zone)
				return nil
			case gce.IsNotFound(err):
				return nil
			case err != nil:
				return fmt.Errorf("delete instance group %s of zone %s: %w", name, zone, err)
			}
			klog.FromContext(ctx).V(2).Info("Deleted instance group: no backend service uses it", "instanceGroup", name, "zone", zone)
			return nil
		})
	}
	return parallel(fns...)
}
