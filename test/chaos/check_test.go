package chaos

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// What "leak", "duplicate" and "converged" mean here, from the fake's dump
// and the live objects of kube-apiserver.
//
// This cluster's markers: a route named "<cluster-name>-..." with the
// description k8s-node-route; an address, forwarding rule, target pool,
// firewall, HTTP health check, health check (healthChecks API) or regional
// backend service whose name derives from a load balancer name (a + 31 hex
// characters: the name itself, -tcp, -udp, -alt, k8s-fw-<lb>,
// k8s-fw-<lb>-deny, k8s-<lb>-http-hc, <lb>-hc); the shared HTTP health
// check k8s-<cluster-id>-node and its firewall k8s-<cluster-id>-node-http-hc
// (external), the shared health check k8s-<cluster-id>-node and its
// firewall k8s-<cluster-id>-node-hc (internal); the instance groups
// k8s-ig--<cluster-id>.
//
// A leak is a resource with one of those markers that no live object
// accounts for: a route whose range and next hop are not a live Node's pod
// CIDR and VM, a load-balancer resource whose load balancer name is not that
// of a live LoadBalancer Service, a shared health check or its firewall
// while no live Service of its kind uses the Cluster traffic policy, an
// instance group while no live Service is internal.
//
// A duplicate is a second resource for one purpose: two of our routes for
// one destination range, two forwarding rules of one load balancer for one
// protocol, two target pools of one load balancer (<lb> and <lb>-alt), one
// IP held by forwarding rules of two load balancers.
//
// A live object is converged when GCE holds exactly what it asks for: for a
// Node, a route of ours for its pod CIDR to its VM; for an external
// LoadBalancer Service, one rule per protocol with the ports, all on the IP
// in its status, one target pool of every node's VM with its affinity and
// health check, the firewall with its ports and source ranges, the local
// health check and its firewall for the Local policy, no address left
// reserved unless two rules share the IP; for an internal one, one INTERNAL
// rule with its ports (all ports beyond 5) on the IP in its status using
// the backend service <lb>, which has its affinity, its health check (the
// shared one, or for the Local policy its own on the health check node
// port, each with its firewall) and the instance group of every zone with
// nodes as backends, each group holding exactly that zone's node VMs, the
// firewall, nothing of the external kind, no address but one holding the
// rule's IP; and for both the LoadBalancerSynced=True condition of its
// generation. A Service with bad input instead has LoadBalancerSynced=False
// (InvalidConfiguration) of its generation and nothing built. Nothing is
// left being deleted.

var lbNameRE = regexp.MustCompile(`^a[0-9a-f]{31}$`)

// state is what the checks found.
type state struct {
	leaks, duplicates, unconverged []string
	nodes, services                int
}

func (s state) ok() bool { return len(s.leaks)+len(s.duplicates)+len(s.unconverged) == 0 }

func (s state) String() string {
	first := func(l []string) string {
		if len(l) == 0 {
			return "none"
		}
		return strings.Join(l[:min(len(l), 5)], "; ")
	}
	return fmt.Sprintf("%d leaks (%s), %d duplicates (%s), %d not converged (%s)",
		len(s.leaks), first(s.leaks), len(s.duplicates), first(s.duplicates), len(s.unconverged), first(s.unconverged))
}

func lbNameOf(svc *corev1.Service) string {
	name := "a" + strings.ReplaceAll(string(svc.UID), "-", "")
	return name[:min(len(name), 32)]
}

// lbNameFrom returns the load balancer name a resource name derives from,
// or "".
func lbNameFrom(kind, name string) string {
	n := name
	switch kind {
	case "forwarding rule":
		n = strings.TrimSuffix(strings.TrimSuffix(n, "-tcp"), "-udp")
	case "target pool":
		n = strings.TrimSuffix(n, "-alt")
	case "firewall":
		switch {
		case strings.HasPrefix(n, "k8s-fw-"):
			n = strings.TrimSuffix(strings.TrimPrefix(n, "k8s-fw-"), "-deny")
		case strings.HasSuffix(n, "-http-hc"):
			n = strings.TrimSuffix(strings.TrimPrefix(n, "k8s-"), "-http-hc")
		case strings.HasSuffix(n, "-hc"):
			n = strings.TrimSuffix(n, "-hc")
		}
	}
	if lbNameRE.MatchString(n) {
		return n
	}
	return ""
}

