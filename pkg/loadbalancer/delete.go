package loadbalancer

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/klog/v2"
)

// EnsureLoadBalancerDeleted deletes every resource of the service's load
// balancer that passes its ownership check, in dependency order and in
// parallel where nothing depends on it: the firewalls at once; the
// forwarding rules, then the address (only the one the service reserved;
// a user's address is never released) and the target pools, then the
// health checks. What is already gone is success, so a retry after a
// partial failure finishes the job. It deletes whatever the Service's class,
// as the service controller requires. A Service that stays (its type
// changed) loses its LoadBalancerSynced condition.
//
// The Service's internal load balancer goes the same way, first
// (internaldelete.go). Once everything is gone it removes the long-standing
// provider's finalizers (gke.networking.io/l4-netlb-v1 and l4-ilb-v1), so
// that a Service that provider balanced is not left Terminating after a
// migration. A Service of GKE's backend-service controller is that
// controller's to clean up.
func (b *Balancer) EnsureLoadBalancerDeleted(ctx context.Context, clusterName string, svc *v1.Service) error {
	if k, _ := serviceKind(svc); k == kindRBS {
		return cloudprovider.ImplementedElsewhere
	}
	ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithValues("service", klog.KObj(svc)))
	// The internal load balancer first: its address has the external one's
	// name, and its rule holds it.
	if _, err := b.ensureInternalDeleted(ctx, svc); err != nil {
		return err
	}
	if _, err := b.ensureDeleted(ctx, svc); err != nil {
		return err
	}
	if err := b.removeFinalizer(ctx, svc, NetLBFinalizer); err != nil {
		return err
	}
	if err := b.removeFinalizer(ctx, svc, ILBFinalizer); err != nil {
		return err
	}
	b.forgetSync(ctx, svc)
	return nil
}

// ensureDeleted deletes the service's external load balancer and returns
// the rules with its names that are another kind's (left alone).
func (b *Balancer) ensureDeleted(ctx context.Context, svc *v1.Service) (map[string]*computepb.ForwardingRule, error) {
	// Without the id the shared health check cannot be told apart, and the
	// last service's delete would leak it: wait for the id.
	clusterID, err := b.clusterID()
	if err != nil {
		return nil, err
	}
	// Observe both health check kinds: the policy may have changed since
	// the pool was made.
	sp := &spec{key: serviceKey(svc), lbName: loadBalancerName(svc)}
	o, err := b.observe(ctx, sp, clusterID, false)
	if err != nil {
		return nil, err
	}
	nodesLink := healthCheckURL(b.opts.Project, nodesHealthCheckName(clusterID))
	// The shared check's firewall counts too: a delete that removed the
	// check but failed on its firewall must remove the firewall when it is
	// retried. deleteNodesHealthCheck keeps both while another load balancer
	// uses the check.
	shared := o.nodesHC != nil || o.nodesHCFW != nil
	tryNodesHC := shared && svc.Spec.ExternalTrafficPolicy != v1.ServiceExternalTrafficPolicyLocal
	for _, tp := range o.pools {
		for _, hc := range tp.GetHealthChecks() {
			tryNodesHC = tryNodesHC || (shared && sameResource(hc, nodesLink))
		}
	}

	deleteFirewall := func(present bool, name string) func() error {
		return func() error {
			if !present {
				return nil
			}
			return b.deleteFirewall(ctx, svc, name)
		}
	}
	return o.foreignRules, parallel(
		deleteFirewall(o.firewall != nil, firewallName(sp.lbName)),
		deleteFirewall(o.denyFW != nil, denyFirewallName(sp.lbName)),
		deleteFirewall(o.localHCFW != nil, localHealthCheckFirewallName(sp.lbName)),
		func() error {
			var rules []func() error
			for name := range o.rules {
				rules = append(rules, func() error { return b.deleteForwardingRule(ctx, name) })
			}
			if err := parallel(rules...); err != nil {
				return err
			}
			return parallel(
				func() error {
					if o.address == nil {
						return nil
					}
					return b.deleteAddress(ctx, o.address.GetName())
				},
				func() error {
					var pools []func() error
					for name := range o.pools {
						pools = append(pools, func() error { return b.deleteTargetPool(ctx, name) })
					}
					if err := parallel(pools...); err != nil {
						return err
					}
					return parallel(
						func() error {
							if o.localHC == nil {
								return nil
							}
							return b.deleteHealthCheck(ctx, o.localHC.Name)
						},
						func() error {
							if !tryNodesHC {
								return nil
							}
							return b.deleteNodesHealthCheck(ctx, svc, clusterID)
						},
					)
				},
			)
		},
	)
}
