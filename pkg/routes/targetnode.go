package routes

import (
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// NodeLister lists the cluster's nodes.
type NodeLister interface {
	List(selector labels.Selector) ([]*v1.Node, error)
}

// The upstream route controller pairs a cloud route with a node by
// Route.TargetNode, which must be the Node's name: a route whose TargetNode
// names no node with that CIDR is deleted, and the node's route is created
// again, on every reconcile. The long-standing GCE provider sets TargetNode
// to the next-hop VM's name ("NodeName == Instance Name on GCE"), which holds
// only for nodes named like their VM; gce-ccm maps the VM back to the Node
// that runs on it, by the node's provider ID gce://<project>/<zone>/<vm>,
// else, for a node not yet initialised, by its name's first label (the VM
// name, as CreateRoute and pkg/instances find it), and falls back to the VM
// name for a VM no node claims (so a deleted node's route still goes).

// targetNames maps next-hop VMs to node names.
type targetNames struct {
	byVM   map[string]string // "zone/vm" -> node, from provider IDs
	byName map[string]string // vm -> node, from node names, for nodes without a provider ID
}

// nodeNames reads the nodes; with no lister every target is the VM's name.
func (r *Routes) nodeNames() (targetNames, error) {
	t := targetNames{byVM: map[string]string{}, byName: map[string]string{}}
	if r.nodes == nil {
		return t, nil
	}
	nodes, err := r.nodes.List(labels.Everything())
	if err != nil {
		return t, fmt.Errorf("list nodes to name the routes' targets: %w", err)
	}
	for _, n := range nodes {
		if zone, vm, ok := zoneAndVM(n.Spec.ProviderID); ok {
			t.byVM[zone+"/"+vm] = n.Name
			continue
		}
		if n.Spec.ProviderID == "" {
			vm, _, _ := strings.Cut(n.Name, ".")
			t.byName[vm] = n.Name
		}
	}
	return t, nil
}

// of returns the name of the node whose VM nextHop is.
func (t targetNames) of(nextHop string) types.NodeName {
	vm := lastSegment(nextHop)
	zone := zoneOf(nextHop)
	if n, ok := t.byVM[zone+"/"+vm]; ok {
		return types.NodeName(n)
	}
	if n, ok := t.byName[vm]; ok {
		return types.NodeName(n)
	}
	return types.NodeName(vm)
}

// pointsAt reports whether a route's next hop is node's VM, whether node was
// listed by its own name or by its VM's.
func (r *Routes) pointsAt(have *computepb.Route, node types.NodeName) bool {
	if lastSegment(have.GetNextHopInstance()) == string(node) {
		return true
	}
	t, err := r.nodeNames()
	return err == nil && t.of(have.GetNextHopInstance()) == node
}

// zoneAndVM parses a GCE provider ID, gce://<project>/<zone>/<vm>.
func zoneAndVM(providerID string) (zone, vm string, ok bool) {
	rest, ok := strings.CutPrefix(providerID, "gce://")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// zoneOf returns the zone of an instance URL, full or partial
// ([...]zones/<zone>/instances/<vm>).
func zoneOf(link string) string {
	_, rest, ok := strings.Cut("/"+link, "/zones/")
	if !ok {
		return ""
	}
	zone, _, _ := strings.Cut(rest, "/")
	return zone
}
