package fakecompute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// Load replaces every resource the fake holds (instances, routes,
// addresses, forwarding rules, target pools, firewalls, HTTP health checks,
// health checks, backend services and instance groups with their members)
// with those of d, exactly as given: names, IDs, timestamps, links,
// IPs and every other field. It is the inverse of Dump: loading a dump
// gives a fake that dumps the same. To add to what the fake holds, load a
// dump that holds both. Networks, subnetworks, regions, zones, call counts,
// faults, latencies, limits and quotas stay as they are.
//
// The state that the fake derives from resources is rebuilt from d: the IPs
// that instances, addresses and forwarding rules hold are taken from the
// pools, so later inserts get other ones; in-use checks (a target pool a
// rule uses, a health check a pool uses, an INTERNAL address a rule uses)
// see the loaded references.
//
// Load checks all of d first and changes nothing when it returns an error,
// which names every problem found: a resource whose name, selfLink, scope
// or kind do not agree; a duplicate; a reference in another form than the
// canonical selfLink, or to a network, subnetwork, target pool, health
// check, backend service or instance group that neither the fake nor d
// holds; two holders of one IP; an address whose users or status are not
// the forwarding rules on its IP; an instance group whose size is not its
// number of members, or a member that d does not hold (GCE drops deleted
// VMs from groups). Instance references in target pools and routes may name
// instances that d does not hold, since GCE (and the fake) lets a VM go
// while they name it. Load also refuses while an operation is still
// running.
func (s *Server) Load(d *Dump) error {
	if d == nil {
		return errors.New("load: no dump")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	running := 0
	for _, o := range s.ops {
		if !o.isDone() {
			running++
		}
	}
	if running > 0 {
		return fmt.Errorf("load: %d operations are still running; wait for them first", running)
	}
	l := &loader{s: s,
		instances:    newTable[compute.Instance]("instances"),
		routes:       newTable[compute.Route]("routes"),
		addresses:    newTable[compute.Address]("addresses"),
		fwdRules:     newTable[compute.ForwardingRule]("forwardingRules"),
		targetPools:  newTable[compute.TargetPool]("targetPools"),
		firewalls:    newTable[compute.Firewall]("firewalls"),
		healthChecks: newTable[compute.HttpHealthCheck]("httpHealthChecks"),
		hcs:          newTable[compute.HealthCheck]("healthChecks"),
		bss:          newTable[compute.BackendService]("backendServices"),
		igs:          newTable[compute.InstanceGroup]("instanceGroups"),
		igMembers:    map[string][]string{},
		internalIPs:  newIPPool(s.internalIPs.prefix, 2),
		externalIPs:  newIPPool(s.externalIPs.prefix, 1),
		holders:      map[netip.Addr]string{},
	}
	l.load(d)
	if err := errors.Join(l.errs...); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	s.instances, s.routes, s.addresses, s.fwdRules = l.instances, l.routes, l.addresses, l.fwdRules
	s.targetPools, s.firewalls, s.healthChecks = l.targetPools, l.firewalls, l.healthChecks
	s.hcs, s.backendServices, s.instanceGroups, s.igMembers = l.hcs, l.bss, l.igs, l.igMembers
	s.internalIPs, s.externalIPs = l.internalIPs, l.externalIPs
	if s.nextID < l.maxID {
		s.nextID = l.maxID
	}
	if s.instances.get(s.metadataVM) == nil {
		s.metadataVM = ""
		for _, k := range s.instances.keys() {
			if strings.HasPrefix(k, s.cfg.Project+"/") {
				s.metadataVM = k
				break
			}
		}
	}
	return nil
}

// loader checks a dump and builds the tables and pools that replace the
// fake's; the caller holds the server lock.
type loader struct {
	s            *Server
	instances    *table[compute.Instance]
	routes       *table[compute.Route]
	addresses    *table[compute.Address]
	fwdRules     *table[compute.ForwardingRule]
	targetPools  *table[compute.TargetPool]
	firewalls    *table[compute.Firewall]
	healthChecks *table[compute.HttpHealthCheck]
	hcs          *table[compute.HealthCheck]
	bss          *table[compute.BackendService]
	igs          *table[compute.InstanceGroup]
	igMembers    map[string][]string
	internalIPs  *ipPool
	externalIPs  *ipPool
	holders      map[netip.Addr]string // IP -> instance holding it
	maxID        uint64
	errs         []error
}

// ident is what every resource has: it places the resource in its table.
type ident struct {
	kind, name, selfLink, scopeLink string
	id                              uint64
}

// where names a resource of the dump in errors.
func where(list string, i int, name string) string { return fmt.Sprintf("%s[%d] (%q)", list, i, name) }

func (l *loader) errorf(format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf(format, args...))
}

