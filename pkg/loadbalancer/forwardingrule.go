package loadbalancer

import (
	"context"
	"fmt"
	"slices"

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

// listRules returns the service's forwarding rules by name, from one list:
// those of an external network load balancer with a target pool, which
// this package manages, and the others (an internal load balancer, or an
// external one with a backend service), which it never changes.
func (b *Balancer) listRules(ctx context.Context, lbName string) (ours, others map[string]*computepb.ForwardingRule, err error) {
	list, err := b.api.ListForwardingRules(ctx, `name eq "`+lbName+`.*"`)
	if err != nil {
		return nil, nil, err
	}
	names := forwardingRuleNames(lbName)
	ours, others = map[string]*computepb.ForwardingRule{}, map[string]*computepb.ForwardingRule{}
	for _, fr := range list {
		if !slices.Contains(names, fr.GetName()) {
			continue
		}
		if targetPoolRule(fr) {
			ours[fr.GetName()] = fr
		} else {
			others[fr.GetName()] = fr
		}
	}
	return ours, others, nil
}

// targetPoolRule reports whether a rule is of the kind this package builds:
// scheme EXTERNAL (GCE's default) and no backend service.
func targetPoolRule(fr *computepb.ForwardingRule) bool {
	s := fr.GetLoadBalancingScheme()
	return (s == "" || s == "EXTERNAL") && fr.GetBackendService() == ""
}

// foreignRuleError says that a rule with one of the service's names belongs
// to another kind of load balancer, which this package does not touch.
func foreignRuleError(fr *computepb.ForwardingRule) error {
	what := "an " + fr.GetLoadBalancingScheme() + " load balancer's"
	if s := fr.GetLoadBalancingScheme(); s == "" || s == "EXTERNAL" {
		what = "an external load balancer's with backend service " + lastSegment(fr.GetBackendService())
	}
	return fmt.Errorf("forwarding rule %s is %s, which gce-ccm does not manage: it builds no external load balancer "+
		"beside it; delete it, or mark the Service for that kind of load balancer", fr.GetName(), what)
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
