package loadbalancer

import (
	"context"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// desiredBackendService is the regional backend service of an internal
// load balancer: the zones' instance groups behind the health check, with
// the Service's protocol and session affinity.
func desiredBackendService(name string, sp *internalSpec, groups []string, hcLink string) *computepb.BackendService {
	bs := &computepb.BackendService{
		Name:                &name,
		Description:         ptr(backendServiceDescription(sp.key, sp.shareBackend)),
		Protocol:            ptr(string(sp.protocol)),
		LoadBalancingScheme: ptr("INTERNAL"),
		SessionAffinity:     ptr(sp.affinity),
		HealthChecks:        []string{hcLink},
	}
	for _, g := range groups {
		bs.Backends = append(bs.Backends, &computepb.Backend{Group: ptr(g)})
	}
	return bs
}

// backendServiceNeedsUpdate compares what the long-standing provider
// compares: protocol, description, session affinity, scheme, health checks
// and the backends' groups (not their balancing settings, which GCE fills
// in and an admin may tune). An empty affinity is GCE's NONE.
func backendServiceNeedsUpdate(want, have *computepb.BackendService) bool {
	affinity := have.GetSessionAffinity()
	if affinity == "" {
		affinity = affinityNone
	}
	return want.GetProtocol() != have.GetProtocol() ||
		want.GetDescription() != have.GetDescription() ||
		want.GetSessionAffinity() != affinity ||
		want.GetLoadBalancingScheme() != have.GetLoadBalancingScheme() ||
		!slices.Equal(linkSet(want.GetHealthChecks()), linkSet(have.GetHealthChecks())) ||
		!slices.Equal(backendGroups(want), backendGroups(have))
}

// backendGroups is the set of a backend service's instance groups, by path.
func backendGroups(bs *computepb.BackendService) []string {
	var out []string
	for _, b := range bs.GetBackends() {
		out = append(out, b.GetGroup())
	}
	return linkSet(out)
}

// linkSet is a sorted set of resource paths.
func linkSet(links []string) []string {
	out := make([]string, 0, len(links))
	for _, l := range links {
		out = append(out, resourcePath(l))
	}
	return sortedSet(out)
}

// backendServicePatch is the patch that turns have into want. The backends
// of groups have already lists keep their settings; new ones take GCE's
// defaults. The fingerprint makes GCE refuse it if have is stale.
func backendServicePatch(want, have *computepb.BackendService) *computepb.BackendService {
	kept := map[string]*computepb.Backend{}
	for _, b := range have.GetBackends() {
		kept[resourcePath(b.GetGroup())] = b
	}
	patch := &computepb.BackendService{
		Name: want.Name, Description: want.Description, Protocol: want.Protocol, LoadBalancingScheme: want.LoadBalancingScheme,
		SessionAffinity: want.SessionAffinity, HealthChecks: want.HealthChecks, Fingerprint: have.Fingerprint,
	}
	for _, b := range want.GetBackends() {
		if k := kept[resourcePath(b.GetGroup())]; k != nil {
			b = k
		}
		patch.Backends = append(patch.Backends, b)
	}
	return patch
}

// ensureBackendService creates want or converges have to it. owned checks
// a backend service of that name found meanwhile.
func (b *Balancer) ensureBackendService(ctx context.Context, want, have *computepb.BackendService, owned func(*computepb.BackendService) bool, owner string) error {
	logger := klog.FromContext(ctx).WithValues("backendService", want.GetName())
	if have == nil {
		err := b.api.InsertRegionBackendService(ctx, want)
		if err == nil {
			logger.V(2).Info("Created backend service", "protocol", want.GetProtocol(), "sessionAffinity", want.GetSessionAffinity(),
				"groups", len(want.GetBackends()))
			return nil
		}
		if !gce.IsAlreadyExists(err) {
			return err
		}
		// Made meanwhile: by another Service sharing it, or an earlier try.
		if have, err = b.api.GetRegionBackendService(ctx, want.GetName()); err != nil {
			return err
		}
		if !owned(have) {
			return notOwned("backend service", want.GetName(), have.GetDescription(), owner)
		}
	}
	if !backendServiceNeedsUpdate(want, have) {
		return nil
	}
	if err := b.api.PatchRegionBackendService(ctx, backendServicePatch(want, have)); err != nil {
		return err
	}
	logger.V(2).Info("Updated backend service", "protocol", want.GetProtocol(), "sessionAffinity", want.GetSessionAffinity(),
		"groups", len(want.GetBackends()))
	return nil
}

// deleteBackendService deletes a backend service; one already gone is
// success, and so is one another forwarding rule still uses (a shared one).
func (b *Balancer) deleteBackendService(ctx context.Context, name string) error {
	err := retryNotReady(ctx, func() error { return b.api.DeleteRegionBackendService(ctx, name) })
	switch {
	case gce.IsNotFound(err):
		return nil
	case gce.IsInUse(err):
		klog.FromContext(ctx).V(4).Info("Keeping backend service: another forwarding rule uses it", "backendService", name)
		return nil
	case err != nil:
		return err
	}
	klog.FromContext(ctx).V(2).Info("Deleted backend service", "backendService", name)
	return nil
}
