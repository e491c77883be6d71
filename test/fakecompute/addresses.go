package fakecompute

import (
	"net/netip"
	"slices"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// Address states.
const (
	AddressReserved = "RESERVED"
	AddressInUse    = "IN_USE"
)

// Purposes of INTERNAL addresses the fake models: one forwarding rule or
// VM (GCE_ENDPOINT, the default) or several forwarding rules on distinct
// ports (SHARED_LOADBALANCER_VIP).
const (
	purposeEndpoint  = "GCE_ENDPOINT"
	purposeSharedVIP = "SHARED_LOADBALANCER_VIP"
)

func (s *Server) insertAddress(c *call) (any, *Error) {
	var in compute.Address
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: c.scope, kind: "addresses", name: in.Name}
		if err := checkNew(s.addresses, rf); err != nil {
			return rf, 0, err
		}
		addr := in
		if addr.AddressType == "" {
			addr.AddressType = "EXTERNAL"
		}
		if addr.AddressType != "EXTERNAL" && addr.AddressType != "INTERNAL" {
			return rf, 0, errInvalidField("resource.addressType", addr.AddressType, "Must be EXTERNAL or INTERNAL.")
		}
		if addr.NetworkTier == "" {
			addr.NetworkTier = "PREMIUM"
		}
		if addr.NetworkTier != "PREMIUM" && addr.NetworkTier != "STANDARD" {
			return rf, 0, errInvalidField("resource.networkTier", addr.NetworkTier, "Must be PREMIUM or STANDARD.")
		}
		if limit, ok := s.quotas[QuotaAddresses]; ok {
			n := s.addresses.count(func(a *compute.Address) bool { return a.Region == scopeLink(c.project, c.scope) })
			if n >= limit {
				return rf, 0, errQuota(QuotaAddresses, limit, "in region "+strings.TrimPrefix(c.scope, "regions/"))
			}
		}
		pool := s.externalIPs
		internal := addr.AddressType == "INTERNAL"
		if internal {
			pool = s.internalIPs
			if err := s.completeInternalAddress(c, &addr); err != nil {
				return rf, 0, err
			}
		} else if addr.Subnetwork != "" || addr.Purpose != "" {
			return rf, 0, errInvalidField("resource.subnetwork", addr.Subnetwork, "subnetwork and purpose are for INTERNAL addresses.")
		}
		addr.Status = AddressReserved
		addr.Users = nil
		if addr.Address == "" {
			ip, ok := pool.take()
			if !ok {
				return rf, 0, errPoolExhausted
			}
			addr.Address = ip.String()
		} else {
			ip, err := netip.ParseAddr(addr.Address)
			if err != nil || !ip.Is4() {
				return rf, 0, errInvalidField("resource.address", addr.Address, "Not a valid IPv4 address.")
			}
			if internal {
				if sub := s.subnetworks.get(mustRef(addr.Subnetwork, "subnetworks").key()); !netip.MustParsePrefix(sub.obj.IpCidrRange).Contains(ip) {
					return rf, 0, errInvalidField("resource.address", addr.Address, "Requested internal IP is outside the subnetwork CIDR range.")
				}
			} else if !pool.prefix.Contains(ip) {
				return rf, 0, errInvalidField("resource.address", addr.Address, "The address is not in a range this project can reserve.")
			}
			if holder := s.addressByIP(c.project, c.scope, addr.Address); holder != nil {
				if internal {
					return rf, 0, errIPInUse(addr.Address)
				}
				return rf, 0, errInvalidField("resource.address", addr.Address, "The address is already reserved by '"+holder.SelfLink+"'.")
			}
			// An IP that a forwarding rule uses ephemerally is promoted to a
			// static address, as GCE does.
			users := s.forwardingRulesUsingIP(c.project, c.scope, addr.Address)
			if len(users) == 0 && pool.inUse(ip) {
				if internal {
					return rf, 0, errIPInUse(addr.Address)
				}
				return rf, 0, errInvalidField("resource.address", addr.Address, "The address is in use.")
			}
			pool.mark(ip)
			if len(users) > 0 {
				addr.Status = AddressInUse
				addr.Users = users
			}
		}
		addr.Kind = "compute#address"
		addr.Id = s.newID()
		addr.CreationTimestamp = s.timestamp()
		addr.Region = scopeLink(c.project, c.scope)
		addr.SelfLink = rf.link()
		r := insertRecord(s.addresses, rf, &addr, o)
		return rf, r.id(), nil
	})
}

