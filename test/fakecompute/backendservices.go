package fakecompute

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// Regional backend services, as internal passthrough load balancers use
// them: scheme INTERNAL, protocol TCP, UDP or UNSPECIFIED, instance groups
// of the region as backends and one health check of the healthChecks API.
// EXTERNAL ones are stored with the same reference checks.

var bsAffinities = map[string]bool{"NONE": true, "CLIENT_IP": true, "CLIENT_IP_PROTO": true, "CLIENT_IP_PORT_PROTO": true}

// defaultBSTimeout is the timeoutSec GCE gives a backend service left without one.
const defaultBSTimeout = 30

func (s *Server) backendServicesInit(get, post, del, r string) {
	s.endpoint(get+r+"backendServices", "regionBackendServices.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.backendServices, c, "compute#backendServiceList")
	})
	s.endpoint(get+r+"backendServices/{name}", "regionBackendServices.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.backendServices, c)
	})
	s.endpoint(post+r+"backendServices", "regionBackendServices.insert", true, s.insertBackendService)
	s.endpoint("PATCH "+r+"backendServices/{name}", "regionBackendServices.patch", true, s.modifyBackendService(true))
	s.endpoint("PUT "+r+"backendServices/{name}", "regionBackendServices.update", true, s.modifyBackendService(false))
	s.endpoint(del+r+"backendServices/{name}", "regionBackendServices.delete", true, s.deleteBackendService)
	s.endpoint(post+r+"backendServices/{name}/getHealth", "regionBackendServices.getHealth", false, s.backendServiceHealth)
}

func (s *Server) insertBackendService(c *call) (any, *Error) {
	var in compute.BackendService
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: c.scope, kind: "backendServices", name: in.Name}
		if err := checkNew(s.backendServices, rf); err != nil {
			return rf, 0, err
		}
		bs := in
		bs.Region = scopeLink(c.project, c.scope)
		if err := s.completeBackendService(c.project, c.scope, &bs); err != nil {
			return rf, 0, err
		}
		bs.Kind = "compute#backendService"
		bs.Id = s.newID()
		bs.CreationTimestamp = s.timestamp()
		bs.SelfLink = rf.link()
		bs.Fingerprint = bsFingerprint(&bs)
		r := insertRecord(s.backendServices, rf, &bs, o)
		return rf, r.id(), nil
	})
}

// bsFingerprint hashes what a client may change.
func bsFingerprint(bs *compute.BackendService) string {
	c := *bs
	c.Fingerprint, c.Id, c.CreationTimestamp = "", 0, ""
	return fingerprint(&c)
}

// completeBackendService applies GCE's defaults and checks a backend
// service and its references, which it makes canonical.
func (s *Server) completeBackendService(project, scope string, bs *compute.BackendService) *Error {
	if bs.LoadBalancingScheme == "" {
		bs.LoadBalancingScheme = "EXTERNAL"
	}
	if bs.LoadBalancingScheme != "INTERNAL" && bs.LoadBalancingScheme != "EXTERNAL" {
		return errInvalidField("resource.loadBalancingScheme", bs.LoadBalancingScheme, "The fake models INTERNAL and EXTERNAL regional backend services.")
	}
	internal := bs.LoadBalancingScheme == "INTERNAL"
	if bs.Protocol == "" {
		bs.Protocol = "HTTP"
	}
	switch bs.Protocol {
	case "TCP", "UDP", "UNSPECIFIED":
	default:
		return errInvalidField("resource.protocol", bs.Protocol,
			"The protocol of a backend service with load balancing scheme "+bs.LoadBalancingScheme+" must be TCP, UDP or UNSPECIFIED.")
	}
	if bs.SessionAffinity == "" {
		bs.SessionAffinity = "NONE"
	}
	if !bsAffinities[bs.SessionAffinity] {
		return errInvalidField("resource.sessionAffinity", bs.SessionAffinity, "Must be NONE, CLIENT_IP, CLIENT_IP_PROTO or CLIENT_IP_PORT_PROTO.")
	}
	if bs.TimeoutSec == 0 {
		bs.TimeoutSec = defaultBSTimeout
	}
	if bs.ConnectionDraining != nil && (bs.ConnectionDraining.DrainingTimeoutSec < 0 || bs.ConnectionDraining.DrainingTimeoutSec > 3600) {
		return errInvalidField("resource.connectionDraining.drainingTimeoutSec", bs.ConnectionDraining.DrainingTimeoutSec, "Must be between 0 and 3600.")
	}
	if len(bs.HealthChecks) == 0 && internal {
		return errInvalidField("resource.healthChecks", "", "A backend service with load balancing scheme INTERNAL must have a health check.")
	}
	if len(bs.HealthChecks) > 1 {
		return errInvalidField("resource.healthChecks", strings.Join(bs.HealthChecks, ","), "A backend service may have at most one health check.")
	}
	for i, hc := range bs.HealthChecks {
		r, rf, err := resolve(s.hcs, "resource.healthChecks", hc, project)
		if err != nil {
			return err
		}
		if rf.scope != "global" && rf.scope != scope {
			return errInvalidField("resource.healthChecks", hc, "A regional health check must be in the backend service's region.")
		}
		bs.HealthChecks[i] = r.obj.SelfLink
	}
	if bs.Network != "" {
		n, _, err := resolve(s.networks, "resource.network", bs.Network, project)
		if err != nil {
			return err
		}
		bs.Network = n.obj.SelfLink
	}
	var groups []string
	for i, b := range bs.Backends {
		field := "resource.backends[" + strconv.Itoa(i) + "]"
		if b == nil || b.Group == "" {
			return errRequired(field + ".group")
		}
		g, rf, err := resolve(s.instanceGroups, field+".group", b.Group, project)
		if err != nil {
			return err
		}
		if "regions/"+regionOf(strings.TrimPrefix(rf.scope, "zones/")) != scope {
			return errInvalidField(field+".group", b.Group, "The instance group must be in the backend service's region.")
		}
		if slices.Contains(groups, g.obj.SelfLink) {
			return errInvalidField(field+".group", b.Group, "Duplicate backend group.")
		}
		groups = append(groups, g.obj.SelfLink)
		b.Group = g.obj.SelfLink
		if b.BalancingMode == "" {
			b.BalancingMode = "UTILIZATION"
			if internal {
				b.BalancingMode = "CONNECTION"
			}
		}
		if internal && b.BalancingMode != "CONNECTION" {
			return errInvalidField(field+".balancingMode", b.BalancingMode,
				"Balancing mode must be CONNECTION for a backend service with load balancing scheme INTERNAL.")
		}
	}
	return nil
}

