package fakecompute

import (
	"encoding/json"
	"net/netip"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

func (s *Server) insertFirewall(c *call) (any, *Error) {
	var in compute.Firewall
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	hasPriority := c.has("priority")
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: "global", kind: "firewalls", name: in.Name}
		if err := checkNew(s.firewalls, rf); err != nil {
			return rf, 0, err
		}
		if limit, ok := s.quotas[QuotaFirewalls]; ok {
			inProject := func(fw *compute.Firewall) bool {
				return strings.HasPrefix(fw.SelfLink, SelfLinkPrefix+"projects/"+c.project+"/")
			}
			if n := s.firewalls.count(inProject); n >= limit {
				return rf, 0, errQuota(QuotaFirewalls, limit, "globally")
			}
		}
		fw := in
		if !hasPriority {
			fw.Priority = 1000
		}
		if err := s.completeFirewall(c.project, &fw); err != nil {
			return rf, 0, err
		}
		fw.Id = s.newID()
		fw.CreationTimestamp = s.timestamp()
		fw.SelfLink = rf.link()
		r := insertRecord(s.firewalls, rf, &fw, o)
		return rf, r.id(), nil
	})
}

// completeFirewall applies the API's defaults and validates a firewall.
func (s *Server) completeFirewall(project string, fw *compute.Firewall) *Error {
	fw.Kind = "compute#firewall"
	if fw.Network == "" {
		fw.Network = "global/networks/" + s.cfg.Network
	}
	n, _, err := resolve(s.networks, "resource.network", fw.Network, project)
	if err != nil {
		return err
	}
	fw.Network = n.obj.SelfLink
	if fw.Direction == "" {
		fw.Direction = "INGRESS"
	}
	if fw.Direction != "INGRESS" && fw.Direction != "EGRESS" {
		return errInvalidField("resource.direction", fw.Direction, "Must be INGRESS or EGRESS.")
	}
	if fw.Priority < 0 || fw.Priority > 65535 {
		return errInvalidField("resource.priority", fw.Priority, "Must be between 0 and 65535.")
	}
	if (len(fw.Allowed) == 0) == (len(fw.Denied) == 0) {
		return errInvalid("Invalid value for field 'resource': exactly one of allowed and denied must be set.")
	}
	for _, a := range fw.Allowed {
		if err := checkFirewallRule("resource.allowed", a.IPProtocol, a.Ports); err != nil {
			return err
		}
	}
	for _, d := range fw.Denied {
		if err := checkFirewallRule("resource.denied", d.IPProtocol, d.Ports); err != nil {
			return err
		}
	}
	for _, field := range []struct {
		name   string
		ranges []string
	}{{"resource.sourceRanges", fw.SourceRanges}, {"resource.destinationRanges", fw.DestinationRanges}} {
		for _, r := range field.ranges {
			if _, err := netip.ParsePrefix(r); err != nil {
				if _, err := netip.ParseAddr(r); err != nil {
					return errInvalidField(field.name, r, "Must be a valid CIDR range or IP address.")
				}
			}
		}
	}
	for _, t := range append(append([]string{}, fw.TargetTags...), fw.SourceTags...) {
		if !validName(t) {
			return errInvalidField("resource.targetTags", t, "Must be a match of regex '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'")
		}
	}
	if fw.Direction == "INGRESS" && len(fw.SourceRanges) == 0 && len(fw.SourceTags) == 0 && len(fw.SourceServiceAccounts) == 0 {
		fw.SourceRanges = []string{"0.0.0.0/0"}
	}
	if fw.Direction == "EGRESS" && len(fw.DestinationRanges) == 0 {
		fw.DestinationRanges = []string{"0.0.0.0/0"}
	}
	return nil
}