// completeInternalAddress checks an INTERNAL address's subnetwork (by
// default the default network's in the region, as GCE picks it) and purpose.
func (s *Server) completeInternalAddress(c *call, addr *compute.Address) *Error {
	if addr.NetworkTier != "PREMIUM" {
		return errInvalidField("resource.networkTier", addr.NetworkTier, "An INTERNAL address is PREMIUM.")
	}
	if addr.Purpose == "" {
		addr.Purpose = purposeEndpoint
	}
	if addr.Purpose != purposeEndpoint && addr.Purpose != purposeSharedVIP {
		return errInvalidField("resource.purpose", addr.Purpose, "The fake models GCE_ENDPOINT and SHARED_LOADBALANCER_VIP.")
	}
	if addr.Subnetwork == "" {
		n := s.defaultNetwork(c.project)
		if n == nil || s.subnetworks.get(ref{project: c.project, scope: c.scope, kind: "subnetworks", name: n.Name}.key()) == nil {
			return errInvalidField("resource.subnetwork", "", "No default subnetwork was found for an address with type INTERNAL.")
		}
		addr.Subnetwork = ref{project: c.project, scope: c.scope, kind: "subnetworks", name: n.Name}.link()
	}
	sub, subRef, err := resolve(s.subnetworks, "resource.subnetwork", addr.Subnetwork, c.project)
	if err != nil {
		return err
	}
	if subRef.scope != c.scope {
		return errInvalidField("resource.subnetwork", addr.Subnetwork, "The subnetwork must be in the address's region.")
	}
	addr.Subnetwork = sub.obj.SelfLink
	return nil
}

func (s *Server) deleteAddress(c *call) (any, *Error) {
	return deleteOne(s, s.addresses, c,
		func(r *record[compute.Address]) (string, bool) {
			// GCE releases an EXTERNAL address that forwarding rules use:
			// the reservation goes and the rules keep the IP as an
			// ephemeral IP. The long-standing provider relies on it to
			// save static-address quota. An INTERNAL one in use is refused.
			if r.obj.AddressType != "INTERNAL" {
				return "", false
			}
			for _, u := range r.obj.Users {
				fr, ok := parseRef(u, c.project, "forwardingRules")
				if !ok {
					continue
				}
				if rec := s.fwdRules.get(fr.key()); rec != nil {
					return u, rec.deleting
				}
			}
			return "", false
		},
		func(a *compute.Address) {
			s.releaseIP(c.project, c.scope, a.Address)
		})
}

// releaseIP returns ip to its pool unless an address or a forwarding rule in
// the region still holds it: rules keep the IP of a released address until
// the last of them is deleted.
func (s *Server) releaseIP(project, scope, ip string) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return
	}
	if s.addressByIP(project, scope, ip) != nil || len(s.forwardingRulesUsingIP(project, scope, ip)) > 0 {
		return
	}
	if s.internalIPs.prefix.Contains(a) {
		s.internalIPs.release(a)
	} else {
		s.externalIPs.release(a)
	}
}

// addressByIP returns the address resource holding ip in the region, if any.
func (s *Server) addressByIP(project, scope, ip string) *compute.Address {
	for _, r := range s.addresses.items {
		if r.obj.Address == ip && r.obj.Region == scopeLink(project, scope) {
			return r.obj
		}
	}
	return nil
}

func (s *Server) forwardingRulesUsingIP(project, scope, ip string) []string {
	var users []string
	for _, r := range s.fwdRules.items {
		if r.obj.IPAddress == ip && r.obj.Region == scopeLink(project, scope) {
			users = append(users, r.obj.SelfLink)
		}
	}
	slices.Sort(users)
	return users
}

// setAddressUsers recomputes the users and status of the address holding ip.
func (s *Server) setAddressUsers(project, scope, ip string) {
	for key, r := range s.addresses.items {
		if r.obj.Address != ip || r.obj.Region != scopeLink(project, scope) {
			continue
		}
		r.obj.Users = s.forwardingRulesUsingIP(project, scope, ip)
		r.obj.Status = AddressReserved
		if len(r.obj.Users) > 0 {
			r.obj.Status = AddressInUse
		}
		s.addresses.items[key].render()
	}
}