// check compares the fake with the live objects. bad names the Services
// whose input is bad on purpose.
func (w *world) check(ctx context.Context, bad map[string]bool) (state, error) {
	var st state
	nodes, err := w.env.Admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return st, err
	}
	svcs, err := w.env.Admin.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return st, err
	}
	d := w.env.Fake.Dump()
	st.nodes = len(nodes.Items)
	leak := func(f string, a ...any) { st.leaks = append(st.leaks, fmt.Sprintf(f, a...)) }
	dup := func(f string, a ...any) { st.duplicates = append(st.duplicates, fmt.Sprintf(f, a...)) }
	off := func(f string, a ...any) { st.unconverged = append(st.unconverged, fmt.Sprintf(f, a...)) }

	// Routes.
	ours := map[string]*compute.Route{}
	byRange := map[string][]string{}
	for _, r := range d.Routes {
		if strings.HasPrefix(r.Name, clusterName+"-") && r.Description == "k8s-node-route" {
			ours[r.Name] = r
			byRange[r.DestRange] = append(byRange[r.DestRange], r.Name)
		}
	}
	// A node's route is ours with its pod CIDR and its VM as next hop,
	// whatever node UID its name carries: a node that left and joined again
	// under its name keeps the route made for its earlier self, as the
	// route controller matches routes by node and range.
	want := map[string]string{} // "range -> vm" to node
	var vms []string
	for _, n := range nodes.Items {
		vms = append(vms, n.Name)
		want[n.Spec.PodCIDR+" -> "+n.Name] = n.Name
	}
	slices.Sort(vms)
	served := map[string]bool{}
	for name, r := range ours {
		key := r.DestRange + " -> " + lastSegment(r.NextHopInstance)
		if _, ok := want[key]; ok {
			served[key] = true
		} else {
			leak("route %s (%s) of no live node", name, key)
		}
	}
	for key, node := range want {
		if !served[key] {
			off("node %s: no route %s", node, key)
		}
	}
	for rng, names := range byRange {
		if len(names) > 1 {
			dup("routes %v for %s", names, rng)
		}
	}

	// Load balancer resources by load balancer name.
	res := map[string]*lbRes{}
	get := func(lb string) *lbRes {
		if res[lb] == nil {
			res[lb] = &lbRes{}
		}
		return res[lb]
	}
	nodesHC, nodesHCFW := "k8s-"+clusterID+"-node", "k8s-"+clusterID+"-node-http-hc"
	ilbNodesHCFW := "k8s-" + clusterID + "-node-hc"
	var sharedHC *compute.HttpHealthCheck
	var sharedFW, ilbSharedFW *compute.Firewall
	var ilbSharedHC *compute.HealthCheck
	for _, a := range d.Addresses {
		if lb := lbNameFrom("address", a.Name); lb != "" {
			get(lb).address = a
		}
	}
	ipOwners := map[string][]string{}
	for _, r := range d.ForwardingRules {
		if lb := lbNameFrom("forwarding rule", r.Name); lb != "" {
			get(lb).rules = append(get(lb).rules, r)
			if !slices.Contains(ipOwners[r.IPAddress], lb) {
				ipOwners[r.IPAddress] = append(ipOwners[r.IPAddress], lb)
			}
		}
	}
	for _, p := range d.TargetPools {
		if lb := lbNameFrom("target pool", p.Name); lb != "" {
			get(lb).pools = append(get(lb).pools, p)
		}
	}
	for _, f := range d.Firewalls {
		switch f.Name {
		case nodesHCFW:
			sharedFW = f
			continue
		case ilbNodesHCFW:
			ilbSharedFW = f
			continue
		}
		lb := lbNameFrom("firewall", f.Name)
		switch {
		case lb == "":
		case strings.HasSuffix(f.Name, "-deny"):
			get(lb).deny = f
		case strings.HasSuffix(f.Name, "-http-hc"):
			get(lb).localFW = f
		case strings.HasSuffix(f.Name, "-hc"):
			get(lb).ilbHCFW = f
		default:
			get(lb).fw = f
		}
	}
	for _, h := range d.HealthChecks {
		if h.Name == nodesHC {
			ilbSharedHC = h
		} else if lb := lbNameFrom("health check", h.Name); lb != "" {
			get(lb).ilbHC = h
		}
	}
	for _, bs := range d.BackendServices {
		if lb := lbNameFrom("backend service", bs.Name); lb != "" {
			get(lb).bs = bs
		}
	}
	groupName := "k8s-ig--" + clusterID
	groups := map[string][]string{} // zone to the VMs of this cluster's group there
	for _, ig := range d.InstanceGroups {
		if ig.Name == groupName {
			var members []string
			for _, m := range d.InstanceGroupMembers[ig.SelfLink] {
				members = append(members, lastSegment(m))
			}
			slices.Sort(members)
			groups[lastSegment(ig.Zone)] = members
		}
	}
	vmZone := map[string]string{}
	for _, in := range d.Instances {
		vmZone[in.Name] = lastSegment(in.Zone)
	}
	nodesByZone := map[string][]string{}
	for _, vm := range vms {
		nodesByZone[vmZone[vm]] = append(nodesByZone[vmZone[vm]], vm)
	}
	for _, h := range d.HTTPHealthChecks {
		if h.Name == nodesHC {
			sharedHC = h
		} else if lb := lbNameFrom("health check", h.Name); lb != "" {
			get(lb).localHC = h
		}
	}
	for ip, lbs := range ipOwners {
		if len(lbs) > 1 {
			dup("IP %s held by the rules of %v", ip, lbs)
		}
	}

	live := map[string]bool{}
	clusterPolicy, ilbClusterPolicy, internals := 0, 0, 0
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		st.services++
		lb := lbNameOf(svc)
		live[lb] = true
		r := res[lb]
		if r == nil {
			r = &lbRes{}
		}
		if svc.DeletionTimestamp != nil {
			off("service %s: still being deleted (finalizers %v)", svc.Name, svc.Finalizers)
			continue
		}
		cond := meta.FindStatusCondition(svc.Status.Conditions, "LoadBalancerSynced")
		if bad[svc.Name] {
			if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "InvalidConfiguration" || cond.ObservedGeneration != svc.Generation {
				off("bad service %s: condition %s", svc.Name, condString(cond))
			}
			if n := len(r.rules) + len(r.pools); n > 0 || r.fw != nil || r.bs != nil {
				off("bad service %s: has %d rules and pools, firewall %v, backend service %v", svc.Name, n, r.fw != nil, r.bs != nil)
			}
			continue
		}
		local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
		var why []string
		if isInternal(svc) {
			internals++
			if !local {
				ilbClusterPolicy++
			}
			why = expectedILB(svc, r, nodesByZone)
		} else {
			if !local {
				clusterPolicy++
			}
			why = expectedLB(svc, r.address, r.rules, r.pools, r.fw, r.localHC, r.localFW, vms)
			if r.bs != nil || r.ilbHC != nil || r.ilbHCFW != nil {
				why = append(why, fmt.Sprintf("internal kind's backend service %v, health check %v or its firewall %v left",
					r.bs != nil, r.ilbHC != nil, r.ilbHCFW != nil))
			}
		}
		for _, y := range why {
			off("service %s: %s", svc.Name, y)
		}
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.ObservedGeneration != svc.Generation {
			off("service %s: condition %s, generation %d", svc.Name, condString(cond), svc.Generation)
		}
		protos := map[string]int{}
		for _, rule := range r.rules {
			protos[rule.IPProtocol]++
		}
		for p, n := range protos {
			if n > 1 {
				dup("%d %s forwarding rules of service %s", n, p, svc.Name)
			}
		}
		if len(r.pools) > 1 {
			dup("%d target pools of service %s", len(r.pools), svc.Name)
		}
	}
	for lb, r := range res {
		if live[lb] {
			continue
		}
		var what []string
		if r.address != nil {
			what = append(what, "address")
		}
		for _, rule := range r.rules {
			what = append(what, "forwarding rule "+rule.Name)
		}
		for _, p := range r.pools {
			what = append(what, "target pool "+p.Name)
		}
		for _, f := range []*compute.Firewall{r.fw, r.localFW, r.deny, r.ilbHCFW} {
			if f != nil {
				what = append(what, "firewall "+f.Name)
			}
		}
		if r.localHC != nil {
			what = append(what, "HTTP health check")
		}
		if r.ilbHC != nil {
			what = append(what, "health check")
		}
		if r.bs != nil {
			what = append(what, "backend service")
		}
		leak("load balancer %s of no live Service: %v", lb, what)
	}
	if clusterPolicy == 0 {
		if sharedHC != nil {
			leak("shared health check %s with no Cluster-policy Service", nodesHC)
		}
		if sharedFW != nil {
			leak("shared health check firewall %s with no Cluster-policy Service", nodesHCFW)
		}
	} else if sharedHC == nil || sharedFW == nil {
		off("shared health check %v, its firewall %v, for %d Cluster-policy Services", sharedHC != nil, sharedFW != nil, clusterPolicy)
	}
	if ilbClusterPolicy == 0 {
		if ilbSharedHC != nil {
			leak("shared internal health check %s with no internal Cluster-policy Service", nodesHC)
		}
		if ilbSharedFW != nil {
			leak("shared internal health check firewall %s with no internal Cluster-policy Service", ilbNodesHCFW)
		}
	} else if ilbSharedHC == nil || ilbSharedFW == nil {
		off("shared internal health check %v, its firewall %v, for %d internal Cluster-policy Services",
			ilbSharedHC != nil, ilbSharedFW != nil, ilbClusterPolicy)
	}
	for zone, members := range groups {
		switch want := nodesByZone[zone]; {
		case internals == 0:
			leak("instance group %s in %s with no internal Service", groupName, zone)
		case !slices.Equal(members, want):
			off("instance group %s in %s holds %v, want the zone's nodes %v", groupName, zone, members, want)
		}
	}
	if internals > 0 {
		for zone := range nodesByZone {
			if _, ok := groups[zone]; !ok {
				off("no instance group %s in %s for %d internal Services", groupName, zone, internals)
			}
		}
	}
	sort.Strings(st.leaks)
	sort.Strings(st.duplicates)
	sort.Strings(st.unconverged)
	return st, nil
}

