package fakecompute

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// Instance states the fake models.
const (
	StatusRunning    = "RUNNING"
	StatusStopping   = "STOPPING"
	StatusTerminated = "TERMINATED"
)

// IPv6 as GCE models it on a network interface.
const (
	stackIPv4Only    = "IPV4_ONLY"
	stackDual        = "IPV4_IPV6"
	accessDirectIPv6 = "DIRECT_IPV6"
	ipv6Internal     = "INTERNAL"
	ipv6External     = "EXTERNAL"
	// ipv6PerVM is the prefix length of the range GCE gives each interface;
	// the address it reports is the first of that range.
	ipv6PerVM = 96
)

// Where the fake allocates IPv6 ranges from: a /64 of GCE's internal ULA
// range fd20::/20, and a /64 like the ones GCE gives external subnets.
var (
	internalIPv6Subnet = netip.MustParsePrefix("fd20:0:0:1::/64")
	externalIPv6Subnet = netip.MustParsePrefix("2600:1900:4000:1::/64")
)

func (s *Server) insertInstance(c *call) (any, *Error) {
	var in compute.Instance
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: c.scope, kind: "instances", name: in.Name}
		if err := checkNew(s.instances, rf); err != nil {
			return rf, 0, err
		}
		inst, err := s.buildInstance(c.project, strings.TrimPrefix(c.scope, "zones/"), &in)
		if err != nil {
			return rf, 0, err
		}
		r := insertRecord(s.instances, rf, inst, o)
		return rf, r.id(), nil
	})
}

// buildInstance completes and validates an instance about to be stored,
// allocating the IPs it asks for. The caller holds the lock.
func (s *Server) buildInstance(project, zone string, in *compute.Instance) (*compute.Instance, *Error) {
	rf := ref{project: project, scope: "zones/" + zone, kind: "instances", name: in.Name}
	if !validName(in.Name) {
		return nil, errInvalidField("resource.name", in.Name, "Must be a match of regex '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'")
	}
	inst := *in
	inst.Kind = "compute#instance"
	inst.Id = s.newID()
	inst.Zone = scopeLink(project, "zones/"+zone)
	inst.SelfLink = rf.link()
	inst.CreationTimestamp = s.timestamp()
	if inst.Status == "" {
		inst.Status = StatusRunning
	}
	switch inst.Status {
	case StatusRunning, StatusStopping, StatusTerminated:
	default:
		return nil, errInvalidField("resource.status", inst.Status, "The fake models RUNNING, STOPPING and TERMINATED.")
	}
	switch mt := inst.MachineType; {
	case mt == "":
		inst.MachineType = scopeLink(project, "zones/"+zone) + "/machineTypes/e2-standard-4"
	case !strings.Contains(mt, "/"):
		inst.MachineType = scopeLink(project, "zones/"+zone) + "/machineTypes/" + mt
	default:
		inst.MachineType = scopeLink(project, "zones/"+zone) + "/machineTypes/" + lastSegment(mt)
	}
	if inst.Tags == nil {
		inst.Tags = &compute.Tags{}
	}
	inst.Tags.Fingerprint = fingerprint(inst.Tags.Items)
	inst.Fingerprint = ""
	if len(inst.NetworkInterfaces) == 0 {
		inst.NetworkInterfaces = []*compute.NetworkInterface{{}}
	}
	region := regionOf(zone)
	var taken []netip.Addr
	undo := func() {
		for _, a := range taken {
			if s.internalIPs.prefix.Contains(a) {
				s.internalIPs.release(a)
			} else {
				s.externalIPs.release(a)
			}
		}
	}
	for i, nic := range inst.NetworkInterfaces {
		n := *nic
		n.Kind = "compute#networkInterface"
		n.Name = "nic" + string(rune('0'+i))
		netLink := n.Network
		if netLink == "" {
			netLink = "global/networks/" + s.cfg.Network
		}
		netRef, ok := parseRef(netLink, project, "networks")
		if !ok || s.networks.get(netRef.key()) == nil {
			undo()
			return nil, errNotFound(netRef.path())
		}
		n.Network = netRef.link()
		n.Subnetwork = ref{project: netRef.project, scope: "regions/" + region, kind: "subnetworks", name: netRef.name}.link()
		if n.NetworkIP == "" {
			a, ok := s.internalIPs.take()
			if !ok {
				undo()
				return nil, errPoolExhausted
			}
			taken = append(taken, a)
			n.NetworkIP = a.String()
		} else if a, err := netip.ParseAddr(n.NetworkIP); err != nil || !a.Is4() {
			undo()
			return nil, errInvalidField("resource.networkInterfaces.networkIP", n.NetworkIP, "Not a valid IPv4 address.")
		} else {
			s.internalIPs.mark(a)
			taken = append(taken, a)
		}
		var acs []*compute.AccessConfig
		for _, ac := range n.AccessConfigs {
			a := *ac
			a.Kind = "compute#accessConfig"
			if a.Type == "" {
				a.Type = "ONE_TO_ONE_NAT"
			}
			if a.Name == "" {
				a.Name = "External NAT"
			}
			if a.NetworkTier == "" {
				a.NetworkTier = "PREMIUM"
			}
			if a.NatIP == "" {
				ip, ok := s.externalIPs.take()
				if !ok {
					undo()
					return nil, errPoolExhausted
				}
				taken = append(taken, ip)
				a.NatIP = ip.String()
			} else if ip, err := netip.ParseAddr(a.NatIP); err != nil {
				undo()
				return nil, errInvalidField("resource.networkInterfaces.accessConfigs.natIP", a.NatIP, "Not a valid IP address.")
			} else {
				s.externalIPs.mark(ip)
				taken = append(taken, ip)
			}
			acs = append(acs, &a)
		}
		n.AccessConfigs = acs
		if err := s.assignIPv6(project, &n); err != nil {
			undo()
			return nil, err
		}
		inst.NetworkInterfaces[i] = &n
	}
	inst.Fingerprint = instanceFingerprint(&inst)
	return &inst, nil
}

