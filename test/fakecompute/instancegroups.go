package fakecompute

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// Unmanaged zonal instance groups. The group resource has no list of its
// members, so the fake keeps them beside it (Server.igMembers, by the
// group's key); size follows them.

// ReasonMemberAlreadyExists is GCE's reason, with 400 on the addInstances
// call itself, for an instance that is already a member of the group.
const ReasonMemberAlreadyExists = "memberAlreadyExists"

func errMemberExists(inst, group string) *Error {
	return &Error{Code: http.StatusBadRequest, Reason: ReasonMemberAlreadyExists,
		Message: fmt.Sprintf("Resource '%s' is already a member of '%s'.", inst, group)}
}

// errNotMember is what removeInstances answers for an instance that is not
// in the group: a 404 on the call (Terraform's provider relies on the code).
func errNotMember(inst, group string) *Error {
	return &Error{Code: http.StatusNotFound, Reason: ReasonNotFound,
		Message: fmt.Sprintf("The resource '%s' is not a member of '%s'.", inst, group)}
}

func errFingerprint() *Error {
	return &Error{Code: http.StatusPreconditionFailed, Reason: ReasonConditionNotMet,
		Message: "Supplied fingerprint does not match current fingerprint."}
}

func (s *Server) instanceGroupsInit(get, post, del, p, z string) {
	s.endpoint(get+z+"instanceGroups", "instanceGroups.list", false, func(c *call) (any, *Error) {
		return listAll(s, s.instanceGroups, c, "compute#instanceGroupList")
	})
	s.endpoint(get+z+"instanceGroups/{name}", "instanceGroups.get", false, func(c *call) (any, *Error) {
		return getOne(s, s.instanceGroups, c)
	})
	s.endpoint(post+z+"instanceGroups", "instanceGroups.insert", true, s.insertInstanceGroup)
	s.endpoint(del+z+"instanceGroups/{name}", "instanceGroups.delete", true, s.deleteInstanceGroup)
	s.endpoint(post+z+"instanceGroups/{name}/addInstances", "instanceGroups.addInstances", true, s.addGroupInstances)
	s.endpoint(post+z+"instanceGroups/{name}/removeInstances", "instanceGroups.removeInstances", true, s.removeGroupInstances)
	s.endpoint(post+z+"instanceGroups/{name}/setNamedPorts", "instanceGroups.setNamedPorts", true, s.setGroupNamedPorts)
	s.endpoint(post+z+"instanceGroups/{name}/listInstances", "instanceGroups.listInstances", false, s.listGroupInstances)
	s.endpoint(get+p+"aggregated/instanceGroups", "instanceGroups.aggregatedList", false, func(c *call) (any, *Error) {
		return aggregatedZonal(s, s.instanceGroups, c, "instanceGroups", "compute#instanceGroupAggregatedList")
	})
}

func checkNamedPorts(field string, ports []*compute.NamedPort) *Error {
	for _, np := range ports {
		if np == nil || !validName(np.Name) {
			return errInvalidField(field+".name", np, "Must be a match of regex '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'")
		}
		if np.Port < 1 || np.Port > 65535 {
			return errInvalidField(field+".port", np.Port, "Must be between 1 and 65535.")
		}
	}
	return nil
}

func namedPortsFingerprint(ports []*compute.NamedPort) string { return fingerprint(ports) }

func (s *Server) insertInstanceGroup(c *call) (any, *Error) {
	var in compute.InstanceGroup
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: c.scope, kind: "instanceGroups", name: in.Name}
		if err := checkNew(s.instanceGroups, rf); err != nil {
			return rf, 0, err
		}
		ig := in
		if err := s.completeInstanceGroup(c.project, c.scope, &ig); err != nil {
			return rf, 0, err
		}
		ig.Kind = "compute#instanceGroup"
		ig.Id = s.newID()
		ig.CreationTimestamp = s.timestamp()
		ig.Zone = scopeLink(c.project, c.scope)
		ig.SelfLink = rf.link()
		ig.Size = 0
		ig.Region = ""
		r := insertRecord(s.instanceGroups, rf, &ig, o)
		return rf, r.id(), nil
	})
}

// completeInstanceGroup checks an inserted group's network, subnetwork and
// named ports and makes the links canonical.
func (s *Server) completeInstanceGroup(project, scope string, ig *compute.InstanceGroup) *Error {
	if err := checkNamedPorts("resource.namedPorts", ig.NamedPorts); err != nil {
		return err
	}
	if ig.Subnetwork != "" {
		sub, subRef, err := resolve(s.subnetworks, "resource.subnetwork", ig.Subnetwork, project)
		if err != nil {
			return err
		}
		if subRef.scope != "regions/"+regionOf(strings.TrimPrefix(scope, "zones/")) {
			return errInvalidField("resource.subnetwork", ig.Subnetwork, "The subnetwork must be in the region of the instance group's zone.")
		}
		if ig.Network == "" {
			ig.Network = sub.obj.Network
		}
		ig.Subnetwork = sub.obj.SelfLink
	}
	if ig.Network != "" {
		n, _, err := resolve(s.networks, "resource.network", ig.Network, project)
		if err != nil {
			return err
		}
		ig.Network = n.obj.SelfLink
	}
	if ig.Subnetwork != "" {
		sub := s.subnetworks.get(mustRef(ig.Subnetwork, "subnetworks").key())
		if sub.obj.Network != ig.Network {
			return errInvalidField("resource.subnetwork", ig.Subnetwork, "The subnetwork is not in the instance group's network.")
		}
	}
	ig.Fingerprint = namedPortsFingerprint(ig.NamedPorts)
	return nil
}