// lbRes is what GCE holds under one load balancer name.
type lbRes struct {
	address           *compute.Address
	rules             []*compute.ForwardingRule
	pools             []*compute.TargetPool
	fw, localFW, deny *compute.Firewall
	localHC           *compute.HttpHealthCheck
	// The internal kind's own: its backend service, its health check
	// (healthChecks API, Local policy) and that check's firewall.
	bs      *compute.BackendService
	ilbHC   *compute.HealthCheck
	ilbHCFW *compute.Firewall
}

func condString(c *metav1.Condition) string {
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("%s/%s gen %d (%.80q)", c.Status, c.Reason, c.ObservedGeneration, c.Message)
}

// expectedLB lists how a Service's external load balancer differs from what
// it asks for (expectedILB is the internal kind's).
func expectedLB(svc *corev1.Service, addr *compute.Address, rules []*compute.ForwardingRule, pools []*compute.TargetPool,
	fw *compute.Firewall, localHC *compute.HttpHealthCheck, localFW *compute.Firewall, vms []string) []string {
	var why []string
	bad := func(f string, a ...any) { why = append(why, fmt.Sprintf(f, a...)) }
	ports := map[string][]int{} // by GCE protocol
	for _, p := range svc.Spec.Ports {
		ports[string(p.Protocol)] = append(ports[string(p.Protocol)], int(p.Port))
	}
	ip := ""
	if len(svc.Status.LoadBalancer.Ingress) > 0 {
		ip = svc.Status.LoadBalancer.Ingress[0].IP
	}
	if ip == "" {
		bad("no ingress IP")
	}
	if len(rules) != len(ports) {
		bad("%d forwarding rules, want %d", len(rules), len(ports))
	}
	for _, r := range rules {
		ps := ports[r.IPProtocol]
		if len(ps) == 0 {
			bad("rule %s for protocol %s the Service lacks", r.Name, r.IPProtocol)
			continue
		}
		if want := fmt.Sprintf("%d-%d", slices.Min(ps), slices.Max(ps)); r.PortRange != want {
			bad("rule %s port range %s, want %s", r.Name, r.PortRange, want)
		}
		if r.IPAddress != ip {
			bad("rule %s on %s, status says %s", r.Name, r.IPAddress, ip)
		}
		if len(pools) == 1 && lastSegment(r.Target) != pools[0].Name {
			bad("rule %s targets %s, not the pool %s", r.Name, lastSegment(r.Target), pools[0].Name)
		}
	}
	switch {
	case len(ports) > 1 && (addr == nil || addr.Address != ip):
		bad("two protocols and no address holding %s", ip)
	case len(ports) == 1 && addr != nil:
		bad("address %s still reserved", addr.Address)
	}
	local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if len(pools) != 1 {
		bad("%d target pools", len(pools))
	} else {
		p := pools[0]
		var members []string
		for _, in := range p.Instances {
			members = append(members, lastSegment(in))
		}
		slices.Sort(members)
		if !slices.Equal(members, vms) {
			bad("target pool has %d members, want %d", len(members), len(vms))
		}
		affinity := "NONE"
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			affinity = "CLIENT_IP"
		}
		if p.SessionAffinity != affinity {
			bad("target pool affinity %s, want %s", p.SessionAffinity, affinity)
		}
		wantHC := "k8s-" + clusterID + "-node"
		if local {
			wantHC = lbNameOf(svc)
		}
		if len(p.HealthChecks) != 1 || lastSegment(p.HealthChecks[0]) != wantHC {
			bad("target pool health checks %v, want %s", p.HealthChecks, wantHC)
		}
	}
	why = append(why, firewallDiffers(svc, fw)...)
	switch {
	case local && (localHC == nil || localHC.Port != int64(svc.Spec.HealthCheckNodePort)):
		bad("Local policy: health check %v, want port %d", localHC != nil, svc.Spec.HealthCheckNodePort)
	case local && localFW == nil:
		bad("Local policy: no health check firewall")
	case !local && (localHC != nil || localFW != nil):
		bad("Cluster policy: local health check %v or its firewall %v left", localHC != nil, localFW != nil)
	}
	return why
}

