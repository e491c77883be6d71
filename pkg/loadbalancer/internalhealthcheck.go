package loadbalancer

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// desiredInternalHealthCheck is an internal load balancer's health check
// (healthChecks API): the cluster's shared check of kube-proxy for
// externalTrafficPolicy Cluster, the Service's own on healthCheckNodePort
// for Local; the external load balancers' settings.
func desiredInternalHealthCheck(sp *internalSpec, clusterID string) *computepb.HealthCheck {
	shared := !sp.local
	port := int32(nodesHealthCheckPort)
	if sp.local {
		port = sp.hcPort
	}
	return &computepb.HealthCheck{
		Name:               ptr(internalHealthCheckName(sp.lbName, clusterID, shared)),
		Description:        ptr(internalHealthCheckDescription(sp.key, shared)),
		Type:               ptr("HTTP"),
		CheckIntervalSec:   ptr(int32(hcIntervalSec)),
		TimeoutSec:         ptr(int32(hcTimeoutSec)),
		HealthyThreshold:   ptr(int32(hcHealthyThreshold)),
		UnhealthyThreshold: ptr(int32(hcUnhealthyThreshold)),
		HttpHealthCheck:    &computepb.HTTPHealthCheck{Port: &port, RequestPath: ptr(healthCheckPath)},
	}
}

// internalHealthCheckNeedsUpdate reports whether a health check probes
// something else than want, or more eagerly than the defaults; slower
// settings someone chose are kept, as for the legacy checks.
func internalHealthCheckNeedsUpdate(want, have *computepb.HealthCheck) bool {
	h := have.GetHttpHealthCheck()
	return h == nil || have.GetType() != want.GetType() ||
		h.GetPort() != want.GetHttpHealthCheck().GetPort() ||
		h.GetRequestPath() != want.GetHttpHealthCheck().GetRequestPath() ||
		have.GetDescription() != want.GetDescription() ||
		have.GetCheckIntervalSec() < want.GetCheckIntervalSec() ||
		have.GetTimeoutSec() < want.GetTimeoutSec() ||
		have.GetHealthyThreshold() < want.GetHealthyThreshold() ||
		have.GetUnhealthyThreshold() < want.GetUnhealthyThreshold()
}

// mergeInternalHealthCheck is want with the slower of each tuning value.
func mergeInternalHealthCheck(want, have *computepb.HealthCheck) *computepb.HealthCheck {
	out := &computepb.HealthCheck{
		Name: want.Name, Description: want.Description, Type: want.Type, HttpHealthCheck: want.HttpHealthCheck,
		CheckIntervalSec:   ptr(max(want.GetCheckIntervalSec(), have.GetCheckIntervalSec())),
		TimeoutSec:         ptr(max(want.GetTimeoutSec(), have.GetTimeoutSec())),
		HealthyThreshold:   ptr(max(want.GetHealthyThreshold(), have.GetHealthyThreshold())),
		UnhealthyThreshold: ptr(max(want.GetUnhealthyThreshold(), have.GetUnhealthyThreshold())),
	}
	if out.GetTimeoutSec() > out.GetCheckIntervalSec() {
		out.TimeoutSec = out.CheckIntervalSec
	}
	return out
}

// ownedInternalHealthCheck: a Service's own check names the Service; the
// shared one carries the cluster id in its name and no description (as the
// long-standing provider makes it).
func ownedInternalHealthCheck(description, key string, shared bool) bool {
	if shared {
		return description == ""
	}
	return ownedByService(description, key)
}

// ensureInternalHealthCheck creates want or converges have to it and
// returns its URL for the backend service. The shared check is written
// once for the Services synced together, and read again before a change.
func (b *Balancer) ensureInternalHealthCheck(ctx context.Context, sp *internalSpec, want, have *computepb.HealthCheck) (string, error) {
	shared := !sp.local
	owner := sp.key
	if shared {
		owner = "the cluster's internal load balancers"
	}
	ensure := func() (string, error) {
		logger := klog.FromContext(ctx).WithValues("healthCheck", want.GetName())
		link := internalHealthCheckURL(b.opts.Project, want.GetName())
		have := have
		// What was read before this flight may be stale: another Service's
		// flight may have made or changed it since.
		if shared && (have == nil || internalHealthCheckNeedsUpdate(want, have)) {
			var err error
			if have, err = getOptional(ctx, b.api.GetHealthCheck, want.GetName()); err != nil {
				return "", err
			}
		}
		if have == nil {
			err := b.api.InsertHealthCheck(ctx, want)
			if err == nil {
				logger.V(2).Info("Created health check", "port", want.GetHttpHealthCheck().GetPort(), "path", want.GetHttpHealthCheck().GetRequestPath())
				return link, nil
			}
			if !gce.IsAlreadyExists(err) {
				return "", err
			}
			if have, err = b.api.GetHealthCheck(ctx, want.GetName()); err != nil {
				return "", err
			}
			if !ownedInternalHealthCheck(have.GetDescription(), sp.key, shared) {
				return "", notOwned("health check", want.GetName(), have.GetDescription(), owner)
			}
		}
		if !internalHealthCheckNeedsUpdate(want, have) {
			return link, nil
		}
		if err := b.api.PatchHealthCheck(ctx, mergeInternalHealthCheck(want, have)); err != nil {
			return "", err
		}
		logger.V(2).Info("Updated health check", "port", want.GetHttpHealthCheck().GetPort(), "path", want.GetHttpHealthCheck().GetRequestPath())
		return link, nil
	}
	if !shared {
		return ensure()
	}
	return b.shared.do(ctx, "healthChecks/"+want.GetName(), ensure)
}

// deleteInternalHealthCheck deletes a health check and then its firewall;
// a check another backend service still uses is kept, with its firewall.
func (b *Balancer) deleteInternalHealthCheck(ctx context.Context, svc *v1.Service, hcName string) error {
	logger := klog.FromContext(ctx).WithValues("healthCheck", hcName)
	err := retryNotReady(ctx, func() error { return b.api.DeleteHealthCheck(ctx, hcName) })
	switch {
	case gce.IsInUse(err):
		logger.V(4).Info("Keeping health check: another backend service uses it")
		return nil
	case err == nil:
		logger.V(2).Info("Deleted health check")
	case !gce.IsNotFound(err):
		return err
	}
	return b.deleteFirewall(ctx, svc, internalHealthCheckFirewallName(hcName))
}