func (l *loader) load(d *Dump) {
	instKeys := loadKind(l, l.instances, "instances", "zones", d.Instances, func(x *compute.Instance) ident {
		return ident{x.Kind, x.Name, x.SelfLink, x.Zone, x.Id}
	})
	routeKeys := loadKind(l, l.routes, "routes", "global", d.Routes, func(x *compute.Route) ident {
		return ident{x.Kind, x.Name, x.SelfLink, "", x.Id}
	})
	hcKeys := loadKind(l, l.healthChecks, "httpHealthChecks", "global", d.HTTPHealthChecks, func(x *compute.HttpHealthCheck) ident {
		return ident{x.Kind, x.Name, x.SelfLink, "", x.Id}
	})
	fwKeys := loadKind(l, l.firewalls, "firewalls", "global", d.Firewalls, func(x *compute.Firewall) ident {
		return ident{x.Kind, x.Name, x.SelfLink, "", x.Id}
	})
	poolKeys := loadKind(l, l.targetPools, "targetPools", "regions", d.TargetPools, func(x *compute.TargetPool) ident {
		return ident{x.Kind, x.Name, x.SelfLink, x.Region, x.Id}
	})
	ruleKeys := loadKind(l, l.fwdRules, "forwardingRules", "regions", d.ForwardingRules, func(x *compute.ForwardingRule) ident {
		return ident{x.Kind, x.Name, x.SelfLink, x.Region, x.Id}
	})
	addrKeys := loadKind(l, l.addresses, "addresses", "regions", d.Addresses, func(x *compute.Address) ident {
		return ident{x.Kind, x.Name, x.SelfLink, x.Region, x.Id}
	})

	hcsKeys := loadKind(l, l.hcs, "healthChecks", "", d.HealthChecks, func(x *compute.HealthCheck) ident {
		return ident{x.Kind, x.Name, x.SelfLink, x.Region, x.Id}
	})
	igKeys := loadKind(l, l.igs, "instanceGroups", "zones", d.InstanceGroups, func(x *compute.InstanceGroup) ident {
		return ident{x.Kind, x.Name, x.SelfLink, x.Zone, x.Id}
	})
	bsKeys := loadKind(l, l.bss, "backendServices", "regions", d.BackendServices, func(x *compute.BackendService) ident {
		return ident{x.Kind, x.Name, x.SelfLink, x.Region, x.Id}
	})

	for i, k := range instKeys {
		l.checkInstance(where("instances", i, lastSegment(k)), l.instances.get(k).obj)
	}
	for i, k := range routeKeys {
		r := l.routes.get(k).obj
		at := where("routes", i, r.Name)
		l.existing(at+".network", r.Network, "networks")
		if r.NextHopInstance != "" {
			l.canonical(at+".nextHopInstance", r.NextHopInstance, "instances")
		}
	}
	for i, k := range hcKeys {
		hc := *l.healthChecks.get(k).obj
		if err := completeHealthCheck(&hc); err != nil {
			l.errorf("%s: %s", where("httpHealthChecks", i, hc.Name), err.Message)
		}
	}
	for i, k := range fwKeys {
		fw := *l.firewalls.get(k).obj
		at := where("firewalls", i, fw.Name)
		if l.existing(at+".network", fw.Network, "networks") {
			if err := l.s.completeFirewall(strings.SplitN(k, "/", 2)[0], &fw); err != nil {
				l.errorf("%s: %s", at, err.Message)
			}
		}
	}
	for i, k := range poolKeys {
		tp := l.targetPools.get(k).obj
		at := where("targetPools", i, tp.Name)
		if tp.SessionAffinity != "" && !validAffinities[tp.SessionAffinity] {
			l.errorf("%s: sessionAffinity %q is not NONE, CLIENT_IP or CLIENT_IP_PROTO", at, tp.SessionAffinity)
		}
		if len(tp.HealthChecks) > 1 {
			l.errorf("%s: a target pool may have at most one health check, got %d", at, len(tp.HealthChecks))
		}
		for j, hc := range tp.HealthChecks {
			if rf, ok := l.canonical(fmt.Sprintf("%s.healthChecks[%d]", at, j), hc, "httpHealthChecks"); ok && l.healthChecks.get(rf.key()) == nil {
				l.errorf("%s.healthChecks[%d]: no health check %s", at, j, hc)
			}
		}
		for j, inst := range tp.Instances {
			l.canonical(fmt.Sprintf("%s.instances[%d]", at, j), inst, "instances")
		}
	}
	for i, k := range hcsKeys {
		hc := *l.hcs.get(k).obj
		if err := completeHC(&hc); err != nil {
			l.errorf("%s: %s", where("healthChecks", i, hc.Name), err.Message)
		}
	}
	l.loadMembers(d.InstanceGroupMembers)
	for i, k := range igKeys {
		l.checkGroup(where("instanceGroups", i, lastSegment(k)), k, l.igs.get(k).obj)
	}
	for i, k := range bsKeys {
		l.checkBackendService(where("backendServices", i, lastSegment(k)), l.bss.get(k).obj)
	}
	for i, k := range ruleKeys {
		l.checkRule(where("forwardingRules", i, lastSegment(k)), l.fwdRules.get(k).obj)
	}
	for i, k := range addrKeys {
		l.checkAddress(where("addresses", i, lastSegment(k)), l.addresses.get(k).obj)
	}
}

