package loadbalancer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/quote"
)

// hosts returns the instance URLs of the nodes that may receive traffic,
// sorted: a node labelled node.kubernetes.io/exclude-from-external-load-balancers
// is left out, as the upstream service controller does. A node whose VM
// cannot be used (gone, in another region, an unreadable provider ID) is
// left out too, with an event on the Service that names it, as the
// long-standing provider skips VMs it cannot find: one broken node must not
// stop every load balancer. Only no usable node at all is an error.
func (b *Balancer) hosts(ctx context.Context, svc *v1.Service, nodes []*v1.Node) ([]string, error) {
	out := make([]string, 0, len(nodes))
	var skipped []string
	var firstErr error
	candidates := 0
	for _, n := range nodes {
		if excluded(n) {
			continue
		}
		candidates++
		link, err := b.instanceLink(ctx, n)
		var unusable *unusableNode
		switch {
		case errors.As(err, &unusable):
			skipped = append(skipped, unusable.Error())
			firstErr = cmp.Or(firstErr, err)
			continue
		case err != nil:
			return nil, err
		}
		out = append(out, link)
	}
	if len(skipped) > 0 {
		slices.Sort(skipped)
		klog.FromContext(ctx).Info("Leaving nodes out of the load balancer", "count", len(skipped), "reasons", skipped)
		if svc != nil {
			b.event(svc, v1.EventTypeWarning, "NodesSkipped", "Left %d node(s) out of the load balancer: %s", len(skipped), strings.Join(skipped, "; "))
		}
	}
	if len(out) == 0 && candidates > 0 {
		return nil, fmt.Errorf("no node has a usable VM: %w", firstErr)
	}
	// Sort, then drop duplicates: a search per node made this quadratic,
	// seconds of CPU per Service at 5,000 nodes.
	slices.Sort(out)
	return slices.Compact(out), nil
}

// unusableNode is a node whose VM cannot be in the target pool.
type unusableNode struct {
	node, reason string
}

func (e *unusableNode) Error() string { return "node " + e.node + ": " + e.reason }

func excluded(n *v1.Node) bool {
	v, ok := n.Labels[v1.LabelNodeExcludeBalancers]
	if !ok {
		return false
	}
	exclude, err := strconv.ParseBool(v)
	return err != nil || exclude
}

// instanceLink is the URL of a node's VM, checked against the instances
// snapshot (no API call per node while the snapshot is fresh).
func (b *Balancer) instanceLink(ctx context.Context, n *v1.Node) (string, error) {
	if id := n.Spec.ProviderID; id != "" {
		rest, ok := strings.CutPrefix(id, "gce://")
		parts := strings.Split(rest, "/")
		if !ok || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return "", &unusableNode{n.Name, fmt.Sprintf("provider ID %s is not of the form gce://<project>/<zone>/<name>", quote.Value(id))}
		}
		if r := regionOfZone(parts[1]); r != b.opts.Region {
			return "", &unusableNode{n.Name, fmt.Sprintf("its VM is in zone %s, outside region %s (a target pool holds VMs of its own region only)", parts[1], b.opts.Region)}
		}
		if b.opts.Instances == nil {
			return instanceURL(parts[0], parts[1], parts[2]), nil
		}
	}
	if b.opts.Instances == nil {
		return "", fmt.Errorf("node %s has no provider ID and no instance lookup is configured", n.Name)
	}
	inst, err := b.opts.Instances.InstanceOfNode(ctx, n)
	if errors.Is(err, cloudprovider.InstanceNotFound) {
		return "", &unusableNode{n.Name, "its VM does not exist"}
	}
	if err != nil {
		return "", fmt.Errorf("find the VM of node %s: %w", n.Name, err)
	}
	if z := lastSegment(inst.GetZone()); z != "" && regionOfZone(z) != b.opts.Region {
		return "", &unusableNode{n.Name, fmt.Sprintf("its VM is in zone %s, outside region %s (a target pool holds VMs of its own region only)", z, b.opts.Region)}
	}
	return inst.GetSelfLink(), nil
}

// nodeTags returns the tags the firewalls target: gce.conf's node-tags, or
// for each node VM its longest tag that is a prefix of the VM's name. A VM
// without such a tag is an error rather than a firewall that opens the ports
// on every VM of the network.
func (b *Balancer) nodeTags(ctx context.Context, nodes []*v1.Node) ([]string, error) {
	if len(b.opts.NodeTags) > 0 {
		return sortedSet(b.opts.NodeTags), nil
	}
	if b.opts.Instances == nil {
		return nil, fmt.Errorf("gce.conf sets no node-tags and no instance lookup is configured to read them from the node VMs")
	}
	var tags []string
	for _, n := range nodes {
		if excluded(n) {
			continue
		}
		inst, err := b.opts.Instances.InstanceOfNode(ctx, n)
		if errors.Is(err, cloudprovider.InstanceNotFound) {
			continue // hosts reports it
		}
		if err != nil {
			return nil, fmt.Errorf("find the VM of node %s to read its network tags: %w", n.Name, err)
		}
		tag := ""
		for _, t := range inst.GetTags().GetItems() {
			if strings.HasPrefix(inst.GetName(), t) && len(t) > len(tag) {
				tag = t
			}
		}
		if tag == "" {
			return nil, fmt.Errorf("gce.conf sets no node-tags and VM %s (node %s) has no network tag that is a prefix of its name (tags %v); "+
				"set node-tags in gce.conf to the tags of the node VMs", inst.GetName(), n.Name, inst.GetTags().GetItems())
		}
		tags = append(tags, tag)
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("gce.conf sets no node-tags and there are no nodes to read network tags from")
	}
	return sortedSet(tags), nil
}

func regionOfZone(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return ""
}

func sortedSet(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
