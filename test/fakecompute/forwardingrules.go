package fakecompute

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

var validProtocols = map[string]bool{"TCP": true, "UDP": true, "ESP": true, "AH": true, "SCTP": true, "ICMP": true, "L3_DEFAULT": true}

// portSpan is an inclusive port range; an empty list of spans means all ports.
type portSpan struct{ lo, hi int }

func parsePortRange(s string) (portSpan, bool) {
	lo, hi, found := strings.Cut(s, "-")
	a, err1 := strconv.Atoi(lo)
	b := a
	var err2 error
	if found {
		b, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
		return portSpan{}, false
	}
	return portSpan{a, b}, true
}

func rulePorts(fr *compute.ForwardingRule) []portSpan {
	var out []portSpan
	if fr.PortRange != "" {
		if p, ok := parsePortRange(fr.PortRange); ok {
			out = append(out, p)
		}
	}
	for _, p := range fr.Ports {
		if sp, ok := parsePortRange(p); ok {
			out = append(out, sp)
		}
	}
	return out
}

func overlap(a, b []portSpan) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x.lo <= y.hi && y.lo <= x.hi {
				return true
			}
		}
	}
	return false
}

func (s *Server) insertForwardingRule(c *call) (any, *Error) {
	var in compute.ForwardingRule
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: c.scope, kind: "forwardingRules", name: in.Name}
		if err := checkNew(s.fwdRules, rf); err != nil {
			return rf, 0, err
		}
		fr := in
		if fr.IPProtocol == "" {
			fr.IPProtocol = "TCP"
		}
		if !validProtocols[fr.IPProtocol] {
			return rf, 0, errInvalidField("resource.IPProtocol", fr.IPProtocol, "Must be one of TCP, UDP, ESP, AH, SCTP, ICMP, L3_DEFAULT.")
		}
		if fr.LoadBalancingScheme == "" {
			fr.LoadBalancingScheme = "EXTERNAL"
		}
		if fr.LoadBalancingScheme != "EXTERNAL" && fr.LoadBalancingScheme != "INTERNAL" {
			return rf, 0, errInvalidField("resource.loadBalancingScheme", fr.LoadBalancingScheme, "The fake models EXTERNAL and INTERNAL forwarding rules.")
		}
		internal := fr.LoadBalancingScheme == "INTERNAL"
		if fr.NetworkTier == "" {
			fr.NetworkTier = "PREMIUM"
		}
		if fr.NetworkTier != "PREMIUM" && fr.NetworkTier != "STANDARD" {
			return rf, 0, errInvalidField("resource.networkTier", fr.NetworkTier, "Must be PREMIUM or STANDARD.")
		}
		if internal && fr.NetworkTier != "PREMIUM" {
			return rf, 0, errInvalidField("resource.networkTier", fr.NetworkTier, "An INTERNAL forwarding rule is PREMIUM.")
		}
		if fr.PortRange != "" && len(fr.Ports) > 0 {
			return rf, 0, errInvalid("Invalid value for field 'resource.ports': portRange and ports are mutually exclusive.")
		}
		if len(fr.Ports) > 5 {
			return rf, 0, errInvalidField("resource.ports", strings.Join(fr.Ports, ","), "At most 5 ports may be specified.")
		}
		if fr.PortRange != "" {
			if _, ok := parsePortRange(fr.PortRange); !ok {
				return rf, 0, errInvalidField("resource.portRange", fr.PortRange, "Must be a port or a range lo-hi within 1-65535.")
			}
		}
		for _, p := range fr.Ports {
			if sp, ok := parsePortRange(p); !ok || sp.lo != sp.hi {
				return rf, 0, errInvalidField("resource.ports", p, "Each port must be a single port within 1-65535.")
			}
		}
		if (fr.PortRange != "" || len(fr.Ports) > 0) && fr.IPProtocol != "TCP" && fr.IPProtocol != "UDP" && fr.IPProtocol != "SCTP" {
			return rf, 0, errInvalidField("resource.portRange", fr.PortRange, "Ports may be given only for TCP, UDP and SCTP.")
		}
		if fr.AllPorts && (fr.PortRange != "" || len(fr.Ports) > 0) {
			return rf, 0, errInvalidField("resource.allPorts", true, "allPorts excludes ports and portRange.")
		}
		if !internal && (fr.AllPorts || fr.AllowGlobalAccess) {
			return rf, 0, errInvalidField("resource.loadBalancingScheme", fr.LoadBalancingScheme,
				"allPorts and allowGlobalAccess are for INTERNAL forwarding rules; the fake models EXTERNAL ones with target pools.")
		}
		if internal && fr.PortRange != "" {
			return rf, 0, errInvalidField("resource.portRange", fr.PortRange, "An INTERNAL forwarding rule takes ports or allPorts, not portRange.")
		}
		if internal && len(fr.Ports) == 0 && !fr.AllPorts {
			return rf, 0, errInvalidField("resource.ports", "", "An INTERNAL forwarding rule needs ports or allPorts.")
		}
		var subnet *compute.Subnetwork
		if internal {
			sub, err := s.completeInternalRule(c, &fr)
			if err != nil {
				return rf, 0, err
			}
			subnet = sub
		} else {
			if fr.Target == "" {
				return rf, 0, errRequired("resource.target")
			}
			tp, _, err := resolve(s.targetPools, "resource.target", fr.Target, c.project)
			if err != nil {
				return rf, 0, err
			}
			fr.Target = tp.obj.SelfLink
		}
		if limit, ok := s.quotas[QuotaForwardingRules]; ok {
			n := s.fwdRules.count(func(f *compute.ForwardingRule) bool { return f.Region == scopeLink(c.project, c.scope) })
			if n >= limit {
				return rf, 0, errQuota(QuotaForwardingRules, limit, "in region "+strings.TrimPrefix(c.scope, "regions/"))
			}
		}
		pool := s.externalIPs
		if internal {
			pool = s.internalIPs
		}
		var reserved *compute.Address
		if fr.IPAddress != "" {
			if strings.Contains(fr.IPAddress, "/") {
				a, _, err := resolve(s.addresses, "resource.IPAddress", fr.IPAddress, c.project)
				if err != nil {
					return rf, 0, err
				}
				fr.IPAddress = a.obj.Address
			}
			ip, perr := netip.ParseAddr(fr.IPAddress)
			if perr != nil {
				return rf, 0, errInvalidField("resource.IPAddress", fr.IPAddress, "Not a valid IP address.")
			}
			reserved = s.addressByIP(c.project, c.scope, fr.IPAddress)
			if internal {
				if err := s.internalRuleIP(c, &fr, subnet, ip, reserved); err != nil {
					return rf, 0, err
				}
			} else if err := s.externalRuleIP(c, &fr, reserved); err != nil {
				return rf, 0, err
			}
		} else {
			ip, ok := pool.take()
			if !ok {
				return rf, 0, errPoolExhausted
			}
			fr.IPAddress = ip.String()
		}
		fr.Kind = "compute#forwardingRule"
		fr.Id = s.newID()
		fr.CreationTimestamp = s.timestamp()
		fr.Region = scopeLink(c.project, c.scope)
		fr.SelfLink = rf.link()
		fr.Fingerprint = ruleFingerprint(&fr)
		r := insertRecord(s.fwdRules, rf, &fr, o)
		if reserved != nil {
			s.setAddressUsers(c.project, c.scope, fr.IPAddress)
		}
		return rf, r.id(), nil
	})
}

