package loadbalancer

import (
	"context"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
)

// internalLeft is what is left of a Service's internal load balancer; every
// resource in it passed its ownership check.
type internalLeft struct {
	rule     *computepb.ForwardingRule
	address  *computepb.Address
	bs       *computepb.BackendService // the Service's own
	localHC  *computepb.HealthCheck
	firewall *computepb.Firewall
	localFW  *computepb.Firewall // <lb>-hc
}

func (l *internalLeft) any() bool {
	return l.rule != nil || l.address != nil || l.bs != nil || l.localHC != nil || l.localFW != nil
}

// observeInternalLeft reads what a Service's internal load balancer may
// have left under its own names.
func (b *Balancer) observeInternalLeft(ctx context.Context, svc *v1.Service) (*internalLeft, error) {
	lbName, key := loadBalancerName(svc), serviceKey(svc)
	l := &internalLeft{}
	err := parallel(
		func() (err error) { l.rule, err = getOptional(ctx, b.api.GetForwardingRule, lbName); return err },
		func() (err error) { l.address, err = getOptional(ctx, b.api.GetAddress, lbName); return err },
		func() (err error) { l.bs, err = getOptional(ctx, b.api.GetRegionBackendService, lbName); return err },
		func() (err error) { l.localHC, err = getOptional(ctx, b.api.GetHealthCheck, lbName); return err },
		func() (err error) {
			l.firewall, err = getOptional(ctx, b.api.GetFirewall, firewallName(lbName))
			return err
		},
		func() (err error) {
			l.localFW, err = getOptional(ctx, b.api.GetFirewall, internalHealthCheckFirewallName(lbName))
			return err
		},
	)
	if err != nil {
		return nil, err
	}
	if fr := l.rule; fr != nil && (fr.GetLoadBalancingScheme() != "INTERNAL" || !ownedByService(fr.GetDescription(), key)) {
		l.rule = nil
	}
	if a := l.address; a != nil && (a.GetAddressType() != "INTERNAL" || !ownedByService(a.GetDescription(), key)) {
		l.address = nil
	}
	if bs := l.bs; bs != nil && !ownedByService(bs.GetDescription(), key) {
		l.bs = nil
	}
	if hc := l.localHC; hc != nil && !ownedByService(hc.GetDescription(), key) {
		l.localHC = nil
	}
	if fw := l.firewall; fw != nil && !ownedByService(fw.GetDescription(), key) {
		l.firewall = nil
	}
	if fw := l.localFW; fw != nil && !ownedHealthCheckFirewall(fw.GetDescription()) {
		l.localFW = nil
	}
	return l, nil
}

// findInternal reports whether anything of the Service's internal load
// balancer is left, and its IP when the rule is.
func (b *Balancer) findInternal(ctx context.Context, svc *v1.Service) (*v1.LoadBalancerStatus, bool, error) {
	l, err := b.observeInternalLeft(ctx, svc)
	if err != nil {
		return nil, false, err
	}
	if l.rule != nil {
		return status(l.rule.GetIPAddress()), true, nil
	}
	return &v1.LoadBalancerStatus{}, l.any(), nil
}

// ensureInternalDeleted deletes every resource of the Service's internal
// load balancer that passes its ownership check, in dependency order: the
// firewall at once; the forwarding rule, then its address and its backend
// service, then the health check with its firewall. What the cluster's
// internal load balancers share (instance groups, the shared health check,
// a shared backend service) goes too when nothing uses it any more, which
// GCE decides (it refuses to delete what is in use). It reports whether
// the Service had an internal load balancer at all.
func (b *Balancer) ensureInternalDeleted(ctx context.Context, svc *v1.Service) (bool, error) {
	clusterID, err := b.clusterID()
	if err != nil {
		return false, err
	}
	l, err := b.observeInternalLeft(ctx, svc)
	if err != nil {
		return false, err
	}
	hadFinalizer := slices.Contains(svc.Finalizers, ILBFinalizer)
	if !l.any() && !hadFinalizer {
		return false, nil
	}
	lbName := loadBalancerName(svc)
	// Shared backend services this Service may have used: its rule's, and
	// the one its settings name now.
	var sharedBS []string
	if l.rule != nil && isSharedBackendServiceName(lastSegment(l.rule.GetBackendService()), clusterID) {
		sharedBS = append(sharedBS, lastSegment(l.rule.GetBackendService()))
	}
	if sp, err := parseInternalService(svc); err == nil && sp.shareBackend {
		if name := backendServiceName(lbName, clusterID, true, sp.protocols(), sp.svcAffinity); !slices.Contains(sharedBS, name) {
			sharedBS = append(sharedBS, name)
		}
	}

	err = parallel(
		func() error {
			if l.firewall == nil {
				return nil
			}
			return b.deleteFirewall(ctx, svc, firewallName(lbName))
		},
		func() error {
			if l.rule != nil {
				if err := b.deleteForwardingRule(ctx, lbName); err != nil {
					return err
				}
			}
			return parallel(
				func() error {
					if l.address == nil {
						return nil
					}
					return b.deleteAddress(ctx, lbName)
				},
				func() error {
					if l.bs != nil {
						if err := b.deleteBackendService(ctx, lbName); err != nil {
							return err
						}
					}
					if l.localHC != nil {
						return b.deleteInternalHealthCheck(ctx, svc, lbName)
					}
					if l.localFW != nil {
						return b.deleteFirewall(ctx, svc, internalHealthCheckFirewallName(lbName))
					}
					return nil
				},
			)
		},
	)
	if err != nil {
		return true, err
	}
	return true, b.deleteSharedInternal(ctx, svc, clusterID, sharedBS)
}

// deleteSharedInternal deletes the shared backend services a Service used,
// the shared health check with its firewall, and the instance groups, each
// only when nothing uses it any more (GCE refuses otherwise).
func (b *Balancer) deleteSharedInternal(ctx context.Context, svc *v1.Service, clusterID string, sharedBS []string) error {
	b.ilb.shared.Lock()
	defer b.ilb.shared.Unlock()
	var fns []func() error
	for _, name := range sharedBS {
		fns = append(fns, func() error { return b.deleteBackendService(ctx, name) })
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	hcName := nodesHealthCheckName(clusterID)
	var hc *computepb.HealthCheck
	var fw *computepb.Firewall
	err := parallel(
		func() (err error) { hc, err = getOptional(ctx, b.api.GetHealthCheck, hcName); return err },
		func() (err error) {
			fw, err = getOptional(ctx, b.api.GetFirewall, internalHealthCheckFirewallName(hcName))
			return err
		},
	)
	if err != nil {
		return err
	}
	return parallel(
		func() error {
			switch {
			case hc != nil && ownedInternalHealthCheck(hc.GetDescription(), "", true):
				return b.deleteInternalHealthCheck(ctx, svc, hcName)
			case hc == nil && fw != nil && ownedHealthCheckFirewall(fw.GetDescription()):
				return b.deleteFirewall(ctx, svc, internalHealthCheckFirewallName(hcName))
			}
			return nil
		},
		func() error { return b.deleteInstanceGroups(ctx, clusterID) },
	)
}
