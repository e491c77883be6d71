package audit

import (
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
)

// Classify decides, from an inventory alone, which resources leaked, which
// are missing and which look like the cluster's but are left alone. It
// reports nothing about what a Node or Service accounts for.
func Classify(inv *Inventory) []Finding {
	c := newClassifier(inv)
	c.routes()
	c.loadBalancers()
	c.shared()
	c.missing()
	sortFindings(c.out)
	return c.out
}

type classifier struct {
	inv *Inventory
	out []Finding

	nodeByVM     map[string]*v1.Node // instance path from projects/ -> node, from provider IDs
	nodeByVMName map[string]*v1.Node // VM name -> node without a provider ID
	nodeByUID    map[string]*v1.Node // UID without dashes -> node
	svcByLB      map[string]*v1.Service
	svcByKey     map[string]*v1.Service

	// poolStatus, bsStatus and ruleStatus are the verdicts about target
	// pools, backend services and forwarding rules ("" when a Service
	// accounts for it), for the shared resources they use.
	poolStatus, bsStatus, ruleStatus map[string]Status
	// userAddrs are the users' addresses reported.
	userAddrs map[string]bool
	// groups are the load balancers found, by name.
	groups map[string]*group
	// ourTags are the node tags the firewalls target; foreignTags those of
	// listed VMs that are no node's.
	ourTags, foreignTags map[string]bool
}

func newClassifier(inv *Inventory) *classifier {
	c := &classifier{inv: inv, nodeByVM: map[string]*v1.Node{}, nodeByVMName: map[string]*v1.Node{}, nodeByUID: map[string]*v1.Node{},
		svcByLB: map[string]*v1.Service{}, svcByKey: map[string]*v1.Service{}, poolStatus: map[string]Status{}, bsStatus: map[string]Status{},
		ruleStatus: map[string]Status{}, userAddrs: map[string]bool{},
		ourTags: map[string]bool{}, foreignTags: map[string]bool{}}
	for _, n := range inv.Nodes {
		c.nodeByUID[strings.ReplaceAll(string(n.UID), "-", "")] = n
		if p, ok := vmPath(n.Spec.ProviderID); ok {
			c.nodeByVM[p] = n
		} else if n.Spec.ProviderID == "" {
			vm, _, _ := strings.Cut(n.Name, ".")
			c.nodeByVMName[vm] = n
		}
	}
	for _, s := range inv.Services {
		c.svcByLB[loadbalancer.Name(s)] = s
		c.svcByKey[loadbalancer.ServiceKey(s)] = s
	}
	for _, t := range inv.NodeTags {
		c.ourTags[t] = true
	}
	for _, inst := range inv.Instances {
		if c.nodeOfVM(inst.GetSelfLink()) == nil {
			for _, t := range inst.GetTags().GetItems() {
				c.foreignTags[t] = true
			}
			continue
		}
		if len(inv.NodeTags) == 0 {
			if t := loadbalancer.NodeTagOf(inst); t != "" {
				c.ourTags[t] = true
			}
		}
	}
	return c
}

func (c *classifier) add(f Finding) { c.out = append(c.out, f) }

// vmPath turns a provider ID gce://<project>/<zone>/<vm> into the path of
// the VM's URL from projects/ on.
func vmPath(providerID string) (string, bool) {
	rest, ok := strings.CutPrefix(providerID, "gce://")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", false
	}
	return "projects/" + parts[0] + "/zones/" + parts[1] + "/instances/" + parts[2], true
}

// pathOf is a resource URL's path from projects/ on.
func pathOf(link string) string {
	if i := strings.Index(link, "projects/"); i >= 0 {
		return link[i:]
	}
	return link
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// nodeOfVM is the node whose VM an instance URL names, nil when none.
func (c *classifier) nodeOfVM(link string) *v1.Node {
	if link == "" {
		return nil
	}
	if n := c.nodeByVM[pathOf(link)]; n != nil {
		return n
	}
	return c.nodeByVMName[lastSegment(link)]
}
