package loadbalancer

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// observed is what exists of a service's load balancer. Every resource in
// it passed its ownership check.
type observed struct {
	address   *computepb.Address
	requested *computepb.Address // holds spec.loadBalancerIP
	rules     map[string]*computepb.ForwardingRule
	// foreignRules have the service's names but are another kind of load
	// balancer's (internal, or with a backend service).
	foreignRules map[string]*computepb.ForwardingRule
	// requestedHolders are the rules that hold spec.loadBalancerIP when no
	// address does (load balancers keep their IPs as the rules' own).
	requestedHolders []*computepb.ForwardingRule
	pools            map[string]*computepb.TargetPool
	firewall         *computepb.Firewall
	denyFW           *computepb.Firewall
	localHC          *gce.HTTPHealthCheck
	localHCFW        *computepb.Firewall
	nodesHC          *gce.HTTPHealthCheck
	nodesHCFW        *computepb.Firewall
}

// observe reads everything of the service's load balancer at once. A
// resource with one of its names that fails the ownership check is an error
// when strict (nothing may be written), and is left out otherwise.
//
// A release of the service's address still running in the background ends
// first: what a plan counts on must not change under it.
func (b *Balancer) observe(ctx context.Context, sp *spec, clusterID string, strict bool) (*observed, error) {
	if err := b.waitRelease(ctx, sp.lbName); err != nil {
		return nil, err
	}
	o := &observed{pools: map[string]*computepb.TargetPool{}}
	var pools [2]*computepb.TargetPool
	poolNames := targetPoolNames(sp.lbName)
	fns := []func() error{
		func() (err error) { o.rules, o.foreignRules, err = b.listRules(ctx, sp.lbName); return err },
		func() (err error) { o.address, err = getOptional(ctx, b.api.GetAddress, sp.lbName); return err },
		func() (err error) { pools[0], err = getOptional(ctx, b.api.GetTargetPool, poolNames[0]); return err },
		func() (err error) { pools[1], err = getOptional(ctx, b.api.GetTargetPool, poolNames[1]); return err },
		func() (err error) {
			o.firewall, err = getOptional(ctx, b.api.GetFirewall, firewallName(sp.lbName))
			return err
		},
		func() (err error) {
			o.denyFW, err = getOptional(ctx, b.api.GetFirewall, denyFirewallName(sp.lbName))
			return err
		},
		func() (err error) {
			o.localHC, err = getOptional(ctx, b.api.GetHTTPHealthCheck, localHealthCheckName(sp.lbName))
			return err
		},
		func() (err error) {
			o.localHCFW, err = getOptional(ctx, b.api.GetFirewall, localHealthCheckFirewallName(sp.lbName))
			return err
		},
	}
	if sp.requestedIP != "" {
		fns = append(fns,
			func() (err error) { o.requested, err = b.addressByIP(ctx, sp.requestedIP); return err },
			func() (err error) {
				o.requestedHolders, err = b.api.ListForwardingRules(ctx, `IPAddress eq "`+sp.requestedIP+`"`)
				return err
			})
	}
	if !sp.local && clusterID != "" {
		fns = append(fns,
			func() (err error) {
				o.nodesHC, err = getOptional(ctx, b.api.GetHTTPHealthCheck, nodesHealthCheckName(clusterID))
				return err
			},
			func() (err error) {
				o.nodesHCFW, err = getOptional(ctx, b.api.GetFirewall, nodesHealthCheckFirewallName(clusterID))
				return err
			})
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}

	var errs []error
	if strict {
		for _, name := range forwardingRuleNames(sp.lbName) {
			if fr := o.foreignRules[name]; fr != nil {
				errs = append(errs, foreignRuleError(fr))
			}
		}
	}
	check := func(kind, name, description string, owned bool, owner string) bool {
		if !owned && strict {
			errs = append(errs, notOwned(kind, name, description, owner))
		}
		return owned
	}
	key := sp.key
	if a := o.address; a != nil && a.GetAddressType() == "INTERNAL" {
		o.address = nil // the internal load balancer's (internalrule.go)
	}
	if a := o.address; a != nil && !check("address", a.GetName(), a.GetDescription(), ownedByService(a.GetDescription(), key), key) {
		o.address = nil
	}
	for name, fr := range o.rules {
		if !check("forwarding rule", name, fr.GetDescription(), ownedByService(fr.GetDescription(), key), key) {
			delete(o.rules, name)
		}
	}
	for i, tp := range pools {
		if tp != nil && check("target pool", tp.GetName(), tp.GetDescription(), ownedByService(tp.GetDescription(), key), key) {
			o.pools[poolNames[i]] = tp
		}
	}
	if fw := o.firewall; fw != nil && !check("firewall", fw.GetName(), fw.GetDescription(), ownedByService(fw.GetDescription(), key), key) {
		o.firewall = nil
	}
	if fw := o.denyFW; fw != nil && !check("firewall", fw.GetName(), fw.GetDescription(), ownedByService(fw.GetDescription(), key), key) {
		o.denyFW = nil
	}
	if hc := o.localHC; hc != nil && !check("HTTP health check", hc.Name, hc.Description, ownedLocalHealthCheck(hc.Description, sp.lbName, key), key) {
		o.localHC = nil
	}
	if fw := o.localHCFW; fw != nil && !check("firewall", fw.GetName(), fw.GetDescription(), ownedByService(fw.GetDescription(), key), key) {
		o.localHCFW = nil
	}
	owner := "cluster " + clusterID
	if hc := o.nodesHC; hc != nil && !check("HTTP health check", hc.Name, hc.Description, ownedNodesHealthCheck(hc.Description, clusterID), owner) {
		o.nodesHC = nil
	}
	if fw := o.nodesHCFW; fw != nil && !check("firewall", fw.GetName(), fw.GetDescription(), ownedNodesHealthCheckFirewall(fw.GetDescription(), clusterID), owner) {
		o.nodesHCFW = nil
	}
	return o, errors.Join(errs...)
}

