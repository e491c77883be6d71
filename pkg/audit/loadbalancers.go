package audit

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
)

// A load balancer's own resources, grouped by its name: the external
// network load balancer's (address, forwarding rules, target pools, the
// Local-traffic HTTP health check and its firewall, the deny firewall) and
// the internal one's (INTERNAL rule and address, backend service, health
// check and its firewall), and the client firewall k8s-fw-<lb> both have.

// lbNameRE matches a load balancer name: "a" and the first 31 hex digits
// of the Service's UID.
var lbNameRE = regexp.MustCompile(`^a[0-9a-f]{31}$`)

// side is which kind of load balancer a resource belongs to.
type side int

const (
	sideBoth side = iota
	sideExternal
	sideInternal
)

// member is one resource with a load balancer's name.
type member struct {
	kind Kind
	name string
	desc string
	side side
	fr   *computepb.ForwardingRule
	tp   *computepb.TargetPool
	fw   *computepb.Firewall
	addr *computepb.Address
	bs   *computepb.BackendService
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
	case KindAddress, KindHTTPHealthCheck, KindBackendService, KindHealthCheck:
		candidates = []string{name}
	case KindForwardingRule:
		candidates = []string{name, strings.TrimSuffix(name, "-tcp"), strings.TrimSuffix(name, "-udp")}
	case KindTargetPool:
		candidates = []string{name, strings.TrimSuffix(name, "-alt")}
	case KindFirewall:
		rest := strings.TrimPrefix(name, "k8s-fw-")
		candidates = []string{rest, strings.TrimSuffix(rest, "-deny"), strings.TrimSuffix(strings.TrimPrefix(name, "k8s-"), "-http-hc"),
			strings.TrimSuffix(name, "-hc")}
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
		case KindHealthCheck:
			names = []string{n.InternalHealthCheck}
		case KindBackendService:
			names = []string{n.BackendService}
		case KindForwardingRule:
			names = n.ForwardingRules
		case KindTargetPool:
			names = n.TargetPools
		case KindFirewall:
			names = []string{n.Firewall, n.DenyFirewall, n.LocalHealthCheckFirewall, n.InternalHealthCheckFirewall}
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
		if m.kind == KindFirewall {
			switch m.name {
			case loadbalancer.NamesOf(lb).Firewall:
				m.side = sideBoth
			case loadbalancer.NamesOf(lb).InternalHealthCheckFirewall:
				m.side = sideInternal
			default:
				m.side = sideExternal
			}
		}
		g.members = append(g.members, m)
	}
	inv := c.inv
	for _, a := range inv.Addresses {
		s := sideExternal
		if a.GetAddressType() == "INTERNAL" {
			s = sideInternal
		}
		add(&member{kind: KindAddress, name: a.GetName(), desc: a.GetDescription(), addr: a, side: s})
	}
	for _, fr := range inv.ForwardingRules {
		s := sideExternal
		if loadbalancer.InternalRule(fr) {
			s = sideInternal
		}
		add(&member{kind: KindForwardingRule, name: fr.GetName(), desc: fr.GetDescription(), fr: fr, side: s})
	}
	for _, tp := range inv.TargetPools {
		add(&member{kind: KindTargetPool, name: tp.GetName(), desc: tp.GetDescription(), tp: tp, side: sideExternal})
	}
	for _, fw := range inv.Firewalls {
		add(&member{kind: KindFirewall, name: fw.GetName(), desc: fw.GetDescription(), fw: fw})
	}
	for _, hc := range inv.HealthChecks {
		add(&member{kind: KindHTTPHealthCheck, name: hc.Name, desc: hc.Description, side: sideExternal})
	}
	for _, bs := range inv.BackendServices {
		add(&member{kind: KindBackendService, name: bs.GetName(), desc: bs.GetDescription(), bs: bs, side: sideInternal})
	}
	for _, hc := range inv.InternalChecks {
		add(&member{kind: KindHealthCheck, name: hc.GetName(), desc: hc.GetDescription(), side: sideInternal})
	}
}