func checkFirewallRule(field, proto string, ports []string) *Error {
	switch proto {
	case "tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all":
	default:
		if proto == "" {
			return errRequired(field + ".IPProtocol")
		}
		return errInvalidField(field+".IPProtocol", proto, "Must be tcp, udp, icmp, esp, ah, sctp, ipip or all.")
	}
	if len(ports) > 0 && proto != "tcp" && proto != "udp" && proto != "sctp" {
		return errInvalidField(field+".ports", ports, "Ports may be given only for tcp, udp and sctp.")
	}
	for _, p := range ports {
		if _, ok := parsePortRange(p); !ok {
			return errInvalidField(field+".ports", p, "Must be a port or a range lo-hi within 1-65535.")
		}
	}
	return nil
}

// modify serves patch (a JSON merge patch of the fields given) and update
// (replace) for resources with fixed name and id; complete applies defaults
// and validates.
func modify[T any](s *Server, t *table[T], c *call, patch bool, complete func(obj *T) *Error) (any, *Error) {
	return modifyWith(s, t, c, patch, nil, func(obj, _ *T) *Error { return complete(obj) })
}

// modifyWith is modify with more fields kept from the stored resource
// (beyond name, id, kind, selfLink and creationTimestamp) and a complete
// that also sees the stored resource.
func modifyWith[T any](s *Server, t *table[T], c *call, patch bool, keep []string, complete func(obj, current *T) *Error) (any, *Error) {
	if len(c.body) == 0 {
		return nil, errInvalid("Required request body is missing")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(c.body, &fields); err != nil {
		return nil, &Error{Code: 400, Reason: ReasonBadRequest, Message: "Invalid JSON payload received. " + err.Error()}
	}
	verb := "update"
	if patch {
		verb = "patch"
	}
	return s.mutate(c, verb, func(o *operation) (ref, uint64, *Error) {
		rf := c.ref(t.kind)
		r, err := idle(t, rf)
		if err != nil {
			return rf, 0, err
		}
		var current map[string]json.RawMessage
		_ = json.Unmarshal(r.raw, &current)
		merged := fields
		if patch {
			merged = mergePatch(current, fields)
		}
		if n, ok := fields["name"]; ok && string(n) != `"`+rf.name+`"` {
			return rf, 0, errInvalidField("resource.name", string(n), "The name cannot be changed.")
		}
		for _, k := range append([]string{"name", "id", "kind", "selfLink", "creationTimestamp"}, keep...) {
			if v, ok := current[k]; ok {
				merged[k] = v
			} else {
				delete(merged, k)
			}
		}
		raw, _ := json.Marshal(merged)
		var obj T
		if err := json.Unmarshal(raw, &obj); err != nil {
			return rf, 0, &Error{Code: 400, Reason: ReasonBadRequest, Message: "Invalid JSON payload received. " + err.Error()}
		}
		if err := complete(&obj, r.obj); err != nil {
			return rf, 0, err
		}
		*r.obj = obj
		update(r, o)
		return rf, r.id(), nil
	})
}

// mergePatch applies a JSON merge patch (RFC 7396) to a resource's fields:
// objects merge recursively, null removes, anything else replaces.
func mergePatch(current, patch map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(current)+len(patch))
	for k, v := range current {
		out[k] = v
	}
	for k, v := range patch {
		if string(v) == "null" {
			delete(out, k)
			continue
		}
		var sub, cur map[string]json.RawMessage
		if json.Unmarshal(v, &sub) == nil && sub != nil && json.Unmarshal(out[k], &cur) == nil && cur != nil {
			merged, _ := json.Marshal(mergePatch(cur, sub))
			out[k] = merged
			continue
		}
		out[k] = v
	}
	return out
}

func (s *Server) modifyFirewall(patch bool) handler {
	return func(c *call) (any, *Error) {
		priorityGiven := c.has("priority")
		return modify(s, s.firewalls, c, patch, func(fw *compute.Firewall) *Error {
			if !patch && !priorityGiven {
				fw.Priority = 1000
			}
			return s.completeFirewall(c.project, fw)
		})
	}
}

func (s *Server) deleteFirewall(c *call) (any, *Error) {
	return deleteOne(s, s.firewalls, c, nil, nil)
}