// mustRef parses a canonical link the fake itself stored.
func mustRef(link, kind string) ref {
	rf, _ := parseRef(link, "", kind)
	return rf
}

// groupsUsing names a backend service that has the group as a backend.
func (s *Server) groupUser(link string) (string, bool) {
	for _, bs := range s.backendServices.items {
		for _, b := range bs.obj.Backends {
			if b != nil && b.Group == link {
				return bs.obj.SelfLink, bs.deleting
			}
		}
	}
	return "", false
}

func (s *Server) deleteInstanceGroup(c *call) (any, *Error) {
	return deleteOne(s, s.instanceGroups, c, func(r *record[compute.InstanceGroup]) (string, bool) {
		return s.groupUser(r.obj.SelfLink)
	}, func(ig *compute.InstanceGroup) {
		delete(s.igMembers, mustRef(ig.SelfLink, "instanceGroups").key())
	})
}

// changeGroup serves the methods that change an instance group: change
// edits a copy of the group and of its members, returning an error to
// refuse the call.
func (s *Server) changeGroup(c *call, opType string, body any, change func(ig *compute.InstanceGroup, members *[]string) *Error) (any, *Error) {
	if err := c.decode(body); err != nil {
		return nil, err
	}
	return s.mutate(c, opType, func(o *operation) (ref, uint64, *Error) {
		rf := c.ref("instanceGroups")
		r, err := idle(s.instanceGroups, rf)
		if err != nil {
			return rf, 0, err
		}
		ig := *r.obj
		ig.NamedPorts = slices.Clone(ig.NamedPorts)
		members := slices.Clone(s.igMembers[rf.key()])
		if err := change(&ig, &members); err != nil {
			return rf, 0, err
		}
		slices.Sort(members)
		s.igMembers[rf.key()] = members
		ig.Size = int64(len(members))
		*r.obj = ig
		update(r, o)
		return rf, r.id(), nil
	})
}

// groupInstanceRefs checks the instance references of addInstances and
// removeInstances: present, at most MaxInstancesPerCall, well formed and in
// the group's zone. It returns their canonical links.
func (s *Server) groupInstanceRefs(c *call, refs []*compute.InstanceReference) ([]string, *Error) {
	links, err := s.instanceRefs(c, "instances", refs)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(links))
	for _, l := range links {
		rf, ok := parseRef(l, c.project, "instances")
		if !ok {
			return nil, errInvalidField("instances.instance", l, "Must be a URL to a valid Compute resource of the correct type.")
		}
		if rf.scope != c.scope || rf.project != c.project {
			return nil, errInvalidField("instances.instance", l, "The instance must be in the zone and project of the instance group.")
		}
		if !slices.Contains(out, rf.link()) {
			out = append(out, rf.link())
		}
	}
	return out, nil
}

func (s *Server) addGroupInstances(c *call) (any, *Error) {
	var req compute.InstanceGroupsAddInstancesRequest
	return s.changeGroup(c, "addInstances", &req, func(ig *compute.InstanceGroup, members *[]string) *Error {
		links, err := s.groupInstanceRefs(c, req.Instances)
		if err != nil {
			return err
		}
		groupPath := mustRef(ig.SelfLink, "instanceGroups").path()
		for _, l := range links {
			inst, rf, err := resolve(s.instances, "instances.instance", l, c.project)
			if err != nil {
				return err
			}
			if slices.Contains(*members, l) {
				return errMemberExists(rf.path(), groupPath)
			}
			var nicNet string
			if len(inst.obj.NetworkInterfaces) > 0 {
				nicNet = inst.obj.NetworkInterfaces[0].Network
			}
			if ig.Network == "" {
				// A group made without a network takes its first member's.
				ig.Network = nicNet
			}
			if nicNet != ig.Network {
				return errInvalidField("instances.instance", l,
					fmt.Sprintf("Resource '%s' is in network '%s', but the instance group is in network '%s'.", rf.path(), nicNet, ig.Network))
			}
			*members = append(*members, l)
		}
		return nil
	})
}

func (s *Server) removeGroupInstances(c *call) (any, *Error) {
	var req compute.InstanceGroupsRemoveInstancesRequest
	return s.changeGroup(c, "removeInstances", &req, func(ig *compute.InstanceGroup, members *[]string) *Error {
		links, err := s.groupInstanceRefs(c, req.Instances)
		if err != nil {
			return err
		}
		groupPath := mustRef(ig.SelfLink, "instanceGroups").path()
		for _, l := range links {
			i := slices.Index(*members, l)
			if i < 0 {
				return errNotMember(mustRef(l, "instances").path(), groupPath)
			}
			*members = slices.Delete(*members, i, i+1)
		}
		return nil
	})
}

