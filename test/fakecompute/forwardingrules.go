package fakecompute

import (
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
		pool, wantType := s.externalIPs, "EXTERNAL"
		if internal {
			pool, wantType = s.internalIPs, "INTERNAL"
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
			switch {
			case reserved == nil && internal:
				// An INTERNAL rule may name any free IP of its subnetwork,
				// which it then holds as an ephemeral IP.
				if prefix, err := netip.ParsePrefix(subnet.IpCidrRange); err != nil || !prefix.Contains(ip) {
					return rf, 0, errInvalidField("resource.IPAddress", fr.IPAddress, "The IP address is not in the range of subnetwork "+subnet.SelfLink+".")
				}
				if pool.inUse(ip) {
					return rf, 0, errInvalidField("resource.IPAddress", fr.IPAddress, "Specified IP address is in-use and would result in a conflict.")
				}
				pool.mark(ip)
			case reserved == nil:
				return rf, 0, errInvalidField("resource.IPAddress", fr.IPAddress,
					"The IP address is not a static address reserved in region "+strings.TrimPrefix(c.scope, "regions/")+".")
			case reserved.AddressType != wantType:
				return rf, 0, errInvalidField("resource.IPAddress", fr.IPAddress, "An "+wantType+" forwarding rule needs an "+wantType+" address.")
			case !internal && reserved.NetworkTier != fr.NetworkTier:
				return rf, 0, errInvalidField("resource.networkTier", fr.NetworkTier,
					"The network tier of the forwarding rule must match the tier of its address ("+reserved.NetworkTier+").")
			default:
				for _, other := range s.fwdRules.items {
					if other.obj.IPAddress == fr.IPAddress && other.obj.Region == scopeLink(c.project, c.scope) &&
						other.obj.IPProtocol == fr.IPProtocol && overlap(rulePorts(other.obj), rulePorts(&fr)) {
						return rf, 0, errInvalidField("resource.IPAddress", fr.IPAddress,
							"Specified IP address is in-use and would result in a conflict.")
					}
				}
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
		fr.Fingerprint = fingerprint(fr.Id)
		r := insertRecord(s.fwdRules, rf, &fr, o)
		if reserved != nil {
			s.setAddressUsers(c.project, c.scope, fr.IPAddress)
		}
		return rf, r.id(), nil
	})
}

// completeInternalRule checks the references of an INTERNAL rule and makes
// them canonical; it returns the rule's subnetwork, whose range its IP comes
// from. Backend services are not modelled: the backendService link is
// checked for its form only, not for existence.
func (s *Server) completeInternalRule(c *call, fr *compute.ForwardingRule) (*compute.Subnetwork, *Error) {
	if fr.Target != "" {
		return nil, errInvalidField("resource.target", fr.Target, "An INTERNAL forwarding rule forwards to a backend service, not to a target.")
	}
	if fr.BackendService == "" {
		return nil, errRequired("resource.backendService")
	}
	bs, ok := parseRef(fr.BackendService, c.project, "backendServices")
	if !ok || bs.scope != c.scope {
		return nil, errInvalidField("resource.backendService", fr.BackendService, "Must be a URL to a backend service in the rule's region.")
	}
	fr.BackendService = bs.link()
	if fr.Subnetwork == "" {
		return nil, errRequired("resource.subnetwork")
	}
	sub, subRef, err := resolve(s.subnetworks, "resource.subnetwork", fr.Subnetwork, c.project)
	if err != nil {
		return nil, err
	}
	if subRef.scope != c.scope {
		return nil, errInvalidField("resource.subnetwork", fr.Subnetwork, "The subnetwork must be in the rule's region.")
	}
	fr.Subnetwork = sub.obj.SelfLink
	if fr.Network != "" {
		n, _, err := resolve(s.networks, "resource.network", fr.Network, c.project)
		if err != nil {
			return nil, err
		}
		if n.obj.SelfLink != sub.obj.Network {
			return nil, errInvalidField("resource.network", fr.Network, "The subnetwork is not in this network.")
		}
	}
	fr.Network = sub.obj.Network
	return sub.obj, nil
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
