package loadbalancer

import (
	"context"
	"errors"

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
func (b *Balancer) EnsureLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) (*v1.LoadBalancerStatus, error) {
	if foreignClass(svc) {
		return nil, cloudprovider.ImplementedElsewhere
	}
	ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithValues("service", klog.KObj(svc)))
	ip, err := b.ensure(ctx, clusterName, svc, nodes)
	b.recordSync(ctx, svc, ip, err)
	if err != nil {
		return nil, err
	}
	return status(ip), nil
}

// ensure converges the load balancer and returns its IP.
func (b *Balancer) ensure(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) (string, error) {
	sp, err := parseService(svc)
	if err != nil {
		return "", err
	}
	clusterID, err := b.clusterID(clusterName)
	if err != nil {
		return "", err
	}
	hosts, err := b.hosts(ctx, nodes)
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

	addr := start(func() error { return b.ensureAddress(ctx, p) })
	pool := start(func() error { return b.ensureHealthCheckAndPool(ctx, p) })
	nodesFW := start(func() error { return b.ensureNodesHealthCheckFirewall(ctx, p) })
	ipFWs := start(func() error {
		if addr.wait() != nil {
			return nil // the address step reports it
		}
		return b.ensureServiceFirewalls(ctx, p)
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
// health checks no pool of the service uses, and the service's own address
// when the rules moved to another IP.
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
					return b.deleteFirewall(ctx, localHealthCheckFirewallName(p.sp.lbName))
				})
			}
			if p.tryNodesHC {
				fns = append(fns, func() error { return b.deleteNodesHealthCheck(ctx, p.clusterID) })
			}
			return parallel(fns...)
		},
		func() error {
			if !p.addr.releaseOwn {
				return nil
			}
			return b.deleteAddress(ctx, p.obs.address.GetName())
		},
	)
}