// loadKind puts copies of items into t after checking that each one's name,
// selfLink, kind and scope agree and that no two share a key. It returns
// the keys in the order of items (empty for a resource that failed).
func loadKind[T any](l *loader, t *table[T], list, scopeType string, items []*T, id func(*T) ident) []string {
	var keys []string
	for i, item := range items {
		if item == nil {
			l.errorf("%s: null", where(list, i, ""))
			continue
		}
		obj, err := clone(item)
		if err != nil {
			l.errorf("%s: %v", where(list, i, ""), err)
			continue
		}
		m := id(obj)
		at := where(list, i, m.name)
		rf, ok := parseRef(m.selfLink, "", t.kind)
		switch {
		case !validName(m.name):
			l.errorf("%s: invalid name", at)
			continue
		case !ok || rf.link() != m.selfLink:
			l.errorf("%s: selfLink %q is not a canonical selfLink (%sprojects/...) of a %s", at, m.selfLink, SelfLinkPrefix, singular(t.kind))
			continue
		case rf.name != m.name:
			l.errorf("%s: selfLink %q names another resource", at, m.selfLink)
			continue
		case m.kind != "" && m.kind != "compute#"+singular(t.kind):
			l.errorf("%s: kind %q, want %q", at, m.kind, "compute#"+singular(t.kind))
			continue
		}
		if _, known := l.s.projects[rf.project]; !known {
			l.errorf("%s: unknown project %q", at, rf.project)
			continue
		}
		wrongType := !strings.HasPrefix(rf.scope, scopeType) || (scopeType == "" && strings.HasPrefix(rf.scope, "zones/"))
		if wrongType || !l.s.scopeExists(rf.project, rf.scope) {
			l.errorf("%s: %s is not a scope of this fake for %s", at, rf.scope, list)
			continue
		}
		wantScope := scopeLink(rf.project, rf.scope)
		if rf.scope == "global" {
			wantScope = ""
		}
		if scopeType != "global" && m.scopeLink != wantScope {
			l.errorf("%s: its %s is %q, want %q", at, strings.TrimSuffix(strings.SplitN(rf.scope, "/", 2)[0], "s"), m.scopeLink, wantScope)
			continue
		}
		if t.get(rf.key()) != nil {
			l.errorf("%s: duplicate of an earlier %s", at, m.selfLink)
			continue
		}
		t.put(rf.key(), obj)
		keys = append(keys, rf.key())
		l.maxID = max(l.maxID, m.id)
	}
	return keys
}