// plan is everything EnsureLoadBalancer will do, decided before the first
// write.
type plan struct {
	svc       *v1.Service
	sp        *spec
	clusterID string
	hosts     []string
	tags      []string
	obs       *observed
	addr      addressPlan

	hc       *gce.HTTPHealthCheck
	poolName string
	// pool is the existing pool to converge; nil when poolName is created.
	pool *computepb.TargetPool
	// stalePools are deleted once the rules point at poolName.
	stalePools []string

	rules []ruleStep
	// staleRules are rules of protocols the service no longer has.
	staleRules []string

	// staleLocalHC: the service left externalTrafficPolicy Local.
	staleLocalHC bool
	// tryNodesHC: the service left Cluster; the shared check goes when no
	// other pool uses it.
	tryNodesHC bool
	// hcLater: the pool is new, its health check does not exist yet, and no
	// forwarding rule of the service exists, so nothing can send traffic
	// to the pool before a rule is made. The pool is then created beside
	// the check instead of after it, and gets it beside the rule: one write
	// more (addHealthCheck), one operation less before the IP. A pool that
	// an existing rule moves to gets its check first, since traffic would
	// reach it at once, and a pool without a check sends it to every VM.
	hcLater bool
}

// rulesNeedPool reports whether the forwarding rules must wait for the pool
// step: it creates the pool or attaches its missing health check, or a rule
// moves to it. Rules on a pool that serves them already (its membership
// may be changing) do not.
func (p *plan) rulesNeedPool() bool {
	if p.pool == nil || len(p.pool.GetHealthChecks()) == 0 {
		return true
	}
	for _, step := range p.rules {
		if step.have != nil && lastSegment(step.have.GetTarget()) != p.poolName {
			return true
		}
	}
	return false
}

// releasesAddress reports whether the service's own address is released
// once the rules hold its IP. Rules of two protocols share the IP, which
// GCE allows only on a reserved address: such a Service keeps it, and a
// user's address is never released.
func (p *plan) releasesAddress() bool {
	own := p.obs.address != nil || p.addr.reserve != nil
	return p.addr.releaseOwn || (own && !p.addr.userOwned && len(p.rules) <= 1)
}

// ruleStep is one protocol's forwarding rule.
type ruleStep struct {
	proto v1.Protocol
	name  string
	have  *computepb.ForwardingRule
	// deleted: the address step deletes the rule (its IP goes away).
	deleted bool
}

