package audit

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
	"github.com/gce-ccm/gce-ccm/pkg/routes"
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

	// poolStatus is each target pool's verdict ("" when a Service accounts
	// for it), for the shared health check's users.
	poolStatus map[string]Status
	// groups are the load balancers found, by name.
	groups map[string]*group
	// ourTags are the node tags the firewalls target; foreignTags those of
	// listed VMs that are no node's.
	ourTags, foreignTags map[string]bool
}

func newClassifier(inv *Inventory) *classifier {
	c := &classifier{inv: inv, nodeByVM: map[string]*v1.Node{}, nodeByVMName: map[string]*v1.Node{}, nodeByUID: map[string]*v1.Node{},
		svcByLB: map[string]*v1.Service{}, svcByKey: map[string]*v1.Service{}, poolStatus: map[string]Status{},
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

// Load balancers.

// lbNameRE matches a load balancer name: "a" and the first 31 hex digits
// of the Service's UID.
var lbNameRE = regexp.MustCompile(`^a[0-9a-f]{31}$`)

// member is one resource with a load balancer's name.
type member struct {
	kind Kind
	name string
	desc string
	fr   *computepb.ForwardingRule
	tp   *computepb.TargetPool
	fw   *computepb.Firewall
	addr *computepb.Address
}

// group is a load balancer: the resources with its names.
type group struct {
	lbName  string
	members []*member
}

// lbNameOf returns the load balancer whose name a resource has.
func lbNameOf(kind Kind, name string) (string, bool) {
	var candidates []string
	switch kind {
	case KindAddress, KindHTTPHealthCheck:
		candidates = []string{name}
	case KindForwardingRule:
		candidates = []string{name, strings.TrimSuffix(name, "-tcp"), strings.TrimSuffix(name, "-udp")}
	case KindTargetPool:
		candidates = []string{name, strings.TrimSuffix(name, "-alt")}
	case KindFirewall:
		rest := strings.TrimPrefix(name, "k8s-fw-")
		candidates = []string{rest, strings.TrimSuffix(rest, "-deny"), strings.TrimSuffix(strings.TrimPrefix(name, "k8s-"), "-http-hc")}
	}
	for _, lb := range candidates {
		if !lbNameRE.MatchString(lb) {
			continue
		}
		n := loadbalancer.NamesOf(lb)
		var names []string
		switch kind {
		case KindAddress:
			names = []string{n.Address}
		case KindHTTPHealthCheck:
			names = []string{n.LocalHealthCheck}
		case KindForwardingRule:
			names = n.ForwardingRules
		case KindTargetPool:
			names = n.TargetPools
		case KindFirewall:
			names = []string{n.Firewall, n.DenyFirewall, n.LocalHealthCheckFirewall}
		}
		if slices.Contains(names, name) {
			return lb, true
		}
	}
	return "", false
}

func (c *classifier) collectGroups() {
	c.groups = map[string]*group{}
	add := func(m *member) {
		lb, ok := lbNameOf(m.kind, m.name)
		if !ok {
			return
		}
		g := c.groups[lb]
		if g == nil {
			g = &group{lbName: lb}
			c.groups[lb] = g
		}
		g.members = append(g.members, m)
	}
	inv := c.inv
	for _, a := range inv.Addresses {
		add(&member{kind: KindAddress, name: a.GetName(), desc: a.GetDescription(), addr: a})
	}
	for _, fr := range inv.ForwardingRules {
		add(&member{kind: KindForwardingRule, name: fr.GetName(), desc: fr.GetDescription(), fr: fr})
	}
	for _, tp := range inv.TargetPools {
		add(&member{kind: KindTargetPool, name: tp.GetName(), desc: tp.GetDescription(), tp: tp})
	}
	for _, fw := range inv.Firewalls {
		add(&member{kind: KindFirewall, name: fw.GetName(), desc: fw.GetDescription(), fw: fw})
	}
	for _, hc := range inv.HealthChecks {
		add(&member{kind: KindHTTPHealthCheck, name: hc.Name, desc: hc.Description})
	}
}

// owned is the controller's ownership check of a member for Service key.
func owned(m *member, lbName, key string) bool {
	if m.kind == KindHTTPHealthCheck {
		return loadbalancer.OwnedLocalHealthCheck(m.desc, lbName, key)
	}
	return key != "" && loadbalancer.OwnedByService(m.desc, key)
}

func (c *classifier) loadBalancers() {
	c.collectGroups()
	names := make([]string, 0, len(c.groups))
	for lb := range c.groups {
		names = append(names, lb)
	}
	slices.Sort(names)
	for _, lb := range names {
		c.loadBalancer(c.groups[lb])
	}
}

func (c *classifier) loadBalancer(g *group) {
	skip := func(m *member, reason string) {
		c.add(Finding{Status: Skipped, Kind: m.kind, Name: m.name, Reason: reason})
		if m.tp != nil {
			c.poolStatus[m.name] = Skipped
		}
	}
	svc := c.svcByLB[g.lbName]
	key := ""
	if svc != nil {
		key = loadbalancer.ServiceKey(svc)
	} else {
		keys := map[string]bool{}
		for _, m := range g.members {
			if k := loadbalancer.MarkedService(m.desc); k != "" && k != g.lbName {
				keys[k] = true
			}
		}
		if len(keys) > 1 {
			list := slices.Sorted(mapKeys(keys))
			for _, m := range g.members {
				skip(m, fmt.Sprintf("the resources of load balancer %s name different Services (%s): not provably one Service's", g.lbName, strings.Join(list, ", ")))
			}
			return
		}
		for k := range keys {
			key = k
		}
	}
	var ours []*member
	for _, m := range g.members {
		switch {
		case m.fr != nil && loadbalancer.ForeignRule(m.fr):
			skip(m, fmt.Sprintf("a forwarding rule of another kind of load balancer (scheme %s, backend service %q), which gce-ccm does not manage",
				m.fr.GetLoadBalancingScheme(), lastSegment(m.fr.GetBackendService())))
		case !owned(m, g.lbName, key):
			owner := "Service " + key
			if key == "" {
				owner = "a Service"
			}
			skip(m, fmt.Sprintf("named like load balancer %s but its description %q does not name %s: not gce-ccm's", g.lbName, m.desc, owner))
		default:
			ours = append(ours, m)
		}
	}
	if len(ours) == 0 {
		return
	}
	owner := "Service " + key
	if key == "" {
		owner = "load balancer " + g.lbName
	}
	leak := func(reason string) {
		for _, m := range ours {
			c.add(Finding{Status: Leaked, Kind: m.kind, Name: m.name, Owner: owner, Reason: reason})
			if m.tp != nil {
				c.poolStatus[m.name] = Leaked
			}
		}
		c.userAddresses(g, ours)
	}
	if svc != nil {
		switch ok, why := loadbalancer.Builds(svc); {
		case svc.Spec.Type != v1.ServiceTypeLoadBalancer:
			leak(fmt.Sprintf("Service %s is type %s, not LoadBalancer", key, svc.Spec.Type))
		case svc.DeletionTimestamp != nil:
			leak(fmt.Sprintf("Service %s is being deleted", key))
		case loadbalancer.WantsInternal(svc):
			leak(fmt.Sprintf("Service %s %s: its external load balancer must go", key, why))
		case !ok:
			for _, m := range ours {
				skip(m, fmt.Sprintf("Service %s %s", key, why))
			}
		}
		// A Service that gce-ccm balances accounts for all of it.
		return
	}
	proof, against := c.evidence(ours)
	gone := c.goneReason(key, g.lbName)
	if proof == "" || against != "" {
		why := "no target pool of it serves this cluster's node VMs or uses its shared health check, and no firewall of it targets only this cluster's node tags"
		if against != "" {
			why = against
		}
		for _, m := range ours {
			skip(m, fmt.Sprintf("%s, but it is not provably this cluster's: %s", gone, why))
		}
		return
	}
	leak(gone + "; it is this cluster's: " + proof)
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// goneReason says why no Service accounts for load balancer lbName.
func (c *classifier) goneReason(key, lbName string) string {
	if key == "" {
		return "no Service has load balancer " + lbName
	}
	if s := c.svcByKey[key]; s != nil {
		return fmt.Sprintf("Service %s has another load balancer, %s: this one is an earlier Service's of that name, or another cluster's", key, loadbalancer.Name(s))
	}
	return "no such Service " + key
}

// evidence returns what ties a load balancer whose Service is gone to this
// cluster, and what ties it to another one.
func (c *classifier) evidence(ms []*member) (proof, against string) {
	var hcURL string
	if c.inv.ClusterID != "" {
		hcURL = loadbalancer.HealthCheckURL(c.inv.Project, loadbalancer.NodesHealthCheckName(c.inv.ClusterID))
	}
	var pro, con []string
	for _, m := range ms {
		switch {
		case m.tp != nil:
			for _, inst := range m.tp.GetInstances() {
				if n := c.nodeOfVM(inst); n != nil {
					pro = append(pro, fmt.Sprintf("target pool %s serves node %s's VM", m.name, n.Name))
					break
				}
			}
			for _, hc := range m.tp.GetHealthChecks() {
				switch id, ok := nodesHealthCheckID(lastSegment(hc)); {
				case hcURL != "" && loadbalancer.SameResource(hc, hcURL):
					pro = append(pro, fmt.Sprintf("target pool %s uses this cluster's health check %s", m.name, lastSegment(hc)))
				case ok && id != c.inv.ClusterID:
					con = append(con, fmt.Sprintf("target pool %s uses health check %s of cluster id %s", m.name, lastSegment(hc), id))
				}
			}
		case m.fw != nil:
			tags := m.fw.GetTargetTags()
			only := len(tags) > 0
			for _, t := range tags {
				only = only && c.ourTags[t] && !c.foreignTags[t]
			}
			if only {
				pro = append(pro, fmt.Sprintf("firewall %s targets only this cluster's node tags %v", m.name, tags))
			}
		}
	}
	return strings.Join(pro, "; "), strings.Join(con, "; ")
}

// userAddresses reports the addresses that hold the IPs of a leaked load
// balancer's rules but are not its own: a user reserved them, and they are
// never released.
func (c *classifier) userAddresses(g *group, ours []*member) {
	for _, m := range ours {
		if m.fr == nil || m.fr.GetIPAddress() == "" {
			continue
		}
		for _, a := range c.inv.Addresses {
			if a.GetAddress() == m.fr.GetIPAddress() && a.GetName() != loadbalancer.NamesOf(g.lbName).Address {
				c.add(Finding{Status: Skipped, Kind: KindAddress, Name: a.GetName(),
					Reason: fmt.Sprintf("holds IP %s of leaked forwarding rule %s, but it is a user's reserved address (not load balancer %s's own): never released",
						a.GetAddress(), m.name, g.lbName)})
			}
		}
	}
}

// The shared node health check and its firewall.

var (
	nodesHCRE   = regexp.MustCompile(`^k8s-(.+)-node$`)
	nodesHCFWRE = regexp.MustCompile(`^k8s-(.+)-node-http-hc$`)
)

// nodesHealthCheckID returns the cluster id in a shared node health
// check's name.
func nodesHealthCheckID(name string) (string, bool) {
	m := nodesHCRE.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// needsNodesHealthCheck reports whether a Service that gce-ccm balances
// uses the shared node health check (externalTrafficPolicy Cluster).
func (c *classifier) needsNodesHealthCheck() string {
	for _, s := range c.inv.Services {
		if balanced(s) && s.Spec.ExternalTrafficPolicy != v1.ServiceExternalTrafficPolicyLocal {
			return loadbalancer.ServiceKey(s)
		}
	}
	return ""
}

// balanced reports whether gce-ccm builds a load balancer for the Service
// now.
func balanced(s *v1.Service) bool {
	ok, _ := loadbalancer.Builds(s)
	return ok && s.Spec.Type == v1.ServiceTypeLoadBalancer && s.DeletionTimestamp == nil
}

func (c *classifier) shared() {
	id := c.inv.ClusterID
	owner := "cluster " + id
	needed := c.needsNodesHealthCheck()
	hcLeaked, hcExists := false, false
	for _, hc := range c.inv.HealthChecks {
		other, ok := nodesHealthCheckID(hc.Name)
		if !ok {
			continue
		}
		f := Finding{Kind: KindHTTPHealthCheck, Name: hc.Name}
		switch {
		case id != "" && other == id && !loadbalancer.OwnedNodesHealthCheck(hc.Description, id):
			f.Status, f.Reason = Skipped, fmt.Sprintf("named like this cluster's shared node health check but its description %q does not name it: not gce-ccm's", hc.Description)
		case id != "" && other == id:
			hcExists = true
			var users, accounted []string
			for _, tp := range c.inv.TargetPools {
				for _, link := range tp.GetHealthChecks() {
					if lastSegment(link) == hc.Name && c.poolStatus[tp.GetName()] != Leaked {
						users = append(users, tp.GetName())
						if c.poolStatus[tp.GetName()] == "" {
							accounted = append(accounted, tp.GetName())
						}
					}
				}
			}
			switch {
			case len(accounted) > 0 || needed != "":
				continue // in use by the cluster's load balancers
			case len(users) > 0:
				f.Status, f.Owner = Skipped, owner
				f.Reason = fmt.Sprintf("this cluster's shared node health check, still used by target pool(s) %s", strings.Join(users, ", "))
			default:
				hcLeaked = true
				f.Status, f.Owner = Leaked, owner
				f.Reason = "this cluster's shared node health check, and no target pool uses it and no LoadBalancer Service with externalTrafficPolicy Cluster needs it"
			}
		case loadbalancer.OwnedNodesHealthCheck(hc.Description, other):
			f.Status, f.Owner = Skipped, "cluster "+other
			f.Reason = c.otherClusterReason(other)
		default:
			continue
		}
		c.add(f)
	}
	for _, fw := range c.inv.Firewalls {
		m := nodesHCFWRE.FindStringSubmatch(fw.GetName())
		if m == nil {
			continue
		}
		other := m[1]
		f := Finding{Kind: KindFirewall, Name: fw.GetName()}
		switch {
		case id != "" && other == id && !loadbalancer.OwnedNodesHealthCheckFirewall(fw.GetDescription(), id):
			f.Status, f.Reason = Skipped, fmt.Sprintf("named like this cluster's shared health check firewall but its description %q does not name cluster %s: not gce-ccm's", fw.GetDescription(), id)
		case id != "" && other == id:
			if needed != "" || (hcExists && !hcLeaked) {
				continue
			}
			f.Status, f.Owner = Leaked, owner
			f.Reason = "this cluster's shared health check firewall; the health check it serves is gone or leaked and no LoadBalancer Service with externalTrafficPolicy Cluster needs it"
		case loadbalancer.OwnedNodesHealthCheckFirewall(fw.GetDescription(), other):
			f.Status, f.Owner = Skipped, "cluster "+other
			f.Reason = c.otherClusterReason(other)
		default:
			continue
		}
		c.add(f)
	}
}

func (c *classifier) otherClusterReason(other string) string {
	if c.inv.ClusterID == "" {
		return fmt.Sprintf("shared by the load balancers of cluster id %s; this cluster's id is unknown (no ConfigMap kube-system/ingress-uid)", other)
	}
	return fmt.Sprintf("another cluster's: cluster id %s, this cluster's is %s", other, c.inv.ClusterID)
}

// Missing resources.

func (c *classifier) missing() {
	inv := c.inv
	if inv.CheckRoutes {
		c.missingRoutes()
	}
	have := map[Kind]map[string]*member{}
	for _, g := range c.groups {
		svc := c.svcByLB[g.lbName]
		if svc == nil {
			continue
		}
		for _, m := range g.members {
			if (m.fr == nil || !loadbalancer.ForeignRule(m.fr)) && owned(m, g.lbName, loadbalancer.ServiceKey(svc)) {
				if have[m.kind] == nil {
					have[m.kind] = map[string]*member{}
				}
				have[m.kind][m.name] = m
			}
		}
	}
	hcs := map[string]*gce.HTTPHealthCheck{}
	for _, hc := range inv.HealthChecks {
		hcs[hc.Name] = hc
	}
	fws := map[string]*computepb.Firewall{}
	for _, fw := range inv.Firewalls {
		fws[fw.GetName()] = fw
	}
	for _, s := range inv.Services {
		if !balanced(s) {
			continue
		}
		key := loadbalancer.ServiceKey(s)
		lb := loadbalancer.Name(s)
		names := loadbalancer.NamesOf(lb)
		owner := "Service " + key
		suffix := ""
		if cond := meta.FindStatusCondition(s.Status.Conditions, loadbalancer.ConditionSynced); cond != nil && cond.Status != "True" {
			suffix = fmt.Sprintf(" (LoadBalancerSynced=%s %s: %s)", cond.Status, cond.Reason, cond.Message)
		}
		miss := func(kind Kind, name, what string) {
			c.add(Finding{Status: Missing, Kind: kind, Name: name, Owner: owner, Reason: fmt.Sprintf("Service %s has no %s%s", key, what, suffix)})
		}
		var protos []v1.Protocol
		for _, p := range s.Spec.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = v1.ProtocolTCP
			}
			if (proto == v1.ProtocolTCP || proto == v1.ProtocolUDP) && !slices.Contains(protos, proto) {
				protos = append(protos, proto)
			}
		}
		slices.Sort(protos)
		for _, proto := range protos {
			found := false
			for _, name := range names.ForwardingRules {
				if m := have[KindForwardingRule][name]; m != nil && m.fr.GetIPProtocol() == string(proto) {
					found = true
				}
			}
			if !found {
				name := lb
				if have[KindForwardingRule][lb] != nil || len(protos) > 1 && proto != protos[0] {
					name = loadbalancer.ForwardingRuleNameFor(lb, proto)
				}
				miss(KindForwardingRule, name, "forwarding rule for "+string(proto))
			}
		}
		if have[KindTargetPool][names.TargetPools[0]] == nil && have[KindTargetPool][names.TargetPools[1]] == nil {
			miss(KindTargetPool, names.TargetPools[0], "target pool")
		}
		if have[KindFirewall][names.Firewall] == nil {
			miss(KindFirewall, names.Firewall, "firewall for its clients")
		}
		if s.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
			if have[KindHTTPHealthCheck][names.LocalHealthCheck] == nil {
				miss(KindHTTPHealthCheck, names.LocalHealthCheck, "health check (externalTrafficPolicy Local)")
			}
			if have[KindFirewall][names.LocalHealthCheckFirewall] == nil {
				miss(KindFirewall, names.LocalHealthCheckFirewall, "health check firewall (externalTrafficPolicy Local)")
			}
			continue
		}
		if inv.ClusterID == "" {
			continue
		}
		hcName, fwName := loadbalancer.NodesHealthCheckName(inv.ClusterID), loadbalancer.NodesHealthCheckFirewallName(inv.ClusterID)
		if hc := hcs[hcName]; hc == nil || !loadbalancer.OwnedNodesHealthCheck(hc.Description, inv.ClusterID) {
			miss(KindHTTPHealthCheck, hcName, "shared node health check")
		}
		if fw := fws[fwName]; fw == nil || !loadbalancer.OwnedNodesHealthCheckFirewall(fw.GetDescription(), inv.ClusterID) {
			miss(KindFirewall, fwName, "shared node health check firewall")
		}
	}
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
