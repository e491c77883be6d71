package loadbalancer

import (
	"context"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// internalHealthCheckFirewall admits Google's probers to the health check's
// port on the nodes. Like the long-standing provider's, it names no
// destination and has no description.
func internalHealthCheckFirewall(hcName string, port int32, network string, tags, probers []string) *computepb.Firewall {
	return &computepb.Firewall{
		Name:         ptr(internalHealthCheckFirewallName(hcName)),
		Description:  ptr(""),
		Network:      &network,
		Direction:    ptr("INGRESS"),
		Allowed:      []*computepb.Allowed{{IPProtocol: ptr("tcp"), Ports: []string{strconv.Itoa(int(port))}}},
		SourceRanges: probers,
		TargetTags:   tags,
		Priority:     ptr(int32(defaultFirewallPriority)),
	}
}

// internalFirewall admits the clients of the source ranges (everyone by
// default: an internal IP is reachable only from inside the VPC, so that is
// the whole VPC, as the long-standing provider allows) to the Service's
// ports on the nodes, for traffic to the load balancer's IP.
func internalFirewall(sp *internalSpec, ip, network string, tags []string) *computepb.Firewall {
	return &computepb.Firewall{
		Name:              ptr(firewallName(sp.lbName)),
		Description:       ptr(firewallDescription(sp.key, ip)),
		Network:           &network,
		Direction:         ptr("INGRESS"),
		Allowed:           firewallAllowed(sp.fwPorts),
		SourceRanges:      sp.sourceRanges,
		TargetTags:        tags,
		DestinationRanges: []string{ip},
		Priority:          ptr(int32(defaultFirewallPriority)),
	}
}

// ownedHealthCheckFirewall: the health check firewalls of internal load
// balancers carry the Service's UID or the cluster id in their names and,
// as the long-standing provider makes them, no description.
func ownedHealthCheckFirewall(description string) bool { return description == "" }

// ensureInternalHealthCheckFirewall converges the firewall of the health
// check's probes; the shared check's is written once for the Services
// synced together, and read again before a change.
func (b *Balancer) ensureInternalHealthCheckFirewall(ctx context.Context, p *internalPlan) error {
	want := internalHealthCheckFirewall(p.hc.GetName(), p.hc.GetHttpHealthCheck().GetPort(), b.opts.NetworkURL, p.tags, b.proberRanges())
	owner := p.sp.key
	if !p.sp.local {
		owner = "the cluster's internal load balancers"
	}
	ensure := func() (string, error) {
		have := p.obs.hcFW
		// As for the shared health check: read again what may be stale.
		if !p.sp.local && (have == nil || firewallNeedsUpdate(want, have)) {
			var err error
			if have, err = getOptional(ctx, b.api.GetFirewall, want.GetName()); err != nil {
				return "", err
			}
		}
		return "", b.ensureFirewall(ctx, p.svc, want, have, ownedHealthCheckFirewall, owner)
	}
	if p.sp.local {
		_, err := ensure()
		return err
	}
	_, err := b.shared.do(ctx, "firewalls/"+want.GetName()+"/"+strings.Join(want.GetTargetTags(), ","), ensure)
	return err
}