func (s *Server) modifyBackendService(patch bool) handler {
	return func(c *call) (any, *Error) {
		var given struct {
			Fingerprint *string `json:"fingerprint"`
		}
		_ = json.Unmarshal(c.body, &given)
		return modifyWith(s, s.backendServices, c, patch, []string{"region"}, func(bs, current *compute.BackendService) *Error {
			// GCE documents an up-to-date fingerprint as required to
			// update a backend service (412 conditionNotMet otherwise); a
			// patch may leave it out, but not give a stale one.
			if (given.Fingerprint == nil && !patch) || (given.Fingerprint != nil && *given.Fingerprint != current.Fingerprint) {
				return errFingerprint()
			}
			if err := s.completeBackendService(c.project, c.scope, bs); err != nil {
				return err
			}
			// The forwarding rules on a backend service carry its scheme and
			// protocol: neither changes under them.
			for _, fr := range s.fwdRules.items {
				if fr.obj.BackendService != current.SelfLink {
					continue
				}
				if bs.LoadBalancingScheme != current.LoadBalancingScheme {
					return errInvalidField("resource.loadBalancingScheme", bs.LoadBalancingScheme,
						"The backend service is used by forwarding rule '"+fr.obj.SelfLink+"' of scheme "+fr.obj.LoadBalancingScheme+".")
				}
				if bs.Protocol != current.Protocol {
					return errInvalidField("resource.protocol", bs.Protocol,
						"The backend service is used by forwarding rule '"+fr.obj.SelfLink+"' with protocol "+fr.obj.IPProtocol+".")
				}
			}
			bs.Fingerprint = bsFingerprint(bs)
			return nil
		})
	}
}

// bsUser names a forwarding rule that uses the backend service.
func (s *Server) bsUser(link string) (string, bool) {
	for _, fr := range s.fwdRules.items {
		if fr.obj.BackendService == link {
			return fr.obj.SelfLink, fr.deleting
		}
	}
	return "", false
}

func (s *Server) deleteBackendService(c *call) (any, *Error) {
	return deleteOne(s, s.backendServices, c, func(r *record[compute.BackendService]) (string, bool) {
		return s.bsUser(r.obj.SelfLink)
	}, nil)
}

// backendServiceHealth serves getHealth: for one backend group, each
// member's health, HEALTHY while it is RUNNING (the fake runs no probes).
func (s *Server) backendServiceHealth(c *call) (any, *Error) {
	var req compute.ResourceGroupReference
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Group == "" {
		// cloud.google.com/go/compute/apiv1 may nest the body in its request message.
		var whole struct {
			Nested *compute.ResourceGroupReference `json:"resourceGroupReferenceResource"`
		}
		if json.Unmarshal(c.body, &whole) == nil && whole.Nested != nil {
			req = *whole.Nested
		}
	}
	if req.Group == "" {
		return nil, errRequired("resourceGroupReference.group")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rf := c.ref("backendServices")
	r := s.backendServices.get(rf.key())
	if r == nil {
		return nil, errNotFound(rf.path())
	}
	g, _, err := resolve(s.instanceGroups, "resourceGroupReference.group", req.Group, c.project)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(r.obj.Backends, func(b *compute.Backend) bool { return b.Group == g.obj.SelfLink }) {
		return nil, errInvalidField("resourceGroupReference.group", req.Group, "The instance group is not a backend of this backend service.")
	}
	out := &compute.BackendServiceGroupHealth{Kind: "compute#backendServiceGroupHealth"}
	for _, l := range s.igMembers[mustRef(g.obj.SelfLink, "instanceGroups").key()] {
		st := &compute.HealthStatus{Instance: l, HealthState: "UNHEALTHY"}
		if inst := s.instances.get(mustRef(l, "instances").key()); inst != nil {
			if len(inst.obj.NetworkInterfaces) > 0 {
				st.IpAddress = inst.obj.NetworkInterfaces[0].NetworkIP
			}
			if inst.obj.Status == StatusRunning {
				st.HealthState = "HEALTHY"
			}
		}
		out.HealthStatus = append(out.HealthStatus, st)
	}
	return out, nil
}
