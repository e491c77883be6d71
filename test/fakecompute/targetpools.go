package fakecompute

import (
	"slices"

	compute "google.golang.org/api/compute/v1"
)

var validAffinities = map[string]bool{"NONE": true, "CLIENT_IP": true, "CLIENT_IP_PROTO": true}

func (s *Server) insertTargetPool(c *call) (any, *Error) {
	var in compute.TargetPool
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: c.scope, kind: "targetPools", name: in.Name}
		if err := checkNew(s.targetPools, rf); err != nil {
			return rf, 0, err
		}
		tp := in
		if tp.SessionAffinity == "" {
			tp.SessionAffinity = "NONE"
		}
		if !validAffinities[tp.SessionAffinity] {
			return rf, 0, errInvalidField("resource.sessionAffinity", tp.SessionAffinity, "Must be NONE, CLIENT_IP or CLIENT_IP_PROTO.")
		}
		if len(tp.Instances) > s.cfg.MaxInstancesPerCall {
			return rf, 0, errInvalidField("resource.instances", len(tp.Instances), "Too many instances in one request.")
		}
		insts, err := s.resolveInstances(c.project, "resource.instances", tp.Instances)
		if err != nil {
			return rf, 0, err
		}
		tp.Instances = insts
		if len(tp.HealthChecks) > 1 {
			return rf, 0, errInvalidField("resource.healthChecks", len(tp.HealthChecks), "A target pool may have at most one health check.")
		}
		for i, hc := range tp.HealthChecks {
			r, _, err := resolve(s.healthChecks, "resource.healthChecks", hc, c.project)
			if err != nil {
				return rf, 0, err
			}
			tp.HealthChecks[i] = r.obj.SelfLink
		}
		tp.Kind = "compute#targetPool"
		tp.Id = s.newID()
		tp.CreationTimestamp = s.timestamp()
		tp.Region = scopeLink(c.project, c.scope)
		tp.SelfLink = rf.link()
		r := insertRecord(s.targetPools, rf, &tp, o)
		return rf, r.id(), nil
	})
}

// resolveInstances checks that every referenced instance exists and returns
// their canonical links, without duplicates.
func (s *Server) resolveInstances(project, field string, links []string) ([]string, *Error) {
	var out []string
	for _, l := range links {
		r, _, err := resolve(s.instances, field, l, project)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, r.obj.SelfLink) {
			out = append(out, r.obj.SelfLink)
		}
	}
	return out, nil
}

// changeTargetPool serves addInstance, removeInstance, addHealthCheck and
// removeHealthCheck: change edits the pool's copy, returning an error to
// refuse the call.
func (s *Server) changeTargetPool(c *call, opType string, body any, change func(tp *compute.TargetPool) *Error) (any, *Error) {
	if err := c.decode(body); err != nil {
		return nil, err
	}
	return s.mutate(c, opType, func(o *operation) (ref, uint64, *Error) {
		rf := c.ref("targetPools")
		r, err := idle(s.targetPools, rf)
		if err != nil {
			return rf, 0, err
		}
		tp := *r.obj
		tp.Instances = slices.Clone(tp.Instances)
		tp.HealthChecks = slices.Clone(tp.HealthChecks)
		if err := change(&tp); err != nil {
			return rf, 0, err
		}
		*r.obj = tp
		update(r, o)
		return rf, r.id(), nil
	})
}

func (s *Server) addTargetPoolInstances(c *call) (any, *Error) {
	var req compute.TargetPoolsAddInstanceRequest
	return s.changeTargetPool(c, "addInstance", &req, func(tp *compute.TargetPool) *Error {
		links, err := s.instanceRefs(c, "instances", req.Instances)
		if err != nil {
			return err
		}
		insts, err := s.resolveInstances(c.project, "instances", links)
		if err != nil {
			return err
		}
		for _, l := range insts {
			if !slices.Contains(tp.Instances, l) {
				tp.Instances = append(tp.Instances, l)
			}
		}
		return nil
	})
}

func (s *Server) removeTargetPoolInstances(c *call) (any, *Error) {
	var req compute.TargetPoolsRemoveInstanceRequest
	return s.changeTargetPool(c, "removeInstance", &req, func(tp *compute.TargetPool) *Error {
		links, err := s.instanceRefs(c, "instances", req.Instances)
		if err != nil {
			return err
		}
		for _, l := range links {
			rf, ok := parseRef(l, c.project, "instances")
			if !ok {
				return errInvalidField("instances", l, "Must be a URL to a valid Compute resource of the correct type.")
			}
			// A deleted VM can still be removed from a pool, so match by link.
			tp.Instances = slices.DeleteFunc(tp.Instances, func(have string) bool { return have == rf.link() })
		}
		return nil
	})
}

func (s *Server) instanceRefs(c *call, field string, refs []*compute.InstanceReference) ([]string, *Error) {
	if len(refs) == 0 {
		return nil, errRequired(field)
	}
	if len(refs) > s.cfg.MaxInstancesPerCall {
		return nil, errInvalidField(field, len(refs), "Too many instances in one request.")
	}
	links := make([]string, 0, len(refs))
	for _, r := range refs {
		if r == nil || r.Instance == "" {
			return nil, errRequired(field + ".instance")
		}
		links = append(links, r.Instance)
	}
	return links, nil
}

func (s *Server) addTargetPoolHealthCheck(c *call) (any, *Error) {
	var req compute.TargetPoolsAddHealthCheckRequest
	return s.changeTargetPool(c, "addHealthCheck", &req, func(tp *compute.TargetPool) *Error {
		if len(req.HealthChecks) != 1 || req.HealthChecks[0] == nil {
			return errInvalidField("healthChecks", len(req.HealthChecks), "Exactly one health check must be given.")
		}
		hc, _, err := resolve(s.healthChecks, "healthChecks", req.HealthChecks[0].HealthCheck, c.project)
		if err != nil {
			return err
		}
		if len(tp.HealthChecks) > 0 && tp.HealthChecks[0] != hc.obj.SelfLink {
			return errInvalidField("healthChecks", req.HealthChecks[0].HealthCheck, "A target pool may have at most one health check.")
		}
		tp.HealthChecks = []string{hc.obj.SelfLink}
		return nil
	})
}

func (s *Server) removeTargetPoolHealthCheck(c *call) (any, *Error) {
	var req compute.TargetPoolsRemoveHealthCheckRequest
	return s.changeTargetPool(c, "removeHealthCheck", &req, func(tp *compute.TargetPool) *Error {
		for _, h := range req.HealthChecks {
			if h == nil {
				continue
			}
			rf, ok := parseRef(h.HealthCheck, c.project, "httpHealthChecks")
			if !ok {
				return errInvalidField("healthChecks", h.HealthCheck, "Must be a URL to a valid Compute resource of the correct type.")
			}
			tp.HealthChecks = slices.DeleteFunc(tp.HealthChecks, func(have string) bool { return have == rf.link() })
		}
		return nil
	})
}

func (s *Server) deleteTargetPool(c *call) (any, *Error) {
	return deleteOne(s, s.targetPools, c, func(r *record[compute.TargetPool]) (string, bool) {
		for _, fr := range s.fwdRules.items {
			if fr.obj.Target == r.obj.SelfLink {
				return fr.obj.SelfLink, fr.deleting
			}
		}
		return "", false
	}, nil)
}