// assignIPv6 validates a new interface's IPv6 settings and fills in what GCE
// would: the access type, the prefix lengths and addresses not given. An
// address is unique among the project's instances. The caller holds the lock.
func (s *Server) assignIPv6(project string, n *compute.NetworkInterface) *Error {
	switch n.StackType {
	case "", stackIPv4Only:
		if n.Ipv6Address != "" || len(n.Ipv6AccessConfigs) > 0 {
			return errInvalidField("resource.networkInterfaces.stackType", n.StackType,
				"IPv6 addresses and IPv6 access configs need stackType IPV4_IPV6.")
		}
		return nil
	case stackDual:
	default:
		return errInvalidField("resource.networkInterfaces.stackType", n.StackType, "Must be one of IPV4_ONLY and IPV4_IPV6.")
	}
	used := s.ipv6InUse(project)
	if len(n.Ipv6AccessConfigs) > 0 {
		// The subnetwork's access type decides: an EXTERNAL one gives the
		// interface its external range, not an internal one as well.
		if n.Ipv6Address != "" {
			return errInvalidField("resource.networkInterfaces.ipv6Address", n.Ipv6Address,
				"An interface with an external IPv6 access config has no internal IPv6 address (the fake's subnetwork has access type EXTERNAL).")
		}
		if len(n.Ipv6AccessConfigs) > 1 {
			return errInvalid("Only one IPv6 access config per network interface is supported.")
		}
		ac := *n.Ipv6AccessConfigs[0]
		if ac.Type != accessDirectIPv6 {
			return errInvalidField("resource.networkInterfaces.ipv6AccessConfigs.type", ac.Type, "Must be DIRECT_IPV6.")
		}
		a, err := pickIPv6(ac.ExternalIpv6, externalIPv6Subnet, used, "resource.networkInterfaces.ipv6AccessConfigs.externalIpv6")
		if err != nil {
			return err
		}
		ac.Kind = "compute#accessConfig"
		if ac.Name == "" {
			ac.Name = "external-ipv6"
		}
		if ac.NetworkTier == "" {
			ac.NetworkTier = "PREMIUM"
		}
		ac.ExternalIpv6 = a.String()
		ac.ExternalIpv6PrefixLength = ipv6PerVM
		n.Ipv6AccessConfigs = []*compute.AccessConfig{&ac}
		n.Ipv6AccessType = ipv6External
		return nil
	}
	a, err := pickIPv6(n.Ipv6Address, internalIPv6Subnet, used, "resource.networkInterfaces.ipv6Address")
	if err != nil {
		return err
	}
	n.Ipv6Address = a.String()
	n.InternalIpv6PrefixLength = ipv6PerVM
	n.Ipv6AccessType = ipv6Internal
	return nil
}