// singular turns a collection name into the kind's suffix: routes -> route,
// addresses -> address, httpHealthChecks -> httpHealthCheck.
func singular(collection string) string {
	if strings.HasSuffix(collection, "sses") {
		return strings.TrimSuffix(collection, "es")
	}
	return strings.TrimSuffix(collection, "s")
}

func clone[T any](v *T) (*T, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := new(T)
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, err
	}
	return out, nil
}

// canonical checks that link is the full selfLink of a resource of kind,
// the only form the fake stores and compares.
func (l *loader) canonical(at, link, kind string) (ref, bool) {
	rf, ok := parseRef(link, "", kind)
	if !ok || rf.link() != link {
		l.errorf("%s: %q is not the canonical selfLink of a %s resource", at, link, singular(kind))
		return ref{}, false
	}
	return rf, true
}

// existing checks that link is the canonical selfLink of a network or
// subnetwork the fake has.
func (l *loader) existing(at, link, kind string) bool {
	rf, ok := l.canonical(at, link, kind)
	if !ok {
		return false
	}
	found := false
	switch kind {
	case "networks":
		found = l.s.networks.get(rf.key()) != nil
	case "subnetworks":
		found = l.s.subnetworks.get(rf.key()) != nil
	}
	if !found {
		l.errorf("%s: no %s %s", at, singular(kind), link)
	}
	return found
}

// take records that who holds ip in pool; an instance's IP is its own.
func (l *loader) take(at string, pool *ipPool, ip netip.Addr, who string) {
	if holder, ok := l.holders[ip]; ok {
		l.errorf("%s: IP %s is already held by %s", at, ip, holder)
		return
	}
	if who != "" {
		if pool.inUse(ip) {
			l.errorf("%s: IP %s is already held by another resource", at, ip)
			return
		}
		l.holders[ip] = who
	}
	pool.mark(ip)
}

func (l *loader) checkInstance(at string, inst *compute.Instance) {
	for j, nic := range inst.NetworkInterfaces {
		nicAt := fmt.Sprintf("%s.networkInterfaces[%d]", at, j)
		l.existing(nicAt+".network", nic.Network, "networks")
		if nic.Subnetwork != "" {
			l.existing(nicAt+".subnetwork", nic.Subnetwork, "subnetworks")
		}
		if nic.NetworkIP != "" {
			ip, err := netip.ParseAddr(nic.NetworkIP)
			if err != nil || !ip.Is4() {
				l.errorf("%s.networkIP: %q is not an IPv4 address", nicAt, nic.NetworkIP)
			} else if l.internalIPs.prefix.Contains(ip) {
				l.take(nicAt+".networkIP", l.internalIPs, ip, inst.SelfLink)
			}
		}
		for k, ac := range nic.AccessConfigs {
			if ac == nil || ac.NatIP == "" {
				continue
			}
			ip, err := netip.ParseAddr(ac.NatIP)
			if err != nil {
				l.errorf("%s.accessConfigs[%d].natIP: %q is not an IP address", nicAt, k, ac.NatIP)
			} else if l.externalIPs.prefix.Contains(ip) {
				l.take(fmt.Sprintf("%s.accessConfigs[%d].natIP", nicAt, k), l.externalIPs, ip, inst.SelfLink)
			}
		}
	}
}

