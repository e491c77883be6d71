package audit

import (
	"fmt"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
)

// Missing resources: what a LoadBalancer Service that gce-ccm balances
// should have and does not (and, in routes.go, nodes' routes).

// present is what exists that a Service may use, by kind and name.
type present map[Kind]map[string]*member

func (p present) has(kind Kind, name string) *member { return p[kind][name] }

func (c *classifier) missing() {
	inv := c.inv
	if inv.CheckRoutes {
		c.missingRoutes()
	}
	// The Services' own resources, as their ownership checks accept them.
	own := present{}
	for _, g := range c.groups {
		svc := c.svcByLB[g.lbName]
		if svc == nil {
			continue
		}
		for _, m := range g.members {
			if (m.fr == nil || !loadbalancer.ForeignRule(m.fr)) && owned(m, g.lbName, loadbalancer.ServiceKey(svc)) {
				if own[m.kind] == nil {
					own[m.kind] = map[string]*member{}
				}
				own[m.kind][m.name] = m
			}
		}
	}
	for _, s := range inv.Services {
		if !balanced(s) {
			continue
		}
		key := loadbalancer.ServiceKey(s)
		suffix := ""
		if cond := meta.FindStatusCondition(s.Status.Conditions, loadbalancer.ConditionSynced); cond != nil && cond.Status != "True" {
			suffix = fmt.Sprintf(" (LoadBalancerSynced=%s %s: %s)", cond.Status, cond.Reason, cond.Message)
		}
		miss := func(kind Kind, name, what string) {
			c.add(Finding{Status: Missing, Kind: kind, Name: name, Owner: "Service " + key, Reason: fmt.Sprintf("Service %s has no %s%s", key, what, suffix)})
		}
		if loadbalancer.WantsInternal(s) {
			c.missingInternal(s, own, miss)
		} else {
			c.missingExternal(s, own, miss)
		}
	}
}

// protocols are a Service's TCP and UDP, sorted.
func protocols(s *v1.Service) []v1.Protocol {
	var out []v1.Protocol
	for _, p := range s.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		if (proto == v1.ProtocolTCP || proto == v1.ProtocolUDP) && !slices.Contains(out, proto) {
			out = append(out, proto)
		}
	}
	slices.Sort(out)
	return out
}

func (c *classifier) missingExternal(s *v1.Service, own present, miss func(Kind, string, string)) {
	inv := c.inv
	lb := loadbalancer.Name(s)
	names := loadbalancer.NamesOf(lb)
	protos := protocols(s)
	for _, proto := range protos {
		found := false
		for _, name := range names.ForwardingRules {
			if m := own.has(KindForwardingRule, name); m != nil && m.side == sideExternal && m.fr.GetIPProtocol() == string(proto) {
				found = true
			}
		}
		if !found {
			name := lb
			if own.has(KindForwardingRule, lb) != nil || len(protos) > 1 && proto != protos[0] {
				name = loadbalancer.ForwardingRuleNameFor(lb, proto)
			}
			miss(KindForwardingRule, name, "forwarding rule for "+string(proto))
		}
	}
	if own.has(KindTargetPool, names.TargetPools[0]) == nil && own.has(KindTargetPool, names.TargetPools[1]) == nil {
		miss(KindTargetPool, names.TargetPools[0], "target pool")
	}
	if own.has(KindFirewall, names.Firewall) == nil {
		miss(KindFirewall, names.Firewall, "firewall for its clients")
	}
	if s.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
		if own.has(KindHTTPHealthCheck, names.LocalHealthCheck) == nil {
			miss(KindHTTPHealthCheck, names.LocalHealthCheck, "health check (externalTrafficPolicy Local)")
		}
		if own.has(KindFirewall, names.LocalHealthCheckFirewall) == nil {
			miss(KindFirewall, names.LocalHealthCheckFirewall, "health check firewall (externalTrafficPolicy Local)")
		}
		return
	}
	if inv.ClusterID == "" {
		return
	}
	hcName, fwName := loadbalancer.NodesHealthCheckName(inv.ClusterID), loadbalancer.NodesHealthCheckFirewallName(inv.ClusterID)
	if !slices.ContainsFunc(inv.HealthChecks, func(hc *gce.HTTPHealthCheck) bool {
		return hc.Name == hcName && loadbalancer.OwnedNodesHealthCheck(hc.Description, inv.ClusterID)
	}) {
		miss(KindHTTPHealthCheck, hcName, "shared node health check")
	}
	if !slices.ContainsFunc(inv.Firewalls, func(fw *computepb.Firewall) bool {
		return fw.GetName() == fwName && loadbalancer.OwnedNodesHealthCheckFirewall(fw.GetDescription(), inv.ClusterID)
	}) {
		miss(KindFirewall, fwName, "shared node health check firewall")
	}
}

func (c *classifier) missingInternal(s *v1.Service, own present, miss func(Kind, string, string)) {
	inv := c.inv
	lb := loadbalancer.Name(s)
	names := loadbalancer.NamesOf(lb)
	rule := own.has(KindForwardingRule, lb)
	if rule == nil || rule.side != sideInternal {
		miss(KindForwardingRule, lb, "internal forwarding rule")
		rule = nil
	}
	if own.has(KindFirewall, names.Firewall) == nil {
		miss(KindFirewall, names.Firewall, "firewall for its clients")
	}
	// The backend service: the rule's, else the Service's own unless it
	// asks to share one (whose name the rule would tell).
	switch {
	case rule != nil:
		bs := lastSegment(rule.fr.GetBackendService())
		if !slices.ContainsFunc(inv.BackendServices, func(b *computepb.BackendService) bool { return b.GetName() == bs }) {
			miss(KindBackendService, bs, "backend service (its forwarding rule names it)")
		}
	case !loadbalancer.SharesBackendService(s) && own.has(KindBackendService, names.BackendService) == nil:
		miss(KindBackendService, names.BackendService, "backend service")
	}
	if s.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
		if own.has(KindHealthCheck, names.InternalHealthCheck) == nil {
			miss(KindHealthCheck, names.InternalHealthCheck, "health check (externalTrafficPolicy Local)")
		}
		if own.has(KindFirewall, names.InternalHealthCheckFirewall) == nil {
			miss(KindFirewall, names.InternalHealthCheckFirewall, "health check firewall (externalTrafficPolicy Local)")
		}
	}
	if inv.ClusterID == "" {
		return
	}
	if s.Spec.ExternalTrafficPolicy != v1.ServiceExternalTrafficPolicyLocal {
		hcName := loadbalancer.NodesHealthCheckName(inv.ClusterID)
		if !slices.ContainsFunc(inv.InternalChecks, func(hc *computepb.HealthCheck) bool {
			return hc.GetName() == hcName && loadbalancer.OwnedInternalHealthCheck(hc.GetDescription(), "", true)
		}) {
			miss(KindHealthCheck, hcName, "shared node health check of internal load balancers")
		}
		fwName := loadbalancer.InternalHealthCheckFirewallName(hcName)
		if !slices.ContainsFunc(inv.Firewalls, func(fw *computepb.Firewall) bool {
			return fw.GetName() == fwName && loadbalancer.OwnedInternalHealthCheckFirewall(fw.GetDescription())
		}) {
			miss(KindFirewall, fwName, "shared node health check firewall of internal load balancers")
		}
	}
	group := loadbalancer.InstanceGroupName(inv.ClusterID)
	if !slices.ContainsFunc(inv.InstanceGroups, func(ig *computepb.InstanceGroup) bool { return ig.GetName() == group }) {
		miss(KindInstanceGroup, group, "instance group of the node VMs (one per zone with nodes)")
	}
}