// ruleFingerprint changes when what patch may change does.
func ruleFingerprint(fr *compute.ForwardingRule) string {
	return fingerprint([]any{fr.Id, fr.AllowGlobalAccess})
}

// externalRuleIP checks the IP an EXTERNAL rule names: a static address
// of the region, of the rule's tier, whose ports and protocol no other rule
// on it overlaps.
func (s *Server) externalRuleIP(c *call, fr *compute.ForwardingRule, reserved *compute.Address) *Error {
	switch {
	case reserved == nil:
		return errInvalidField("resource.IPAddress", fr.IPAddress,
			"The IP address is not a static address reserved in region "+strings.TrimPrefix(c.scope, "regions/")+".")
	case reserved.AddressType != "EXTERNAL":
		return errInvalidField("resource.IPAddress", fr.IPAddress, "An EXTERNAL forwarding rule needs an EXTERNAL address.")
	case reserved.NetworkTier != fr.NetworkTier:
		return errInvalidField("resource.networkTier", fr.NetworkTier,
			"The network tier of the forwarding rule must match the tier of its address ("+reserved.NetworkTier+").")
	}
	return s.checkSharedIP(c, fr)
}

// checkSharedIP refuses a rule whose IP, protocol and ports overlap another
// rule's, in GCE's words for the case.
func (s *Server) checkSharedIP(c *call, fr *compute.ForwardingRule) *Error {
	for _, other := range s.fwdRules.items {
		if other.obj.IPAddress == fr.IPAddress && other.obj.Region == scopeLink(c.project, c.scope) &&
			other.obj.IPProtocol == fr.IPProtocol && overlap(rulePorts(other.obj), rulePorts(fr)) {
			return errInvalidField("resource.IPAddress", fr.IPAddress, "Specified IP address is in-use and would result in a conflict.")
		}
	}
	return nil
}

