package fakecompute

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"reflect"
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
		inst.NetworkInterfaces[i] = &n
	}
	return &inst, nil
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
		r := s.instances.get(rf.key())
		if r == nil {
			return rf, 0, errNotFound(rf.path())
		}
		if r.isBusy() {
			return rf, 0, errNotReady(rf.path())
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

func (s *Server) deleteInstance(c *call) (any, *Error) {
	return deleteOne(s, s.instances, c, nil, s.releaseInstanceIPs)
}

// aggregatedInstances serves aggregated/instances: every zone's instances in
// one paged list, keyed by "zones/Z" as GCE does.
func (s *Server) aggregatedInstances(c *call) (any, *Error) {
	p, err := parseListParams(c.r.URL.Query(), reflect.TypeFor[compute.Instance]())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	items, keys, next := s.instances.page(c.project+"/zones/", p.filter, p.token, p.max)
	zones := slices.Clone(s.zones)
	s.mu.Unlock()
	type scoped struct {
		Instances []json.RawMessage `json:"instances,omitempty"`
		Warning   map[string]any    `json:"warning,omitempty"`
	}
	out := map[string]*scoped{}
	for _, z := range zones {
		out["zones/"+z] = &scoped{Warning: map[string]any{
			"code": "NO_RESULTS_ON_PAGE", "message": "There are no results for scope 'zones/" + z + "' on this page.",
			"data": []map[string]string{{"key": "scope", "value": "zones/" + z}}}}
	}
	for i, k := range keys {
		// k is project/zones/Z/name
		parts := strings.SplitN(k, "/", 4)
		sc := out["zones/"+parts[2]]
		sc.Warning = nil
		sc.Instances = append(sc.Instances, items[i])
	}
	return map[string]any{
		"kind":          "compute#instanceAggregatedList",
		"id":            "projects/" + c.project + "/aggregated/instances",
		"items":         out,
		"nextPageToken": encodeToken(next),
		"selfLink":      scopeLink(c.project, "aggregated/instances"),
	}, nil
}