// owned is the controllers' ownership check of a member for Service key.
func owned(m *member, lbName, key string) bool {
	switch {
	case m.kind == KindHTTPHealthCheck:
		return loadbalancer.OwnedLocalHealthCheck(m.desc, lbName, key)
	case m.kind == KindFirewall && m.name == loadbalancer.NamesOf(lbName).InternalHealthCheckFirewall:
		return loadbalancer.OwnedInternalHealthCheckFirewall(m.desc)
	case m.kind == KindHealthCheck:
		return key != "" && loadbalancer.OwnedInternalHealthCheck(m.desc, key, false)
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

// verdict records what was decided about a member, for the shared
// resources its users decide about.
func (c *classifier) verdict(m *member, st Status) {
	switch {
	case m.tp != nil:
		c.poolStatus[m.name] = st
	case m.bs != nil:
		c.bsStatus[m.name] = st
	case m.fr != nil:
		c.ruleStatus[m.name] = st
	}
}

func (c *classifier) loadBalancer(g *group) {
	skip := func(m *member, reason string) {
		c.add(Finding{Status: Skipped, Kind: m.kind, Name: m.name, Reason: reason})
		c.verdict(m, Skipped)
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
	leak := func(ms []*member, reason string) {
		for _, m := range ms {
			c.add(Finding{Status: Leaked, Kind: m.kind, Name: m.name, Owner: owner, Reason: reason})
			c.verdict(m, Leaked)
		}
		c.userAddresses(g, ms)
	}
	if svc != nil {
		switch ok, why := loadbalancer.Builds(svc); {
		case svc.Spec.Type != v1.ServiceTypeLoadBalancer:
			leak(ours, fmt.Sprintf("Service %s is type %s, not LoadBalancer", key, svc.Spec.Type))
		case svc.DeletionTimestamp != nil:
			leak(ours, fmt.Sprintf("Service %s is being deleted", key))
		case !ok:
			for _, m := range ours {
				skip(m, fmt.Sprintf("Service %s %s", key, why))
			}
		case loadbalancer.WantsInternal(svc):
			leak(onSide(ours, sideExternal), fmt.Sprintf("Service %s asks for an internal load balancer: its external one must go", key))
		default:
			leak(onSide(ours, sideInternal), fmt.Sprintf("Service %s asks for an external load balancer: its internal one must go", key))
		}
		// What is left, the Service accounts for.
		return
	}
	proof, against := c.evidence(ours)
	gone := c.goneReason(key, g.lbName)
	if proof == "" || against != "" {
		why := "nothing of it serves this cluster's node VMs or uses its shared health check or instance groups, and no firewall of it targets only this cluster's node tags"
		if against != "" {
			why = against
		}
		for _, m := range ours {
			skip(m, fmt.Sprintf("%s, but it is not provably this cluster's: %s", gone, why))
		}
		return
	}
	leak(ours, gone+"; it is this cluster's: "+proof)
}

// onSide returns the members of one kind of load balancer only.
func onSide(ms []*member, s side) []*member {
	var out []*member
	for _, m := range ms {
		if m.side == s {
			out = append(out, m)
		}
	}
	return out
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
	id := c.inv.ClusterID
	var pro, con []string
	// A shared resource of the cluster's (health check, instance group,
	// backend service), or of another cluster id's.
	check := func(m *member, link, what string, idOf func(string) (string, bool)) {
		other, ok := idOf(lastSegment(link))
		switch {
		case ok && id != "" && other == id:
			pro = append(pro, fmt.Sprintf("%s %s uses this cluster's %s %s", kindWords[m.kind], m.name, what, lastSegment(link)))
		case ok:
			con = append(con, fmt.Sprintf("%s %s uses %s %s of cluster id %s", kindWords[m.kind], m.name, what, lastSegment(link), other))
		}
	}
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
				check(m, hc, "health check", nodesHealthCheckID)
			}
		case m.bs != nil:
			for _, b := range m.bs.GetBackends() {
				check(m, b.GetGroup(), "instance group", instanceGroupID)
			}
			for _, hc := range m.bs.GetHealthChecks() {
				check(m, hc, "health check", nodesHealthCheckID)
			}
		case m.fr != nil && m.fr.GetBackendService() != "":
			check(m, m.fr.GetBackendService(), "shared backend service", sharedBackendServiceID)
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
	return strings.Join(slices.Compact(pro), "; "), strings.Join(slices.Compact(con), "; ")
}

var kindWords = map[Kind]string{
	KindTargetPool: "target pool", KindBackendService: "backend service", KindForwardingRule: "forwarding rule",
}

// userAddresses reports the addresses that hold the IPs of a leaked load
// balancer's rules but are not its own: a user reserved them, and they are
// never released.
func (c *classifier) userAddresses(g *group, leaked []*member) {
	for _, m := range leaked {
		if m.fr == nil || m.fr.GetIPAddress() == "" {
			continue
		}
		for _, a := range c.inv.Addresses {
			if a.GetAddress() == m.fr.GetIPAddress() && a.GetName() != loadbalancer.NamesOf(g.lbName).Address && !c.userAddrs[a.GetName()] {
				c.userAddrs[a.GetName()] = true
				c.add(Finding{Status: Skipped, Kind: KindAddress, Name: a.GetName(),
					Reason: fmt.Sprintf("holds IP %s of leaked forwarding rule %s, but it is a user's reserved address (not load balancer %s's own): never released",
						a.GetAddress(), m.name, g.lbName)})
			}
		}
	}
}