// pickIPv6 returns the address asked for, or the first free /96 of subnet.
func pickIPv6(want string, subnet netip.Prefix, used map[netip.Addr]bool, field string) (netip.Addr, *Error) {
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !a.Is6() || a.Is4In6() {
			return netip.Addr{}, errInvalidField(field, want, "Not a valid IPv6 address.")
		}
		if used[a] {
			return netip.Addr{}, errInvalidField(field, want, "The IPv6 address is already in use by another resource.")
		}
		return a, nil
	}
	base := subnet.Masked().Addr().As16()
	for k := uint32(1); k != 0; k++ {
		b := base
		b[10], b[11] = byte(k>>8), byte(k) // the k-th /96 of the /64
		b[8], b[9] = byte(k>>24), byte(k>>16)
		if a := netip.AddrFrom16(b); !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, errPoolExhausted
}

// ipv6InUse returns the IPv6 addresses of a project's instances. The caller
// holds the lock.
func (s *Server) ipv6InUse(project string) map[netip.Addr]bool {
	used := map[netip.Addr]bool{}
	for k, r := range s.instances.items {
		if !strings.HasPrefix(k, project+"/") {
			continue
		}
		for _, n := range r.obj.NetworkInterfaces {
			if a, err := netip.ParseAddr(n.Ipv6Address); err == nil {
				used[a] = true
			}
			for _, ac := range n.Ipv6AccessConfigs {
				if a, err := netip.ParseAddr(ac.ExternalIpv6); err == nil {
					used[a] = true
				}
			}
		}
	}
	return used
}

// instanceFingerprint is the instance's fingerprint: a hash of what
// instances.update may change, so that it changes when they do.
func instanceFingerprint(inst *compute.Instance) string {
	return fingerprint([]any{inst.CanIpForward, inst.Tags.Items, inst.MachineType})
}

// releaseInstanceIPs returns a deleted instance's IPs to their pools.
func (s *Server) releaseInstanceIPs(inst *compute.Instance) {
	for _, n := range inst.NetworkInterfaces {
		if a, err := netip.ParseAddr(n.NetworkIP); err == nil {
			s.internalIPs.release(a)
		}
		for _, ac := range n.AccessConfigs {
			if a, err := netip.ParseAddr(ac.NatIP); err == nil {
				s.externalIPs.release(a)
			}
		}
	}
}

// fingerprint is what GCE calls a fingerprint: an opaque hash of the
// current value that a writer must echo to prove it read it.
func fingerprint(v any) string {
	raw, _ := json.Marshal(v)
	sum := sha256.Sum256(raw)
	return base64.StdEncoding.EncodeToString(sum[:8])
}

func (s *Server) setInstanceTags(c *call) (any, *Error) {
	var tags compute.Tags
	if err := c.decode(&tags); err != nil {
		return nil, err
	}
	return s.mutate(c, "setTags", func(o *operation) (ref, uint64, *Error) {
		rf := c.ref("instances")
		r, err := idle(s.instances, rf)
		if err != nil {
			return rf, 0, err
		}
		if tags.Fingerprint != r.obj.Tags.Fingerprint {
			return rf, 0, &Error{Code: http.StatusPreconditionFailed, Reason: ReasonConditionNotMet,
				Message: "Supplied fingerprint does not match current metadata fingerprint."}
		}
		for _, t := range tags.Items {
			if !validName(t) {
				return rf, 0, errInvalidField("resource.tags.items", t, "Must be a match of regex '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'")
			}
		}
		items := slices.Clone(tags.Items)
		slices.Sort(items)
		items = slices.Compact(items)
		r.obj.Tags = &compute.Tags{Items: items, Fingerprint: fingerprint(items)}
		update(r, o)
		return rf, r.id(), nil
	})
}