// internalRuleIP checks the IP an INTERNAL rule names. It must be in the
// rule's subnetwork (else GCE's 400). A free IP becomes the rule's
// ephemeral IP. An INTERNAL address reserved in that subnetwork may be used
// by one rule (by several if its purpose is SHARED_LOADBALANCER_VIP); an IP
// that an instance, another rule or a used address holds fails the
// operation with IP_IN_USE_BY_ANOTHER_RESOURCE (409), as on GCE.
func (s *Server) internalRuleIP(c *call, fr *compute.ForwardingRule, subnet *compute.Subnetwork, ip netip.Addr, reserved *compute.Address) *Error {
	if prefix, err := netip.ParsePrefix(subnet.IpCidrRange); err != nil || !prefix.Contains(ip) {
		return errInvalidField("resource.IPAddress", fr.IPAddress, "Requested internal IP is outside the network/subnetwork range.")
	}
	if reserved == nil {
		if s.internalIPs.inUse(ip) {
			return errIPInUse(fr.IPAddress)
		}
		s.internalIPs.mark(ip)
		return nil
	}
	switch {
	case reserved.AddressType != "INTERNAL":
		return errInvalidField("resource.IPAddress", fr.IPAddress, "An INTERNAL forwarding rule needs an INTERNAL address.")
	case reserved.Subnetwork != "" && reserved.Subnetwork != fr.Subnetwork: // none: loaded from a dump of before subnetworks
		return errInvalidField("resource.IPAddress", fr.IPAddress, "Requested internal IP is outside the network/subnetwork range.")
	case reserved.Purpose == purposeSharedVIP:
		return s.checkSharedIP(c, fr)
	case len(s.forwardingRulesUsingIP(c.project, c.scope, fr.IPAddress)) > 0:
		return errIPInUse(fr.IPAddress)
	}
	return nil
}

// completeInternalRule checks the references of an INTERNAL rule and makes
// them canonical; it returns the rule's subnetwork, whose range its IP comes
// from. The backend service must exist in the rule's region with scheme
// INTERNAL and the rule's protocol. The subnetwork may be left out only
// when the network is in auto mode (GCE's rule): then it is the network's
// subnetwork in the region.
func (s *Server) completeInternalRule(c *call, fr *compute.ForwardingRule) (*compute.Subnetwork, *Error) {
	if fr.Target != "" {
		return nil, errInvalidField("resource.target", fr.Target, "An INTERNAL forwarding rule forwards to a backend service, not to a target.")
	}
	if fr.BackendService == "" {
		return nil, errRequired("resource.backendService")
	}
	bs, bsRef, err := resolve(s.backendServices, "resource.backendService", fr.BackendService, c.project)
	if err != nil {
		return nil, err
	}
	switch {
	case bsRef.scope != c.scope:
		return nil, errInvalidField("resource.backendService", fr.BackendService, "The backend service must be in the forwarding rule's region.")
	case bs.obj.LoadBalancingScheme != "INTERNAL":
		return nil, errInvalidField("resource.backendService", fr.BackendService,
			"The backend service's load balancing scheme "+bs.obj.LoadBalancingScheme+" does not match the forwarding rule's INTERNAL.")
	case bs.obj.Protocol != "UNSPECIFIED" && bs.obj.Protocol != fr.IPProtocol:
		return nil, errInvalidField("resource.IPProtocol", fr.IPProtocol,
			"The forwarding rule's protocol must match its backend service's protocol "+bs.obj.Protocol+".")
	}
	fr.BackendService = bs.obj.SelfLink
	var network *compute.Network
	if fr.Network != "" {
		n, _, err := resolve(s.networks, "resource.network", fr.Network, c.project)
		if err != nil {
			return nil, err
		}
		network = n.obj
	}
	if fr.Subnetwork == "" {
		if network == nil {
			network = s.defaultNetwork(c.project)
		}
		if network == nil || !network.AutoCreateSubnetworks {
			return nil, errRequired("resource.subnetwork")
		}
		fr.Subnetwork = ref{project: c.project, scope: c.scope, kind: "subnetworks", name: network.Name}.link()
	}
	sub, subRef, err := resolve(s.subnetworks, "resource.subnetwork", fr.Subnetwork, c.project)
	if err != nil {
		return nil, err
	}
	if subRef.scope != c.scope {
		return nil, errInvalidField("resource.subnetwork", fr.Subnetwork, "The subnetwork must be in the rule's region.")
	}
	fr.Subnetwork = sub.obj.SelfLink
	if network != nil && network.SelfLink != sub.obj.Network {
		return nil, errInvalidField("resource.network", fr.Network, "The subnetwork is not in this network.")
	}
	fr.Network = sub.obj.Network
	return sub.obj, nil
}

