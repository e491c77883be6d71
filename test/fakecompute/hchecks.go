package fakecompute

import (
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// Health checks of the healthChecks API (global) and regionHealthChecks,
// which backend services use. They are not the legacy httpHealthChecks
// (healthchecks.go) that target pools use: another collection, so one
// name may exist in both. Global and regional ones share a table; the
// key's scope tells them apart.

var hcTypes = map[string]bool{"TCP": true, "SSL": true, "HTTP": true, "HTTPS": true, "HTTP2": true, "GRPC": true}

func (s *Server) healthChecksInit(get, post, del, g, r string) {
	for _, sc := range []struct{ prefix, method string }{{g, "healthChecks"}, {r, "regionHealthChecks"}} {
		s.endpoint(get+sc.prefix+"healthChecks", sc.method+".list", false, func(c *call) (any, *Error) {
			return listAll(s, s.hcs, c, "compute#healthCheckList")
		})
		s.endpoint(get+sc.prefix+"healthChecks/{name}", sc.method+".get", false, func(c *call) (any, *Error) {
			return getOne(s, s.hcs, c)
		})
		s.endpoint(post+sc.prefix+"healthChecks", sc.method+".insert", true, s.insertHC)
		s.endpoint("PATCH "+sc.prefix+"healthChecks/{name}", sc.method+".patch", true, s.modifyHC(true))
		s.endpoint("PUT "+sc.prefix+"healthChecks/{name}", sc.method+".update", true, s.modifyHC(false))
		s.endpoint(del+sc.prefix+"healthChecks/{name}", sc.method+".delete", true, s.deleteHC)
	}
}

func (s *Server) insertHC(c *call) (any, *Error) {
	var in compute.HealthCheck
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: c.scope, kind: "healthChecks", name: in.Name}
		if err := checkNew(s.hcs, rf); err != nil {
			return rf, 0, err
		}
		hc := in
		if err := completeHC(&hc); err != nil {
			return rf, 0, err
		}
		hc.Id = s.newID()
		hc.CreationTimestamp = s.timestamp()
		hc.SelfLink = rf.link()
		hc.Region = ""
		if c.scope != "global" {
			hc.Region = scopeLink(c.project, c.scope)
		}
		r := insertRecord(s.hcs, rf, &hc, o)
		return rf, r.id(), nil
	})
}

// completeHC applies the defaults GCE gives a health check and validates it:
// a type, the settings of that type only, and the shared timing fields.
func completeHC(hc *compute.HealthCheck) *Error {
	hc.Kind = "compute#healthCheck"
	if hc.Type == "" {
		return errInvalidField("resource.type", "", "Must be one of TCP, SSL, HTTP, HTTPS, HTTP2, GRPC.")
	}
	if !hcTypes[hc.Type] {
		return errInvalidField("resource.type", hc.Type, "Must be one of TCP, SSL, HTTP, HTTPS, HTTP2, GRPC.")
	}
	set := map[string]bool{"TCP": hc.TcpHealthCheck != nil, "SSL": hc.SslHealthCheck != nil, "HTTP": hc.HttpHealthCheck != nil,
		"HTTPS": hc.HttpsHealthCheck != nil, "HTTP2": hc.Http2HealthCheck != nil, "GRPC": hc.GrpcHealthCheck != nil}
	for t, ok := range set {
		if ok && t != hc.Type {
			return errInvalid("Invalid value for field 'resource.%sHealthCheck': it does not match the health check type %s.", strings.ToLower(t), hc.Type)
		}
	}
	var port int64
	switch hc.Type {
	case "HTTP":
		if hc.HttpHealthCheck == nil {
			hc.HttpHealthCheck = &compute.HTTPHealthCheck{}
		}
		h := hc.HttpHealthCheck
		if h.Port == 0 && h.PortSpecification != "USE_SERVING_PORT" && h.PortName == "" {
			h.Port = 80
		}
		if h.RequestPath == "" {
			h.RequestPath = "/"
		}
		if h.ProxyHeader == "" {
			h.ProxyHeader = "NONE"
		}
		if !strings.HasPrefix(h.RequestPath, "/") {
			return errInvalidField("resource.httpHealthCheck.requestPath", h.RequestPath, "Must start with '/'.")
		}
		port = h.Port
	case "TCP":
		if hc.TcpHealthCheck == nil {
			hc.TcpHealthCheck = &compute.TCPHealthCheck{}
		}
		if hc.TcpHealthCheck.Port == 0 && hc.TcpHealthCheck.PortSpecification != "USE_SERVING_PORT" && hc.TcpHealthCheck.PortName == "" {
			hc.TcpHealthCheck.Port = 80
		}
		if hc.TcpHealthCheck.ProxyHeader == "" {
			hc.TcpHealthCheck.ProxyHeader = "NONE"
		}
		port = hc.TcpHealthCheck.Port
	}
	if port < 0 || port > 65535 {
		return errInvalidField("resource.port", port, "Must be between 1 and 65535.")
	}
	if hc.CheckIntervalSec == 0 {
		hc.CheckIntervalSec = defaultHCInterval
	}
	if hc.TimeoutSec == 0 {
		hc.TimeoutSec = defaultHCTimeout
	}
	if hc.HealthyThreshold == 0 {
		hc.HealthyThreshold = defaultHCHealthy
	}
	if hc.UnhealthyThreshold == 0 {
		hc.UnhealthyThreshold = defaultHCUnhealthy
	}
	switch {
	case hc.CheckIntervalSec < 1 || hc.CheckIntervalSec > maxHCIntervalSeconds:
		return errInvalidField("resource.checkIntervalSec", hc.CheckIntervalSec, "Must be between 1 and 300.")
	case hc.TimeoutSec < 1 || hc.TimeoutSec > hc.CheckIntervalSec:
		return errInvalidField("resource.timeoutSec", hc.TimeoutSec, "Must be between 1 and checkIntervalSec.")
	case hc.HealthyThreshold < 1 || hc.HealthyThreshold > 10:
		return errInvalidField("resource.healthyThreshold", hc.HealthyThreshold, "Must be between 1 and 10.")
	case hc.UnhealthyThreshold < 1 || hc.UnhealthyThreshold > 10:
		return errInvalidField("resource.unhealthyThreshold", hc.UnhealthyThreshold, "Must be between 1 and 10.")
	}
	return nil
}

func (s *Server) modifyHC(patch bool) handler {
	return func(c *call) (any, *Error) {
		return modifyWith(s, s.hcs, c, patch, []string{"region"}, func(hc, _ *compute.HealthCheck) *Error {
			return completeHC(hc)
		})
	}
}

// hcUser names a backend service that uses the health check.
func (s *Server) hcUser(link string) (string, bool) {
	for _, bs := range s.backendServices.items {
		for _, hc := range bs.obj.HealthChecks {
			if hc == link {
				return bs.obj.SelfLink, bs.deleting
			}
		}
	}
	return "", false
}

func (s *Server) deleteHC(c *call) (any, *Error) {
	return deleteOne(s, s.hcs, c, func(r *record[compute.HealthCheck]) (string, bool) {
		return s.hcUser(r.obj.SelfLink)
	}, nil)
}
