package audit

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/gce-ccm/gce-ccm/pkg/routes"
	v1 "k8s.io/api/core/v1"
)

// Routes.

// nodeUIDRE matches what follows the cluster's prefix in a route name: a
// node UID (an IPv4 CIDR's route), or the UID without dashes and "-v6".
var nodeUIDRE = regexp.MustCompile(`^(?:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|([0-9a-f]{32})-v6)$`)

func (c *classifier) routes() {
	inv := c.inv
	prefix := routes.NamePrefix(inv.ClusterName)
	for _, r := range inv.Routes {
		if !strings.HasPrefix(r.GetName(), prefix) {
			continue // another cluster's name: not ours, and no lookalike
		}
		f := Finding{Kind: KindRoute, Name: r.GetName()}
		if !routes.Owned(r, inv.ClusterName, inv.NetworkURL) {
			f.Status = Skipped
			if r.GetDescription() != routes.Description {
				f.Reason = fmt.Sprintf("its name begins with the cluster's prefix %q but it is not a pod route (description %q)", prefix, r.GetDescription())
			} else {
				f.Reason = fmt.Sprintf("a pod route of network %s, not of the cluster's network %s", lastSegment(r.GetNetwork()), lastSegment(inv.NetworkURL))
			}
			c.add(f)
			continue
		}
		m := nodeUIDRE.FindStringSubmatch(r.GetName()[len(prefix):])
		if m == nil {
			f.Status = Skipped
			f.Reason = fmt.Sprintf("what follows the cluster's prefix %q is no node UID: the route of a cluster whose name begins the same way?", prefix)
			c.add(f)
			continue
		}
		if c.routeAccounted(r) {
			continue
		}
		uid := strings.ReplaceAll(m[1]+m[2], "-", "")
		f.Status = Leaked
		f.Owner = "node UID " + m[1] + m[2]
		vm := lastSegment(r.GetNextHopInstance())
		n := c.nodeByUID[uid]
		switch {
		case n == nil && vm == "":
			f.Reason = "node gone: no Node has the UID in its name, and the route has no next-hop VM"
		case n == nil:
			f.Reason = fmt.Sprintf("node gone: no Node has the UID in its name (next hop: VM %s, which no Node runs on)", vm)
			if other := c.nodeOfVM(r.GetNextHopInstance()); other != nil {
				f.Reason = fmt.Sprintf("node gone: no Node has the UID in its name; node %s now runs on VM %s and does not have pod CIDR %s", other.Name, vm, r.GetDestRange())
			}
		case !hasCIDR(n, r.GetDestRange()):
			f.Owner = "node " + n.Name
			f.Reason = fmt.Sprintf("node %s no longer has pod CIDR %s (it has %v)", n.Name, r.GetDestRange(), n.Spec.PodCIDRs)
		default:
			f.Owner = "node " + n.Name
			f.Reason = fmt.Sprintf("next hop is VM %s, not node %s's VM", vm, n.Name)
		}
		c.add(f)
	}
}

// routeAccounted is the route controller's pairing: some node has the
// route's range among its pod CIDRs and runs on the next-hop VM.
func (c *classifier) routeAccounted(r *computepb.Route) bool {
	n := c.nodeOfVM(r.GetNextHopInstance())
	return n != nil && hasCIDR(n, r.GetDestRange())
}

func hasCIDR(n *v1.Node, cidr string) bool {
	want, err := netip.ParsePrefix(cidr)
	if err != nil {
		return false
	}
	for _, s := range append([]string{n.Spec.PodCIDR}, n.Spec.PodCIDRs...) {
		if p, err := netip.ParsePrefix(s); err == nil && p.Masked() == want.Masked() {
			return true
		}
	}
	return false
}

func (c *classifier) missingRoutes() {
	inv := c.inv
	byCIDR := map[string][]*computepb.Route{}
	for _, r := range inv.Routes {
		if routes.Owned(r, inv.ClusterName, inv.NetworkURL) {
			if p, err := netip.ParsePrefix(r.GetDestRange()); err == nil {
				byCIDR[p.Masked().String()] = append(byCIDR[p.Masked().String()], r)
			}
		}
	}
	vms := map[string]*computepb.Instance{}
	for _, inst := range inv.Instances {
		vms[pathOf(inst.GetSelfLink())] = inst
	}
	for _, n := range inv.Nodes {
		vm, ok := vmPath(n.Spec.ProviderID)
		if !ok {
			continue // not initialised yet: the route controller waits for it too
		}
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, s := range cidrs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				continue
			}
			found := false
			for _, r := range byCIDR[p.Masked().String()] {
				found = found || pathOf(r.GetNextHopInstance()) == vm
			}
			if found {
				continue
			}
			reason := fmt.Sprintf("node %s has pod CIDR %s and no route to its VM %s", n.Name, p.Masked(), lastSegment(vm))
			if inst := vms[vm]; inst != nil && !inst.GetCanIpForward() {
				reason += " (the VM has canIpForward=false: GCE would drop the traffic, so no route is made)"
			}
			c.add(Finding{Status: Missing, Kind: KindRoute, Name: routes.RouteName(inv.ClusterName, string(n.UID), p.Masked()),
				Owner: "node " + n.Name, Reason: reason})
		}
	}
}