func (l *loader) checkRule(at string, fr *compute.ForwardingRule) {
	pool := l.externalIPs
	switch fr.LoadBalancingScheme {
	case "EXTERNAL":
		if rf, ok := l.canonical(at+".target", fr.Target, "targetPools"); ok && l.targetPools.get(rf.key()) == nil {
			l.errorf("%s.target: no target pool %s", at, fr.Target)
		}
	case "INTERNAL":
		pool = l.internalIPs
		if rf, ok := l.canonical(at+".backendService", fr.BackendService, "backendServices"); ok {
			if bs := l.bss.get(rf.key()); bs == nil {
				l.errorf("%s.backendService: no backend service %s", at, fr.BackendService)
			} else if bs.obj.LoadBalancingScheme != "INTERNAL" {
				l.errorf("%s.backendService: %s has scheme %q, not INTERNAL", at, fr.BackendService, bs.obj.LoadBalancingScheme)
			}
		}
		l.existing(at+".subnetwork", fr.Subnetwork, "subnetworks")
		if fr.Network != "" {
			l.existing(at+".network", fr.Network, "networks")
		}
	default:
		l.errorf("%s: loadBalancingScheme %q is not EXTERNAL or INTERNAL", at, fr.LoadBalancingScheme)
		return
	}
	ip, err := netip.ParseAddr(fr.IPAddress)
	if err != nil || !pool.prefix.Contains(ip) {
		l.errorf("%s: IPAddress %q is not in the fake's %s range %s", at, fr.IPAddress, strings.ToLower(fr.LoadBalancingScheme), pool.prefix)
		return
	}
	for _, other := range l.fwdRules.items {
		o := other.obj
		if o != fr && o.IPAddress == fr.IPAddress && o.Region == fr.Region && o.IPProtocol == fr.IPProtocol &&
			overlap(rulePorts(o), rulePorts(fr)) && o.SelfLink < fr.SelfLink {
			l.errorf("%s: IP %s, protocol and ports conflict with %s", at, fr.IPAddress, o.SelfLink)
		}
	}
	// Rules may share an IP (a released address leaves it with all of them).
	l.take(at, pool, ip, "")
}

func (l *loader) checkAddress(at string, a *compute.Address) {
	pool, scheme := l.externalIPs, "EXTERNAL"
	if a.AddressType == "INTERNAL" {
		pool, scheme = l.internalIPs, "INTERNAL"
	} else if a.AddressType != "EXTERNAL" {
		l.errorf("%s: addressType %q is not EXTERNAL or INTERNAL", at, a.AddressType)
		return
	}
	if scheme == "INTERNAL" && a.Subnetwork != "" {
		l.existing(at+".subnetwork", a.Subnetwork, "subnetworks")
	}
	ip, err := netip.ParseAddr(a.Address)
	if err != nil || !pool.prefix.Contains(ip) {
		l.errorf("%s: address %q is not in the fake's %s range %s", at, a.Address, strings.ToLower(scheme), pool.prefix)
		return
	}
	var users []string
	for _, r := range l.fwdRules.items {
		if r.obj.IPAddress != a.Address || r.obj.Region != a.Region {
			continue
		}
		if r.obj.LoadBalancingScheme != scheme {
			l.errorf("%s: %s rule %s uses this %s address", at, r.obj.LoadBalancingScheme, r.obj.SelfLink, scheme)
		}
		users = append(users, r.obj.SelfLink)
	}
	slices.Sort(users)
	status := AddressReserved
	if len(users) > 0 {
		status = AddressInUse
	}
	given := slices.Sorted(slices.Values(a.Users))
	if !slices.Equal(given, users) || a.Status != status {
		l.errorf("%s: status %s with users %v, but the forwarding rules on %s make it %s with users %v",
			at, a.Status, a.Users, a.Address, status, users)
	}
	for _, r := range l.addresses.items {
		if r.obj != a && r.obj.Address == a.Address && r.obj.SelfLink < a.SelfLink {
			l.errorf("%s: IP %s is also reserved by %s", at, a.Address, r.obj.SelfLink)
		}
	}
	l.take(at, pool, ip, "")
}