// firewallDiffers lists how a load balancer's firewall differs from the
// Service's ports and source ranges (all of IPv4 by default).
func firewallDiffers(svc *corev1.Service, fw *compute.Firewall) []string {
	var why []string
	bad := func(f string, a ...any) { why = append(why, fmt.Sprintf(f, a...)) }
	ports := map[string][]int{} // by GCE protocol
	for _, p := range svc.Spec.Ports {
		ports[string(p.Protocol)] = append(ports[string(p.Protocol)], int(p.Port))
	}
	if fw == nil {
		bad("no firewall")
	} else {
		want := map[string]bool{}
		for proto, ps := range ports {
			for _, p := range ps {
				want[strings.ToLower(proto)+":"+strconv.Itoa(p)] = true
			}
		}
		got := map[string]bool{}
		for _, a := range fw.Allowed {
			for _, p := range a.Ports {
				lo, hi, _ := strings.Cut(p, "-")
				l, _ := strconv.Atoi(lo)
				h := l
				if hi != "" {
					h, _ = strconv.Atoi(hi)
				}
				for i := l; i <= h && i-l < 70000; i++ {
					got[a.IPProtocol+":"+strconv.Itoa(i)] = true
				}
			}
		}
		if !mapsEqual(want, got) {
			bad("firewall allows %d ports, want %d", len(got), len(want))
		}
		ranges := slices.Clone(svc.Spec.LoadBalancerSourceRanges)
		if v := svc.Annotations[corev1.AnnotationLoadBalancerSourceRangesKey]; len(ranges) == 0 && v != "" {
			for _, r := range strings.Split(v, ",") {
				ranges = append(ranges, strings.TrimSpace(r))
			}
		}
		if len(ranges) == 0 {
			ranges = []string{"0.0.0.0/0"}
		}
		slices.Sort(ranges)
		have := slices.Clone(fw.SourceRanges)
		slices.Sort(have)
		if !slices.Equal(ranges, have) {
			bad("firewall source ranges %v, want %v", have, ranges)
		}
	}
	return why
}

