package loadbalancer

import (
	"context"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/klog/v2"
)

// EnsureLoadBalancer creates the service's load balancer or converges it to
// the Service, and returns its IP. Bad input and resources that fail their
// ownership check are errors found before the first write. The outcome is
// recorded in the Service's LoadBalancerSynced condition (see recordSync).
//
// The writes run as a graph of their dependencies: the address, the health
// check and the shared health check firewall start at once; the service's
// firewalls follow the address (they name its IP); the target pool follows
// the health check; the forwarding rules follow the address and the pool;
// what the change left unused goes last.
//
// A Service that asks for an internal load balancer gets none: gce-ccm does
// not build those yet, and an external one in its place would make public
// what was meant to stay inside the VPC. Its external load balancer, if it
// had one, is deleted. Services of another controller are left alone.
func (b *Balancer) EnsureLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) (*v1.LoadBalancerStatus, error) {
	k, kerr := serviceKind(svc)
	switch k {
	case kindForeignClass:
		return nil, cloudprovider.ImplementedElsewhere
	case kindRBS:
		b.event(svc, v1.EventTypeNormal, "LoadBalancerManagedElsewhere",
			"The Service asks for a network load balancer with a regional backend service (%s: enabled), which another controller builds; gce-ccm leaves it alone", RBSAnnotation)
		return nil, cloudprovider.ImplementedElsewhere
	}
	ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithValues("service", klog.KObj(svc)))
	var ip string
	err := kerr
	switch {
	case err != nil:
	case k == kindInternal:
		err = b.refuseInternal(ctx, svc)
	default:
		ip, err = b.ensure(ctx, svc, nodes)
	}
	b.recordSync(ctx, svc, ip, err)
	if err != nil {
		return nil, err
	}
	return status(ip), nil
}

// refuseInternal deletes the external load balancer of a Service that asks
// for an internal one and returns the error that says so.
func (b *Balancer) refuseInternal(ctx context.Context, svc *v1.Service) error {
	refusal := &InternalRefusal{InputError: internalRefusal(svc)}
	_, exists, err := b.find(ctx, svc)
	if err != nil {
		return err
	}
	if !exists {
		return refusal
	}
	if _, err := b.ensureDeleted(ctx, svc); err != nil {
		return fmt.Errorf("delete the external load balancer of a Service that asks for an internal one: %w", err)
	}
	if err := b.removeFinalizer(ctx, svc, NetLBFinalizer); err != nil {
		return err
	}
	refusal.Removed = true
	b.event(svc, v1.EventTypeWarning, "ExternalLoadBalancerDeleted",
		"Deleted the Service's external load balancer: %s %q asks for an internal one, so its traffic must not stay public. gce-ccm does not build internal load balancers yet",
		refusal.Field, refusal.Value)
	if b.opts.Status != nil && len(svc.Status.LoadBalancer.Ingress) > 0 {
		if err := b.opts.Status.ClearLoadBalancerStatus(ctx, svc); err != nil {
			klog.FromContext(ctx).Error(err, "Cannot clear the Service's load balancer status")
		}
	}
	return refusal
}

// ensure converges the load balancer and returns its IP.
func (b *Balancer) ensure(ctx context.Context, svc *v1.Service, nodes []*v1.Node) (string, error) {
	sp, err := parseService(svc)
	if err != nil {
		return "", err
	}
	clusterID, err := b.clusterID()
	if err != nil {
		return "", err
	}
	hosts, err := b.hosts(ctx, svc, nodes)
	if err != nil {
		return "", err
	}
	tags, err := b.nodeTags(ctx, nodes)
	if err != nil {
		return "", err
	}
	o, err := b.observe(ctx, sp, clusterID, true)
	if err != nil {
		return "", err
	}
	p, err := b.makePlan(ctx, sp, clusterID, hosts, tags, o)
	if err != nil {
		return "", err
	}
	p.svc = svc
	// Before the first write, as the long-standing provider does: a Service
	// deleted from here on is not gone before its load balancer is.
	if err := b.addFinalizer(ctx, svc, NetLBFinalizer); err != nil {
		return "", err
	}

	if err := b.removeDenyFirewall(ctx, p); err != nil {
		return "", err
	}
	addr := start(func() error { return b.ensureAddress(ctx, p) })
	pool := start(func() error { return b.ensureHealthCheckAndPool(ctx, p) })
	nodesFW := start(func() error { return b.ensureNodesHealthCheckFirewall(ctx, p) })
	ipFWs := start(func() error {
		if addr.wait() != nil {
			return nil // the address step reports it
		}
		return b.ensureServiceFirewalls(ctx, p, nodesFW)
	})
	if err := errors.Join(addr.wait(), pool.wait()); err != nil {
		return "", errors.Join(err, ipFWs.wait(), nodesFW.wait())
	}
	err = b.ensureRules(ctx, p)
	if err == nil {
		err = b.cleanup(ctx, p)
	}
	if err := errors.Join(err, ipFWs.wait(), nodesFW.wait()); err != nil {
		return "", err
	}
	return p.addr.ip, nil
}

// cleanup deletes what the change left unused: pools the rules left, then
// health checks no pool of the service uses; and it releases the service's
// own address. Like the long-standing provider, gce-ccm holds a static
// address only while it builds or rebuilds the forwarding rules: once they
// exist the IP lives on as theirs, because a project's static address quota
// is small (a handful per region by default) and one per Service would stop
// load balancers being made at all. A rule that must be recreated later
// gets its IP made static again first (see makePlan), so it is never lost.
func (b *Balancer) cleanup(ctx context.Context, p *plan) error {
	return parallel(
		func() error {
			var fns []func() error
			for _, name := range p.stalePools {
				fns = append(fns, func() error { return b.deleteTargetPool(ctx, name) })
			}
			if err := parallel(fns...); err != nil {
				return err
			}
			fns = nil
			if p.staleLocalHC {
				fns = append(fns, func() error {
					if p.obs.localHC != nil {
						if err := b.deleteHealthCheck(ctx, p.obs.localHC.Name); err != nil {
							return err
						}
					}
					if p.obs.localHCFW == nil {
						return nil
					}
					return b.deleteFirewall(ctx, p.svc, localHealthCheckFirewallName(p.sp.lbName))
				})
			}
			if p.tryNodesHC {
				fns = append(fns, func() error { return b.deleteNodesHealthCheck(ctx, p.svc, p.clusterID) })
			}
			return parallel(fns...)
		},
		func() error {
			// Rules of two protocols share the IP, which GCE allows only
			// on a reserved address: such a Service keeps it.
			own := p.obs.address != nil || p.addr.reserve != nil
			if !p.addr.releaseOwn && (!own || p.addr.userOwned || len(p.rules) > 1) {
				return nil
			}
			return b.deleteAddress(ctx, p.sp.lbName)
		},
	)
}
