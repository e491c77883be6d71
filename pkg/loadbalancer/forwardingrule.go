package loadbalancer

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// desiredForwardingRule sends one protocol's ports of the IP to the pool.
func desiredForwardingRule(name string, sp *spec, proto v1.Protocol, ip, tier, target string) *computepb.ForwardingRule {
	return &computepb.ForwardingRule{
		Name:                &name,
		Description:         ptr(serviceDescription(sp.key)),
		IPAddress:           &ip,
		IPProtocol:          ptr(string(proto)),
		PortRange:           ptr(portRange(sp.ports[proto])),
		Target:              &target,
		NetworkTier:         &tier,
		LoadBalancingScheme: ptr("EXTERNAL"),
	}
}

// forwardingRuleNeedsUpdate diffs a rule. GCE cannot change a rule's IP,
// protocol, ports or tier: those need a new rule. The target can be changed
// in place.
func forwardingRuleNeedsUpdate(want, have *computepb.ForwardingRule) (recreate, retarget bool) {
	tier := have.GetNetworkTier()
	if tier == "" {
		tier = tierPremium
	}
	scheme := have.GetLoadBalancingScheme()
	recreate = have.GetIPAddress() != want.GetIPAddress() ||
		have.GetIPProtocol() != want.GetIPProtocol() ||
		have.GetPortRange() != want.GetPortRange() || len(have.GetPorts()) > 0 || have.GetAllPorts() ||
		tier != want.GetNetworkTier() ||
		(scheme != "" && scheme != want.GetLoadBalancingScheme())
	retarget = !recreate && !sameResource(have.GetTarget(), want.GetTarget())
	return recreate, retarget
}

// assignRuleNames gives each wanted protocol a rule name. The primary name
// (the load balancer name) is what a one-protocol service has always used;
// a second protocol gets a suffixed name. Rules stay where they are when
// their protocol is still wanted, so adding or removing a protocol never
// recreates the other protocol's rule. have maps existing rule names to
// their protocols.
func assignRuleNames(lbName string, want []v1.Protocol, have map[string]string) map[v1.Protocol]string {
	out := map[v1.Protocol]string{}
	taken := map[string]bool{}
	for _, p := range want {
		if have[lbName] == string(p) {
			out[p], taken[lbName] = lbName, true
		}
	}
	for _, p := range want {
		if _, ok := out[p]; !ok && have[forwardingRuleName(lbName, p)] == string(p) {
			out[p] = forwardingRuleName(lbName, p)
			taken[out[p]] = true
		}
	}
	for _, p := range want {
		if _, ok := out[p]; ok {
			continue
		}
		if !taken[lbName] {
			out[p], taken[lbName] = lbName, true
		} else {
			out[p] = forwardingRuleName(lbName, p)
		}
	}
	return out
}

// deleteForwardingRule deletes a rule; one already gone is success.
func (b *Balancer) deleteForwardingRule(ctx context.Context, name string) error {
	err := b.api.DeleteForwardingRule(ctx, name)
	if gce.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Deleted forwarding rule", "forwardingRule", name)
	return nil
}

// listRules returns the service's forwarding rules by name, from one list.
func (b *Balancer) listRules(ctx context.Context, lbName string) (map[string]*computepb.ForwardingRule, error) {
	list, err := b.api.ListForwardingRules(ctx, `name eq "`+lbName+`.*"`)
	if err != nil {
		return nil, err
	}
	names := forwardingRuleNames(lbName)
	out := map[string]*computepb.ForwardingRule{}
	for _, fr := range list {
		for _, n := range names {
			if fr.GetName() == n {
				out[n] = fr
			}
		}
	}
	return out, nil
}

// ensureRules converges one forwarding rule per protocol, all on the IP and
// the pool, and deletes the rules of protocols the service dropped.
func (b *Balancer) ensureRules(ctx context.Context, p *plan) error {
	target := targetPoolURL(b.opts.Project, b.opts.Region, p.poolName)
	var fns []func() error
	for _, step := range p.rules {
		fns = append(fns, func() error { return b.ensureRule(ctx, p.desiredRule(step, target, p.addr.ip), step) })
	}
	for _, name := range p.staleRules {
		fns = append(fns, func() error { return b.deleteForwardingRule(ctx, name) })
	}
	return parallel(fns...)
}

func (b *Balancer) ensureRule(ctx context.Context, want *computepb.ForwardingRule, step ruleStep) error {
	logger := klog.FromContext(ctx).WithValues("forwardingRule", want.GetName())
	if step.have != nil && !step.deleted {
		recreate, retarget := forwardingRuleNeedsUpdate(want, step.have)
		if retarget {
			if err := b.api.SetForwardingRuleTarget(ctx, want.GetName(), want.GetTarget()); err != nil {
				return err
			}
			logger.V(2).Info("Moved forwarding rule to target pool", "targetPool", lastSegment(want.GetTarget()))
			return nil
		}
		if !recreate {
			return nil
		}
		logger.Info("Recreating forwarding rule: GCE cannot change its IP, protocol, ports or tier",
			"haveIP", step.have.GetIPAddress(), "havePortRange", step.have.GetPortRange(), "haveProtocol", step.have.GetIPProtocol(),
			"ip", want.GetIPAddress(), "portRange", want.GetPortRange(), "protocol", want.GetIPProtocol())
		if err := b.deleteForwardingRule(ctx, want.GetName()); err != nil {
			return err
		}
	}
	if err := b.api.InsertForwardingRule(ctx, want); err != nil {
		return err
	}
	logger.V(2).Info("Created forwarding rule", "ip", want.GetIPAddress(), "protocol", want.GetIPProtocol(), "portRange", want.GetPortRange())
	return nil
}