// makePlan decides everything but the IP of a new address, which GCE picks.
func (b *Balancer) makePlan(ctx context.Context, sp *spec, clusterID string, hosts, tags []string, o *observed) (*plan, error) {
	p := &plan{sp: sp, clusterID: clusterID, hosts: hosts, tags: tags, obs: o, hc: desiredHealthCheck(sp, clusterID)}
	if o.requested == nil {
		for _, fr := range o.requestedHolders {
			if fr.GetIPAddress() == sp.requestedIP && !isOwnRule(fr.GetSelfLink(), sp.lbName, o.rules) {
				holder := cmp.Or(descriptionValue(fr.GetDescription(), serviceNameKey), "another load balancer")
				return nil, &InputError{Field: "spec.loadBalancerIP", Value: sp.requestedIP,
					Reason: fmt.Sprintf("held by forwarding rule %s of Service %s", fr.GetName(), holder)}
			}
		}
	}
	var err error
	if p.addr, err = planAddress(sp, o.address, o.requested, o.rules); err != nil {
		return nil, err
	}

	// Forwarding rules: one per protocol; the rest go.
	haveProto := map[string]string{}
	for name, fr := range o.rules {
		haveProto[name] = fr.GetIPProtocol()
	}
	names := assignRuleNames(sp.lbName, sp.protocols, haveProto)
	kept := map[string]bool{}
	for _, proto := range sp.protocols {
		step := ruleStep{proto: proto, name: names[proto], have: o.rules[names[proto]]}
		if step.have != nil && p.addr.replaceOwn && step.have.GetIPAddress() == o.address.GetAddress() {
			step.deleted = true
			p.addr.predelete = append(p.addr.predelete, step.name)
		}
		p.rules = append(p.rules, step)
		kept[step.name] = true
	}
	for _, name := range forwardingRuleNames(sp.lbName) {
		switch {
		case o.rules[name] == nil || kept[name]:
		case p.addr.replaceOwn && o.rules[name].GetIPAddress() == o.address.GetAddress():
			p.addr.predelete = append(p.addr.predelete, name)
		default:
			p.staleRules = append(p.staleRules, name)
		}
	}

	// Target pool: keep one whose fixed settings match, preferring the one
	// the rules use; otherwise build a new one under a free name and move
	// the rules to it.
	targeted := map[string]bool{}
	for _, fr := range o.rules {
		targeted[lastSegment(fr.GetTarget())] = true
	}
	probe := desiredTargetPool("", sp, nil, healthCheckURL(b.opts.Project, p.hc.Name))
	poolNames := targetPoolNames(sp.lbName)
	for _, pass := range []func(string) bool{func(n string) bool { return targeted[n] }, func(string) bool { return true }} {
		for _, name := range poolNames {
			if tp := o.pools[name]; tp != nil && p.pool == nil && pass(name) && !targetPoolNeedsUpdate(probe, tp).recreate {
				p.poolName, p.pool = name, tp
			}
		}
	}
	if p.pool == nil {
		for _, name := range poolNames {
			if o.pools[name] == nil {
				p.poolName = name
				break
			}
		}
		if p.poolName == "" {
			return nil, fmt.Errorf("target pools %v both exist with settings that differ from the Service; delete the one its forwarding rules do not use", poolNames)
		}
	}
	for _, name := range poolNames {
		if o.pools[name] != nil && name != p.poolName {
			p.stalePools = append(p.stalePools, name)
		}
	}

	if p.pool == nil && len(o.rules) == 0 {
		p.hcLater = (sp.local && o.localHC == nil) || (!sp.local && o.nodesHC == nil)
	}

	// Health checks of the other traffic policy.
	p.staleLocalHC = !sp.local && (o.localHC != nil || o.localHCFW != nil)
	if sp.local {
		nodes := healthCheckURL(b.opts.Project, nodesHealthCheckName(clusterID))
		for _, tp := range o.pools {
			for _, hc := range tp.GetHealthChecks() {
				p.tryNodesHC = p.tryNodesHC || sameResource(hc, nodes)
			}
		}
	}

	// An IP held only by rules (GCE's ephemeral IP) must become static
	// before a rule is made on it: GCE takes an explicit IP for a new rule
	// only from a reserved address, and the IP would be lost if the last
	// rule holding it were recreated without one.
	if p.addr.reserve == nil && !p.addr.userOwned && o.address == nil && p.addr.ip != "" {
		insert := false
		for _, step := range p.rules {
			recreate := step.have == nil
			if !recreate {
				recreate, _ = forwardingRuleNeedsUpdate(p.desiredRule(step, "", p.addr.ip), step.have)
			}
			insert = insert || recreate
		}
		if insert {
			holder, err := b.addressByIP(ctx, p.addr.ip)
			if err != nil {
				return nil, err
			}
			if holder == nil {
				p.addr.reserve = &computepb.Address{Name: ptr(sp.lbName), Description: ptr(serviceDescription(sp.key)),
					NetworkTier: ptr(p.addr.tier), AddressType: ptr("EXTERNAL"), Address: ptr(p.addr.ip)}
			}
		}
	}
	return p, nil
}

func (p *plan) desiredRule(step ruleStep, target, ip string) *computepb.ForwardingRule {
	return desiredForwardingRule(step.name, p.sp, step.proto, ip, p.addr.tier, target)
}