// expectedILB lists how a Service's internal load balancer differs from
// what it asks for; nodesByZone are the live nodes' VMs by zone, sorted.
func expectedILB(svc *corev1.Service, r *lbRes, nodesByZone map[string][]string) []string {
	var why []string
	bad := func(f string, a ...any) { why = append(why, fmt.Sprintf(f, a...)) }
	lb := lbNameOf(svc)
	ip := ""
	if len(svc.Status.LoadBalancer.Ingress) > 0 {
		ip = svc.Status.LoadBalancer.Ingress[0].IP
	}
	if ip == "" {
		bad("no ingress IP")
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, strconv.Itoa(int(p.Port)))
	}
	slices.Sort(ports)
	if len(r.rules) != 1 {
		bad("%d forwarding rules, want 1", len(r.rules))
	}
	for _, fr := range r.rules {
		have := slices.Clone(fr.Ports)
		slices.Sort(have)
		switch {
		case fr.LoadBalancingScheme != "INTERNAL" || fr.IPProtocol != "TCP":
			bad("rule %s scheme %s protocol %s, want INTERNAL TCP", fr.Name, fr.LoadBalancingScheme, fr.IPProtocol)
		case fr.IPAddress != ip:
			bad("rule %s on %s, status says %s", fr.Name, fr.IPAddress, ip)
		case lastSegment(fr.BackendService) != lb:
			bad("rule %s uses backend service %s, want %s", fr.Name, lastSegment(fr.BackendService), lb)
		case len(ports) > 5 && !fr.AllPorts:
			bad("rule %s lists ports %v for %d ports, want all ports", fr.Name, have, len(ports))
		case len(ports) <= 5 && !slices.Equal(have, ports):
			bad("rule %s ports %v, want %v", fr.Name, have, ports)
		}
	}
	if r.address != nil && r.address.Address != ip {
		bad("address %s reserved, not the rule's IP %s", r.address.Address, ip)
	}
	local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	wantHC := "k8s-" + clusterID + "-node"
	if local {
		wantHC = lb
	}
	if bs := r.bs; bs == nil {
		bad("no backend service")
	} else {
		affinity := "NONE"
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			affinity = "CLIENT_IP"
		}
		if bs.SessionAffinity != affinity || bs.LoadBalancingScheme != "INTERNAL" {
			bad("backend service affinity %s scheme %s, want %s INTERNAL", bs.SessionAffinity, bs.LoadBalancingScheme, affinity)
		}
		if len(bs.HealthChecks) != 1 || lastSegment(bs.HealthChecks[0]) != wantHC {
			bad("backend service health checks %v, want %s", bs.HealthChecks, wantHC)
		}
		var zones, want []string
		for _, b := range bs.Backends {
			zones = append(zones, zoneOf(b.Group))
		}
		for z := range nodesByZone {
			want = append(want, z)
		}
		slices.Sort(zones)
		slices.Sort(want)
		if !slices.Equal(zones, want) {
			bad("backend service's groups in zones %v, want %v", zones, want)
		}
	}
	switch {
	case local && (r.ilbHC == nil || r.ilbHC.HttpHealthCheck == nil || r.ilbHC.HttpHealthCheck.Port != int64(svc.Spec.HealthCheckNodePort)):
		bad("Local policy: no health check on port %d", svc.Spec.HealthCheckNodePort)
	case local && r.ilbHCFW == nil:
		bad("Local policy: no health check firewall")
	case !local && (r.ilbHC != nil || r.ilbHCFW != nil):
		bad("Cluster policy: own health check %v or its firewall %v left", r.ilbHC != nil, r.ilbHCFW != nil)
	}
	why = append(why, firewallDiffers(svc, r.fw)...)
	if len(r.pools) > 0 || r.localHC != nil || r.localFW != nil || r.deny != nil {
		bad("external kind's %d target pools, HTTP health check %v, its firewall %v or deny firewall %v left",
			len(r.pools), r.localHC != nil, r.localFW != nil, r.deny != nil)
	}
	return why
}

