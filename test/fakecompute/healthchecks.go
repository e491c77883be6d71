package fakecompute

import (
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// The defaults GCE gives a legacy HTTP health check for fields left unset.
const (
	defaultHCPort        = 80
	defaultHCPath        = "/"
	defaultHCInterval    = 5
	defaultHCTimeout     = 5
	defaultHCHealthy     = 2
	defaultHCUnhealthy   = 2
	maxHCIntervalSeconds = 300
)

func (s *Server) insertHealthCheck(c *call) (any, *Error) {
	var in compute.HttpHealthCheck
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return s.mutate(c, "insert", func(o *operation) (ref, uint64, *Error) {
		rf := ref{project: c.project, scope: "global", kind: "httpHealthChecks", name: in.Name}
		if err := checkNew(s.healthChecks, rf); err != nil {
			return rf, 0, err
		}
		hc := in
		if err := completeHealthCheck(&hc); err != nil {
			return rf, 0, err
		}
		hc.Id = s.newID()
		hc.CreationTimestamp = s.timestamp()
		hc.SelfLink = rf.link()
		r := insertRecord(s.healthChecks, rf, &hc, o)
		return rf, r.id(), nil
	})
}

func completeHealthCheck(hc *compute.HttpHealthCheck) *Error {
	hc.Kind = "compute#httpHealthCheck"
	if hc.Port == 0 {
		hc.Port = defaultHCPort
	}
	if hc.RequestPath == "" {
		hc.RequestPath = defaultHCPath
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
	case hc.Port < 1 || hc.Port > 65535:
		return errInvalidField("resource.port", hc.Port, "Must be between 1 and 65535.")
	case !strings.HasPrefix(hc.RequestPath, "/"):
		return errInvalidField("resource.requestPath", hc.RequestPath, "Must start with '/'.")
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

func (s *Server) modifyHealthCheck(patch bool) handler {
	return func(c *call) (any, *Error) {
		return modify(s, s.healthChecks, c, patch, completeHealthCheck)
	}
}

func (s *Server) deleteHealthCheck(c *call) (any, *Error) {
	return deleteOne(s, s.healthChecks, c, func(r *record[compute.HttpHealthCheck]) (string, bool) {
		for _, tp := range s.targetPools.items {
			for _, hc := range tp.obj.HealthChecks {
				if hc == r.obj.SelfLink {
					return tp.obj.SelfLink, tp.deleting
				}
			}
		}
		return "", false
	}, nil)
}