// defaultNetwork is the network GCE calls default: the fake's own network.
func (s *Server) defaultNetwork(project string) *compute.Network {
	r := s.networks.get(ref{project: project, scope: "global", kind: "networks", name: s.cfg.Network}.key())
	if r == nil {
		return nil
	}
	return r.obj
}

// patchForwardingRule serves forwardingRules.patch: GCE lets it change
// allowGlobalAccess of an INTERNAL rule (and the fake nothing else); a
// stale fingerprint is 412.
func (s *Server) patchForwardingRule(c *call) (any, *Error) {
	var given struct {
		Fingerprint *string `json:"fingerprint"`
	}
	_ = json.Unmarshal(c.body, &given)
	return modifyWith(s, s.fwdRules, c, true, []string{"region"}, func(fr, current *compute.ForwardingRule) *Error {
		if given.Fingerprint != nil && *given.Fingerprint != current.Fingerprint {
			return errFingerprint()
		}
		if fr.AllowGlobalAccess && fr.LoadBalancingScheme != "INTERNAL" {
			return errInvalidField("resource.allowGlobalAccess", true, "Only INTERNAL forwarding rules have global access.")
		}
		same := *fr
		same.AllowGlobalAccess, same.Fingerprint = current.AllowGlobalAccess, current.Fingerprint
		a, _ := json.Marshal(&same)
		b, _ := json.Marshal(current)
		if string(a) != string(b) {
			return errInvalid("Invalid value for field 'resource': the fake patches allowGlobalAccess of a forwarding rule only.")
		}
		fr.Fingerprint = ruleFingerprint(fr)
		return nil
	})
}

func (s *Server) setForwardingRuleTarget(c *call) (any, *Error) {
	var in compute.TargetReference
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return s.mutate(c, "setTarget", func(o *operation) (ref, uint64, *Error) {
		rf := c.ref("forwardingRules")
		r, err := idle(s.fwdRules, rf)
		if err != nil {
			return rf, 0, err
		}
		if r.obj.LoadBalancingScheme == "INTERNAL" {
			return rf, 0, errInvalidField("target", in.Target, "An INTERNAL forwarding rule forwards to a backend service, not to a target.")
		}
		tp, _, err := resolve(s.targetPools, "target", in.Target, c.project)
		if err != nil {
			return rf, 0, err
		}
		r.obj.Target = tp.obj.SelfLink
		update(r, o)
		return rf, r.id(), nil
	})
}

func (s *Server) deleteForwardingRule(c *call) (any, *Error) {
	return deleteOne(s, s.fwdRules, c, nil, func(fr *compute.ForwardingRule) {
		s.setAddressUsers(c.project, c.scope, fr.IPAddress)
		s.releaseIP(c.project, c.scope, fr.IPAddress)
	})
}