// zoneOf returns the zone of a zonal resource URL.
func zoneOf(link string) string {
	_, rest, _ := strings.Cut(link, "/zones/")
	z, _, _ := strings.Cut(rest, "/")
	return z
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// ids records the id of every resource of the fake by kind and name: a
// resource deleted and created again gets another id.
func ids(d *fakecompute.Dump) map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range d.Routes {
		out["route "+r.Name] = r.Id
	}
	for _, r := range d.ForwardingRules {
		out["forwarding rule "+r.Name] = r.Id
	}
	for _, p := range d.TargetPools {
		out["target pool "+p.Name] = p.Id
	}
	for _, f := range d.Firewalls {
		out["firewall "+f.Name] = f.Id
	}
	for _, h := range d.HTTPHealthChecks {
		out["health check "+h.Name] = h.Id
	}
	for _, h := range d.HealthChecks {
		out["internal health check "+h.Name] = h.Id
	}
	for _, bs := range d.BackendServices {
		out["backend service "+bs.Name] = bs.Id
	}
	return out
}

// lost lists the resources of before, among those keep accepts, that are
// gone or were replaced in after.
func lost(before, after map[string]uint64, keep func(key string) bool) []string {
	var out []string
	for k, id := range before {
		if !keep(k) {
			continue
		}
		if now, ok := after[k]; !ok {
			out = append(out, k+" deleted")
		} else if now != id {
			out = append(out, k+" replaced")
		}
	}
	sort.Strings(out)
	return out
}