// loadMembers takes the groups' members by group selfLink.
func (l *loader) loadMembers(members map[string][]string) {
	for _, link := range slices.Sorted(maps.Keys(members)) {
		at := fmt.Sprintf("instanceGroupMembers[%q]", link)
		rf, ok := l.canonical(at, link, "instanceGroups")
		if !ok {
			continue
		}
		if l.igs.get(rf.key()) == nil {
			l.errorf("%s: no instance group %s", at, link)
			continue
		}
		var list []string
		for j, m := range members[link] {
			mat := fmt.Sprintf("%s[%d]", at, j)
			mr, ok := l.canonical(mat, m, "instances")
			switch {
			case !ok:
			case mr.scope != rf.scope || mr.project != rf.project:
				l.errorf("%s: %s is not in the group's zone", mat, m)
			case l.instances.get(mr.key()) == nil:
				l.errorf("%s: no instance %s", mat, m)
			case slices.Contains(list, m):
				l.errorf("%s: %s is listed twice", mat, m)
			default:
				list = append(list, m)
			}
		}
		slices.Sort(list)
		l.igMembers[rf.key()] = list
	}
}

func (l *loader) checkGroup(at, key string, ig *compute.InstanceGroup) {
	if ig.Network != "" {
		l.existing(at+".network", ig.Network, "networks")
	}
	if ig.Subnetwork != "" {
		l.existing(at+".subnetwork", ig.Subnetwork, "subnetworks")
	}
	if err := checkNamedPorts("namedPorts", ig.NamedPorts); err != nil {
		l.errorf("%s: %s", at, err.Message)
	}
	if n := len(l.igMembers[key]); ig.Size != int64(n) {
		l.errorf("%s: size %d, but it has %d members in instanceGroupMembers", at, ig.Size, n)
	}
}

func (l *loader) checkBackendService(at string, bs *compute.BackendService) {
	if bs.LoadBalancingScheme != "INTERNAL" && bs.LoadBalancingScheme != "EXTERNAL" {
		l.errorf("%s: loadBalancingScheme %q is not INTERNAL or EXTERNAL", at, bs.LoadBalancingScheme)
	}
	for j, hc := range bs.HealthChecks {
		if rf, ok := l.canonical(fmt.Sprintf("%s.healthChecks[%d]", at, j), hc, "healthChecks"); ok && l.hcs.get(rf.key()) == nil {
			l.errorf("%s.healthChecks[%d]: no health check %s", at, j, hc)
		}
	}
	for j, b := range bs.Backends {
		if b == nil {
			l.errorf("%s.backends[%d]: null", at, j)
			continue
		}
		if rf, ok := l.canonical(fmt.Sprintf("%s.backends[%d].group", at, j), b.Group, "instanceGroups"); ok && l.igs.get(rf.key()) == nil {
			l.errorf("%s.backends[%d].group: no instance group %s", at, j, b.Group)
		}
	}
}

// ParseDump parses a dump as Dump's JSON (GET /_fake/dump) gives it,
// refusing unknown fields and trailing data.
func ParseDump(data []byte) (*Dump, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Dump
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("parse dump: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse dump: data after the dump")
	}
	return &d, nil
}

// loadInit registers POST /_fake/load: the body is a dump as GET /_fake/dump
// returns it, decoded strictly (unknown fields are an error).
func (s *Server) loadInit() {
	s.mux.HandleFunc("POST "+ControlPrefix+"load", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 256<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		d, err := ParseDump(body)
		if err != nil {
			http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.Load(d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]string{"status": "ok", "resources": strconv.Itoa(d.count())})
	})
}

func (d *Dump) count() int {
	return len(d.Instances) + len(d.Routes) + len(d.Addresses) + len(d.ForwardingRules) +
		len(d.TargetPools) + len(d.Firewalls) + len(d.HTTPHealthChecks) + len(d.HealthChecks) +
		len(d.BackendServices) + len(d.InstanceGroups)
}
