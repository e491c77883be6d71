package loadbalancer

import (
	"context"
	"errors"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// applyInternal writes what the plan says, in dependency order: the
// instance groups, the health check and its firewall, and (when it must be
// recreated) the removal of the forwarding rule, at once; then the backend
// service over the groups and the check; then the rule; then the firewall
// that names the rule's IP.
func (b *Balancer) applyInternal(ctx context.Context, p *internalPlan) error {
	// What is shared stays until this Service's rule uses it.
	b.ilb.shared.RLock()
	defer b.ilb.shared.RUnlock()
	var groups []string
	var hcLink string
	groupsDone := start(func() (err error) { groups, err = b.ensureInstanceGroups(ctx, p.clusterID, p.hosts); return err })
	hcDone := start(func() (err error) { hcLink, err = b.ensureInternalHealthCheck(ctx, p.sp, p.hc, p.obs.hc); return err })
	hcFWDone := start(func() error { return b.ensureInternalHealthCheckFirewall(ctx, p) })
	ruleGone := start(func() error {
		if !p.recreate {
			return nil
		}
		if p.hold {
			if err := b.holdAddress(ctx, p); err != nil {
				return err
			}
		}
		// Before the backend service changes: GCE refuses a backend
		// service a rule of another protocol uses.
		return b.deleteForwardingRule(ctx, p.sp.lbName)
	})
	if err := errors.Join(groupsDone.wait(), hcDone.wait(), ruleGone.wait()); err != nil {
		return errors.Join(err, hcFWDone.wait())
	}
	want := desiredBackendService(p.bsName, p.sp, groups, hcLink)
	err := b.ensureBackendService(ctx, want, p.obs.bs,
		func(bs *computepb.BackendService) bool { return ownedBackendService(bs, p.sp, p.clusterID) }, p.sp.key)
	if err == nil {
		p.ip, err = b.ensureInternalRule(ctx, p)
	}
	if err == nil {
		fw := internalFirewall(p.sp, p.ip, b.opts.NetworkURL, p.tags)
		err = b.ensureFirewall(ctx, p.svc, fw, p.obs.firewall, func(d string) bool { return ownedByService(d, p.sp.key) }, p.sp.key)
	}
	return errors.Join(err, hcFWDone.wait())
}

// cleanupInternal releases the address that held the IP while the rule was
// recreated, and deletes the backend service the rule left and the health
// check the backend service left (each kept while something else uses it).
func (b *Balancer) cleanupInternal(ctx context.Context, p *internalPlan) error {
	var fns []func() error
	if p.hold || p.releaseStale {
		fns = append(fns, func() error { return b.releaseHeldAddress(ctx, p.sp.lbName) })
	}
	if p.staleBS != "" || p.staleHC != "" {
		fns = append(fns, func() error {
			b.ilb.shared.Lock()
			defer b.ilb.shared.Unlock()
			if p.staleBS != "" {
				if err := b.deleteBackendService(ctx, p.staleBS); err != nil {
					return err
				}
			}
			if p.staleHC == "" {
				return nil
			}
			return b.deleteInternalHealthCheck(ctx, p.svc, p.staleHC)
		})
	}
	return parallel(fns...)
}
