package fakecompute

import (
	"net/netip"

	compute "google.golang.org/api/compute/v1"
)

// Quota metrics the fake enforces, settable with SetQuota.
const (
	QuotaRoutes          = "STATIC_ROUTES_PER_NETWORK" // routes per network
	QuotaAddresses       = "STATIC_ADDRESSES"          // addresses per region
	QuotaForwardingRules = "FORWARDING_RULES"          // forwarding rules per region
	QuotaFirewalls       = "FIREWALLS"                 // firewalls per project
)

func (s *Server) insertRoute(c *call) (any, *Error) {
	var in compute.Route
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	hasPriority := c.has("priority")
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: "global", kind: "routes", name: in.Name}
		if err := checkNew(s.routes, rf); err != nil {
			return rf, 0, err
		}
		route := in
		if route.Network == "" {
			return rf, 0, errRequired("resource.network")
		}
		netRec, netRef, err := resolve(s.networks, "resource.network", route.Network, c.project)
		if err != nil {
			return rf, 0, err
		}
		if netRef.project != c.project {
			return rf, 0, errInvalidField("resource.network", route.Network, "A route must be created in the project of its network.")
		}
		route.Network = netRec.obj.SelfLink
		p, perr := netip.ParsePrefix(route.DestRange)
		if route.DestRange == "" {
			return rf, 0, errRequired("resource.destRange")
		}
		if perr != nil || p.Masked() != p {
			return rf, 0, errInvalidField("resource.destRange", route.DestRange, "Must be a valid CIDR range with no host bits set.")
		}
		hops := 0
		for _, h := range []string{route.NextHopInstance, route.NextHopIp, route.NextHopGateway, route.NextHopIlb, route.NextHopVpnTunnel} {
			if h != "" {
				hops++
			}
		}
		if hops != 1 {
			return rf, 0, errInvalid("Invalid value for field 'resource': exactly one next hop must be set, got %d.", hops)
		}
		if route.NextHopInstance != "" {
			inst, _, err := resolve(s.instances, "resource.nextHopInstance", route.NextHopInstance, c.project)
			if err != nil {
				return rf, 0, err
			}
			route.NextHopInstance = inst.obj.SelfLink
			route.NextHopNetwork = ""
		}
		if route.NextHopIp != "" {
			if _, err := netip.ParseAddr(route.NextHopIp); err != nil {
				return rf, 0, errInvalidField("resource.nextHopIp", route.NextHopIp, "Not a valid IP address.")
			}
		}
		if !hasPriority {
			route.Priority = 1000
		}
		if route.Priority < 0 || route.Priority > 65535 {
			return rf, 0, errInvalidField("resource.priority", route.Priority, "Must be between 0 and 65535.")
		}
		if limit, ok := s.quotas[QuotaRoutes]; ok {
			n := s.routes.count(func(r *compute.Route) bool { return r.Network == route.Network })
			if n >= limit {
				return rf, 0, errQuota(QuotaRoutes, limit, "globally")
			}
		}
		route.Kind = "compute#route"
		route.Id = s.newID()
		route.CreationTimestamp = s.timestamp()
		route.SelfLink = rf.link()
		route.RouteType = "STATIC"
		route.RouteStatus = "ACTIVE"
		r := insertRecord(s.routes, rf, &route, o)
		return rf, r.id(), nil
	})
}
