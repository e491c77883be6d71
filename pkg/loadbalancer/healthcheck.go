package loadbalancer

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// desiredHealthCheck is the service's health check: its own on
// healthCheckNodePort for externalTrafficPolicy Local, so that only nodes
// with a ready local endpoint get traffic; else the cluster's shared check
// of kube-proxy.
func desiredHealthCheck(sp *spec, clusterID string) *gce.HTTPHealthCheck {
	name, port := nodesHealthCheckName(clusterID), int64(nodesHealthCheckPort)
	if sp.local {
		name, port = localHealthCheckName(sp.lbName), int64(sp.hcPort)
	}
	return &gce.HTTPHealthCheck{
		Name:               name,
		Description:        healthCheckDescription(name),
		Port:               port,
		RequestPath:        healthCheckPath,
		CheckIntervalSec:   hcIntervalSec,
		TimeoutSec:         hcTimeoutSec,
		HealthyThreshold:   hcHealthyThreshold,
		UnhealthyThreshold: hcUnhealthyThreshold,
	}
}

// healthCheckNeedsUpdate reports whether an existing health check probes
// something else than the wanted one, or probes more eagerly than the
// defaults. Slower settings that someone chose (a longer interval or
// timeout, higher thresholds) are kept.
func healthCheckNeedsUpdate(want, have *gce.HTTPHealthCheck) bool {
	return want.Port != have.Port ||
		want.RequestPath != have.RequestPath ||
		want.Host != have.Host ||
		want.Description != have.Description ||
		have.CheckIntervalSec < want.CheckIntervalSec ||
		have.TimeoutSec < want.TimeoutSec ||
		have.HealthyThreshold < want.HealthyThreshold ||
		have.UnhealthyThreshold < want.UnhealthyThreshold
}

// mergeHealthCheck is want with the slower of each tuning value.
func mergeHealthCheck(want, have *gce.HTTPHealthCheck) *gce.HTTPHealthCheck {
	out := *want
	out.CheckIntervalSec = max(want.CheckIntervalSec, have.CheckIntervalSec)
	out.TimeoutSec = max(want.TimeoutSec, have.TimeoutSec)
	out.HealthyThreshold = max(want.HealthyThreshold, have.HealthyThreshold)
	out.UnhealthyThreshold = max(want.UnhealthyThreshold, have.UnhealthyThreshold)
	if out.TimeoutSec > out.CheckIntervalSec {
		out.TimeoutSec = out.CheckIntervalSec
	}
	return &out
}

// ensureHealthCheck creates want or converges have to it, and returns the
// health check's URL for the target pool.
func (b *Balancer) ensureHealthCheck(ctx context.Context, want, have *gce.HTTPHealthCheck, owned func(string) bool, owner string) (string, error) {
	logger := klog.FromContext(ctx).WithValues("healthCheck", want.Name)
	link := healthCheckURL(b.opts.Project, want.Name)
	if have == nil {
		err := b.api.InsertHTTPHealthCheck(ctx, want)
		if err == nil {
			logger.V(2).Info("Created health check", "port", want.Port, "path", want.RequestPath)
			return link, nil
		}
		if !gce.IsAlreadyExists(err) {
			return "", err
		}
		// Made meanwhile, by another service sharing it or an earlier try.
		if have, err = b.api.GetHTTPHealthCheck(ctx, want.Name); err != nil {
			return "", err
		}
		if !owned(have.Description) {
			return "", notOwned("HTTP health check", want.Name, have.Description, owner)
		}
	}
	if !healthCheckNeedsUpdate(want, have) {
		return link, nil
	}
	merged := mergeHealthCheck(want, have)
	if err := b.api.UpdateHTTPHealthCheck(ctx, merged); err != nil {
		return "", err
	}
	logger.V(2).Info("Updated health check", "port", merged.Port, "path", merged.RequestPath)
	return link, nil
}

// deleteHealthCheck deletes a health check; one already gone is success.
func (b *Balancer) deleteHealthCheck(ctx context.Context, name string) error {
	err := b.api.DeleteHTTPHealthCheck(ctx, name)
	if gce.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Deleted health check", "healthCheck", name)
	return nil
}

// deleteNodesHealthCheck deletes the shared node health check and its
// firewall when no target pool uses the check any more.
func (b *Balancer) deleteNodesHealthCheck(ctx context.Context, svc *v1.Service, clusterID string) error {
	b.nodesHC.Lock()
	defer b.nodesHC.Unlock()
	name := nodesHealthCheckName(clusterID)
	err := retryNotReady(ctx, func() error { return b.api.DeleteHTTPHealthCheck(ctx, name) })
	switch {
	case gce.IsInUse(err):
		klog.FromContext(ctx).V(4).Info("Keeping shared health check: other load balancers use it", "healthCheck", name)
		return nil
	case err == nil:
		klog.FromContext(ctx).V(2).Info("Deleted shared health check: no load balancer uses it", "healthCheck", name)
	case !gce.IsNotFound(err):
		return err
	}
	return b.deleteFirewall(ctx, svc, nodesHealthCheckFirewallName(clusterID))
}

// running reports whether a write of key is in flight.
func (s *sharedWrites) running(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flights[key] != nil
}