// updateInstance serves instances.update (PUT). Of what GCE lets update
// change, the fake models canIpForward, which needs the VM stopped
// (TERMINATED) or leave to restart it (mostDisruptiveAllowedAction=RESTART).
// Other fields must be omitted or equal to the current ones; the fake keeps
// omitted fields instead of clearing them as GCE's PUT does.
func (s *Server) updateInstance(c *call) (any, *Error) {
	var in compute.Instance
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	restartOK := q.Get("mostDisruptiveAllowedAction") == "RESTART"
	for _, p := range []string{"minimalAction", "mostDisruptiveAllowedAction"} {
		switch v := q.Get(p); v {
		case "", "NO_EFFECT", "REFRESH", "RESTART":
		default:
			return nil, errInvalidField(p, v, "Must be one of NO_EFFECT, REFRESH and RESTART.")
		}
	}
	return s.mutate(c, "update", func(o *operation) (ref, uint64, *Error) {
		rf := c.ref("instances")
		r, err := idle(s.instances, rf)
		if err != nil {
			return rf, 0, err
		}
		cur := r.obj
		switch {
		case in.Name != "" && in.Name != cur.Name:
			return rf, 0, errInvalidField("resource.name", in.Name, "The name of an instance cannot change.")
		case in.Fingerprint == "":
			return rf, 0, errRequired("resource.fingerprint")
		case in.Fingerprint != cur.Fingerprint:
			return rf, 0, &Error{Code: http.StatusPreconditionFailed, Reason: ReasonConditionNotMet,
				Message: "Supplied fingerprint does not match current instance fingerprint."}
		case in.MachineType != "" && lastSegment(in.MachineType) != lastSegment(cur.MachineType),
			in.Tags != nil && !slices.Equal(in.Tags.Items, cur.Tags.Items),
			in.Status != "" && in.Status != cur.Status:
			return rf, 0, errInvalid("The fake's instances.update changes canIpForward only; use setTags, stop and start for the rest.")
		}
		if in.CanIpForward == cur.CanIpForward {
			update(r, o)
			return rf, r.id(), nil
		}
		if cur.Status != StatusTerminated && !restartOK {
			return rf, 0, errInvalid("Changing canIpForward of instance %s requires it to be stopped (it is %s), "+
				"or mostDisruptiveAllowedAction=RESTART.", rf.path(), cur.Status)
		}
		// With RESTART allowed GCE stops the VM, updates it and starts it
		// again; the fake shows only the end state.
		cur.CanIpForward = in.CanIpForward
		cur.Fingerprint = instanceFingerprint(cur)
		update(r, o)
		return rf, r.id(), nil
	})
}

// stopInstance serves instances.stop: the VM is STOPPING until the
// operation ends, then TERMINATED. Stopping a stopped VM changes nothing.
func (s *Server) stopInstance(c *call) (any, *Error) {
	return s.setPower(c, "stop", StatusStopping, StatusTerminated)
}

// startInstance serves instances.start: the VM is RUNNING when the
// operation ends.
func (s *Server) startInstance(c *call) (any, *Error) {
	return s.setPower(c, "start", "", StatusRunning)
}

func (s *Server) setPower(c *call, opType, during, after string) (any, *Error) {
	return s.mutate(c, opType, func(o *operation) (ref, uint64, *Error) {
		rf := c.ref("instances")
		r, err := idle(s.instances, rf)
		if err != nil {
			return rf, 0, err
		}
		if r.obj.Status == after {
			return rf, r.id(), nil
		}
		if during != "" {
			r.obj.Status = during
		}
		update(r, o)
		o.finish = append(o.finish, func() {
			r.obj.Status = after
			r.render()
		})
		return rf, r.id(), nil
	})
}

func (s *Server) deleteInstance(c *call) (any, *Error) {
	return deleteOne(s, s.instances, c, nil, func(inst *compute.Instance) {
		s.releaseInstanceIPs(inst)
		s.dropMember(inst)
	})
}

// aggregatedInstances serves aggregated/instances: every zone's instances in
// one paged list, keyed by "zones/Z" as GCE does.
func (s *Server) aggregatedInstances(c *call) (any, *Error) {
	return aggregatedZonal(s, s.instances, c, "instances", "compute#instanceAggregatedList")
}
