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
//
// A Service that asks for an internal load balancer gets one (internal.go);
// a Service that changes kind loses the other kind's load balancer first.
// Services of another controller are left alone.
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
		ip, err = b.ensureInternal(ctx, svc, nodes)
	default:
		if err = b.leaveInternal(ctx, svc); err == nil {
			ip, err = b.ensure(ctx, svc, nodes)
		}
	}
	b.recordSync(ctx, svc, ip, err)
	if err != nil {
		return nil, err
	}
	return status(ip), nil
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

	// A single write of the shared check: a Service that finds another one
	// inserting it waits for it rather than attaching it later, because
	// Services synced together are bounded by the write rate, which the
	// extra write costs, not by the wait.
	if p.hcLater && !p.sp.local && b.shared.running(healthCheckFlight(p.hc.Name)) {
		p.hcLater = false
	}
	return b.apply(ctx, p)
}

// apply makes the writes of a plan as a graph of their dependencies, so that
// no write waits for one it does not need: a new load balancer takes two
// operations to build, where a chain would take three or four.
//
//   - At once: the address, the health check, the target pool (it names
//     the check, so a new pool waits for a missing check unless
//     plan.hcLater lets it get the check later), the removal of a deny
//     rule that the flag no longer wants, and the shared health check
//     firewall (after that removal).
//   - The firewalls that name the IP: once it is known.
//   - The forwarding rules: after the address and, when they must
//     target a new or another pool, after that pool; beside them a pool
//     created before its check gets it.
//   - Once the rules hold the IP: what the change left unused, and, off
//     the way to the Service's status, the release of the address the
//     service reserved for itself (see releaseLater).
func (b *Balancer) apply(ctx context.Context, p *plan) (string, error) {
	known := p.addr.ip // "" while GCE has to pick it
	deny := start(func() error { return b.removeDenyFirewall(ctx, p) })
	addr := start(func() error { return b.ensureAddress(ctx, p) })
	if !p.sp.local {
		// Keep the shared check from being deleted until the pool uses it.
		b.nodesHC.RLock()
	}
	hc, pool, attach := b.startHealthCheckAndPool(ctx, p)
	nodesFW := start(func() error {
		if !after(deny) {
			return errSkipped
		}
		return b.ensureNodesHealthCheckFirewall(ctx, p)
	})
	ipFWs := start(func() error {
		deps := []*task{deny}
		if known == "" {
			deps = append(deps, addr)
		}
		if !after(deps...) {
			return errSkipped
		}
		ip := known
		if ip == "" {
			ip = p.addr.ip
		}
		return b.ensureServiceFirewalls(ctx, p, ip, nodesFW)
	})
	rules := start(func() error {
		deps := []*task{addr}
		if p.rulesNeedPool() {
			deps = append(deps, pool)
		}
		if !after(deps...) {
			return errSkipped
		}
		return b.ensureRules(ctx, p)
	})
	poolErr := joinSteps(hc.wait(), pool.wait(), attach.wait())
	if !p.sp.local {
		b.nodesHC.RUnlock()
	}
	err := joinSteps(addr.wait(), poolErr, rules.wait())
	if err == nil {
		err = b.cleanup(ctx, p)
	}
	if rules.wait() == nil && p.releasesAddress() {
		// The rules hold the IP now: releasing the reservation cannot lose it.
		b.releaseLater(ctx, p.sp.lbName)
	}
	if err := joinSteps(err, ipFWs.wait(), nodesFW.wait(), deny.wait()); err != nil {
		return "", err
	}
	return p.addr.ip, nil
}

// cleanup deletes what the change left unused: pools the rules left, then
// health checks no pool of the service uses.
func (b *Balancer) cleanup(ctx context.Context, p *plan) error {
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
}

// errSkipped is what a step returns when a step it depends on failed; that
// step reports the error.
var errSkipped = errors.New("skipped: a step it depends on failed")

// after waits for the tasks and reports whether all succeeded.
func after(deps ...*task) bool {
	ok := true
	for _, t := range deps {
		ok = t.wait() == nil && ok
	}
	return ok
}

// joinSteps joins the errors of steps, leaving out errSkipped, which only
// repeats another step's error.
func joinSteps(errs ...error) error {
	var out []error
	for _, err := range errs {
		if err != errSkipped {
			out = append(out, err)
		}
	}
	return errors.Join(out...)
}