func (s *Server) setGroupNamedPorts(c *call) (any, *Error) {
	var req compute.InstanceGroupsSetNamedPortsRequest
	return s.changeGroup(c, "setNamedPorts", &req, func(ig *compute.InstanceGroup, _ *[]string) *Error {
		// The fingerprint is optional; a stale one is refused.
		if req.Fingerprint != "" && req.Fingerprint != ig.Fingerprint {
			return errFingerprint()
		}
		if err := checkNamedPorts("namedPorts", req.NamedPorts); err != nil {
			return err
		}
		ig.NamedPorts = req.NamedPorts
		ig.Fingerprint = namedPortsFingerprint(ig.NamedPorts)
		return nil
	})
}

// listGroupInstances serves listInstances (a POST): the members with their
// status and the group's named ports, paged and filtered like any list.
func (s *Server) listGroupInstances(c *call) (any, *Error) {
	var req compute.InstanceGroupsListInstancesRequest
	if len(c.body) > 0 {
		// cloud.google.com/go/compute/apiv1 sends its whole request
		// message as the body, with the real body nested in it.
		var whole struct {
			Nested *compute.InstanceGroupsListInstancesRequest `json:"instanceGroupsListInstancesRequestResource"`
		}
		if err := c.decode(&whole); err != nil {
			return nil, err
		}
		if whole.Nested != nil {
			req = *whole.Nested
		} else if err := c.decode(&req); err != nil {
			return nil, err
		}
	}
	switch req.InstanceState {
	case "", "ALL", "RUNNING":
	default:
		return nil, errInvalidField("instanceState", req.InstanceState, "Must be ALL or RUNNING.")
	}
	p, err := parseListParams(c.r.URL.Query(), reflect.TypeFor[compute.InstanceWithNamedPorts]())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rf := c.ref("instanceGroups")
	r := s.instanceGroups.get(rf.key())
	if r == nil {
		return nil, errNotFound(rf.path())
	}
	var items []json.RawMessage
	next := ""
	for _, l := range s.igMembers[rf.key()] {
		if p.token != "" && l <= p.token {
			continue
		}
		status := ""
		if inst := s.instances.get(mustRef(l, "instances").key()); inst != nil {
			status = inst.obj.Status
		}
		if req.InstanceState == "RUNNING" && status != StatusRunning {
			continue
		}
		raw, _ := json.Marshal(&compute.InstanceWithNamedPorts{Instance: l, Status: status, NamedPorts: r.obj.NamedPorts})
		fields := map[string]any{}
		_ = json.Unmarshal(raw, &fields)
		if !p.filter.match(fields) {
			continue
		}
		if len(items) == p.max {
			next = encodeToken(lastLink(items))
			break
		}
		items = append(items, raw)
	}
	return listResponse{Kind: "compute#instanceGroupsListInstances", ID: rf.path(), Items: items,
		NextPageToken: next, SelfLink: rf.link() + "/listInstances"}, nil
}

// lastLink returns the instance link of the last item of a page.
func lastLink(items []json.RawMessage) string {
	var last compute.InstanceWithNamedPorts
	_ = json.Unmarshal(items[len(items)-1], &last)
	return last.Instance
}

// dropMember takes a deleted instance out of every group, as GCE does.
func (s *Server) dropMember(inst *compute.Instance) {
	for key, members := range s.igMembers {
		if i := slices.Index(members, inst.SelfLink); i >= 0 {
			s.igMembers[key] = slices.Delete(members, i, i+1)
			if r := s.instanceGroups.get(key); r != nil {
				r.obj.Size = int64(len(s.igMembers[key]))
				r.render()
			}
		}
	}
}

// aggregatedZonal serves aggregated/KIND for a zonal kind: every zone's
// resources in one paged list, keyed by "zones/Z" as GCE does.
func aggregatedZonal[T any](s *Server, t *table[T], c *call, field, listKind string) (any, *Error) {
	p, err := parseListParams(c.r.URL.Query(), reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	items, keys, next := t.page(c.project+"/zones/", p.filter, p.token, p.max)
	zones := slices.Clone(s.zones)
	s.mu.Unlock()
	out := map[string]map[string]any{}
	for _, z := range zones {
		out["zones/"+z] = map[string]any{"warning": map[string]any{
			"code": "NO_RESULTS_ON_PAGE", "message": "There are no results for scope 'zones/" + z + "' on this page.",
			"data": []map[string]string{{"key": "scope", "value": "zones/" + z}}}}
	}
	for i, k := range keys {
		// k is project/zones/Z/name
		parts := strings.SplitN(k, "/", 4)
		sc := out["zones/"+parts[2]]
		delete(sc, "warning")
		list, _ := sc[field].([]json.RawMessage)
		sc[field] = append(list, items[i])
	}
	return map[string]any{
		"kind":          listKind,
		"id":            "projects/" + c.project + "/aggregated/" + t.kind,
		"items":         out,
		"nextPageToken": encodeToken(next),
		"selfLink":      scopeLink(c.project, "aggregated/"+t.kind),
	}, nil
}
