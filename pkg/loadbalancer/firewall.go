package loadbalancer

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// defaultProberRanges are the sources of Google's health checks for
// network load balancers (legacy HTTP health checks of target pools).
var defaultProberRanges = []string{"130.211.0.0/22", "209.85.152.0/22", "209.85.204.0/22", "35.191.0.0/16"}

// defaultFirewallPriority is GCE's default, which the long-standing provider
// leaves its rules at. With Options.DenyFirewall the allow rules go one
// step ahead of the deny rule, which stays at the default (lower numbers
// win; at equal priority a deny wins).
const (
	defaultFirewallPriority = 1000
	allowBeforeDenyPriority = 999
)

// allowPriority is the priority of the rules that allow traffic.
func (b *Balancer) allowPriority() int32 {
	if b.opts.DenyFirewall {
		return allowBeforeDenyPriority
	}
	return defaultFirewallPriority
}

// denyFirewall denies everything else to the load balancer's IP on the
// nodes, below the rules that allow its ports and health checks.
func denyFirewall(sp *spec, ip, network string, tags []string) *computepb.Firewall {
	return &computepb.Firewall{
		Name:              ptr(denyFirewallName(sp.lbName)),
		Description:       ptr(firewallDescription(sp.key, ip)),
		Network:           &network,
		Direction:         ptr("INGRESS"),
		Denied:            []*computepb.Denied{{IPProtocol: ptr("all")}},
		SourceRanges:      []string{"0.0.0.0/0"},
		TargetTags:        tags,
		DestinationRanges: []string{ip},
		Priority:          ptr(int32(defaultFirewallPriority)),
	}
}

// serviceFirewall admits the clients of the source ranges to the service
// ports on the nodes, for traffic to the load balancer's IP.
func serviceFirewall(sp *spec, ip, network string, tags []string) *computepb.Firewall {
	return &computepb.Firewall{
		Name:              ptr(firewallName(sp.lbName)),
		Description:       ptr(firewallDescription(sp.key, ip)),
		Network:           &network,
		Direction:         ptr("INGRESS"),
		Allowed:           firewallAllowed(sp.ports),
		SourceRanges:      sp.sourceRanges,
		TargetTags:        tags,
		DestinationRanges: []string{ip},
		Priority:          ptr(int32(defaultFirewallPriority)),
	}
}

// localHealthCheckFirewall admits Google's probers to an
// externalTrafficPolicy Local service's healthCheckNodePort; the probes of
// a target pool's health check are sent to the load balancer's IP.
func localHealthCheckFirewall(sp *spec, ip, network string, tags, probers []string) *computepb.Firewall {
	return &computepb.Firewall{
		Name:              ptr(localHealthCheckFirewallName(sp.lbName)),
		Description:       ptr(firewallDescription(sp.key, ip)),
		Network:           &network,
		Direction:         ptr("INGRESS"),
		Allowed:           []*computepb.Allowed{{IPProtocol: ptr("tcp"), Ports: []string{strconv.Itoa(int(sp.hcPort))}}},
		SourceRanges:      probers,
		TargetTags:        tags,
		DestinationRanges: []string{ip},
		Priority:          ptr(int32(defaultFirewallPriority)),
	}
}

// nodesHealthCheckFirewall admits Google's probers to kube-proxy's health
// port for all the cluster's Cluster-policy services. It names no
// destination, because it serves the IPs of every such service.
func nodesHealthCheckFirewall(clusterID, network string, tags, probers []string) *computepb.Firewall {
	return &computepb.Firewall{
		Name:         ptr(nodesHealthCheckFirewallName(clusterID)),
		Description:  ptr(nodesHealthCheckFirewallDescription(clusterID)),
		Network:      &network,
		Direction:    ptr("INGRESS"),
		Allowed:      []*computepb.Allowed{{IPProtocol: ptr("tcp"), Ports: []string{strconv.Itoa(nodesHealthCheckPort)}}},
		SourceRanges: probers,
		TargetTags:   tags,
		Priority:     ptr(int32(defaultFirewallPriority)),
	}
}

// firewallAllowed is one allowed entry per protocol, with consecutive ports
// merged into ranges to stay under GCE's limit of ports per rule.
func firewallAllowed(ports map[v1.Protocol][]int32) []*computepb.Allowed {
	var out []*computepb.Allowed
	for _, proto := range []v1.Protocol{v1.ProtocolTCP, v1.ProtocolUDP} {
		ps := ports[proto]
		if len(ps) == 0 {
			continue
		}
		var ranges []string
		for i := 0; i < len(ps); {
			j := i
			for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
				j++
			}
			if i == j {
				ranges = append(ranges, strconv.Itoa(int(ps[i])))
			} else {
				ranges = append(ranges, fmt.Sprintf("%d-%d", ps[i], ps[j]))
			}
			i = j + 1
		}
		out = append(out, &computepb.Allowed{IPProtocol: ptr(strings.ToLower(string(proto))), Ports: ranges})
	}
	return out
}

// firewallNeedsUpdate reports whether an existing firewall differs from the
// wanted one in anything that decides what it admits, or in its description.
// Ports compare by what they cover, so "80,81" matches "80-81".
func firewallNeedsUpdate(want, have *computepb.Firewall) bool {
	direction := have.GetDirection()
	if direction == "" {
		direction = "INGRESS"
	}
	return want.GetDescription() != have.GetDescription() ||
		priorityOf(have) != priorityOf(want) ||
		!sameResource(want.GetNetwork(), have.GetNetwork()) ||
		direction != want.GetDirection() ||
		have.GetDisabled() ||
		!slices.Equal(deniedKey(want.GetDenied()), deniedKey(have.GetDenied())) ||
		len(have.GetSourceTags()) > 0 || len(have.GetSourceServiceAccounts()) > 0 || len(have.GetTargetServiceAccounts()) > 0 ||
		!slices.Equal(allowedKey(want.GetAllowed()), allowedKey(have.GetAllowed())) ||
		!slices.Equal(rangeSet(want.GetSourceRanges()), rangeSet(have.GetSourceRanges())) ||
		!slices.Equal(sortedSet(want.GetTargetTags()), sortedSet(have.GetTargetTags())) ||
		!slices.Equal(rangeSet(want.GetDestinationRanges()), rangeSet(have.GetDestinationRanges()))
}

// deniedKey is allowedKey for denied entries.
func deniedKey(denied []*computepb.Denied) []string {
	if len(denied) == 0 {
		return nil
	}
	allowed := make([]*computepb.Allowed, len(denied))
	for i, d := range denied {
		allowed[i] = &computepb.Allowed{IPProtocol: d.IPProtocol, Ports: d.Ports}
	}
	return allowedKey(allowed)
}

// priorityOf is a rule's priority; GCE's default when unset.
func priorityOf(fw *computepb.Firewall) int32 {
	if fw.Priority == nil {
		return defaultFirewallPriority
	}
	return fw.GetPriority()
}

// allowedKey is a canonical form of allowed entries: "proto:lo-hi,lo-hi"
// per protocol, sorted, with port ranges merged.
func allowedKey(allowed []*computepb.Allowed) []string {
	spans := map[string][][2]int{}
	all := map[string]bool{}
	for _, a := range allowed {
		proto := strings.ToLower(a.GetIPProtocol())
		if len(a.GetPorts()) == 0 {
			all[proto] = true
		}
		for _, p := range a.GetPorts() {
			lo, hi, found := strings.Cut(p, "-")
			l, err1 := strconv.Atoi(lo)
			h := l
			var err2 error
			if found {
				h, err2 = strconv.Atoi(hi)
			}
			if err1 != nil || err2 != nil {
				return []string{"unparsable:" + p}
			}
			spans[proto] = append(spans[proto], [2]int{l, h})
		}
	}
	var out []string
	for proto, ss := range spans {
		if all[proto] {
			continue
		}
		slices.SortFunc(ss, func(a, b [2]int) int { return a[0] - b[0] })
		var merged [][2]int
		for _, s := range ss {
			if n := len(merged); n > 0 && s[0] <= merged[n-1][1]+1 {
				merged[n-1][1] = max(merged[n-1][1], s[1])
				continue
			}
			merged = append(merged, s)
		}
		var parts []string
		for _, m := range merged {
			parts = append(parts, fmt.Sprintf("%d-%d", m[0], m[1]))
		}
		out = append(out, proto+":"+strings.Join(parts, ","))
	}
	for proto := range all {
		out = append(out, proto+":all")
	}
	slices.Sort(out)
	return out
}

// rangeSet is a canonical form of CIDRs and IPs: masked prefixes, sorted;
// a bare IP is its /32.
func rangeSet(ranges []string) []string {
	out := make([]string, 0, len(ranges))
	for _, r := range ranges {
		if p, err := netip.ParsePrefix(r); err == nil {
			out = append(out, p.Masked().String())
		} else if a, err := netip.ParseAddr(r); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()).String())
		} else {
			out = append(out, r)
		}
	}
	return sortedSet(out)
}

// ensureFirewall creates want or converges have to it. owned is the
// ownership check of a firewall found by name. svc receives the event when
// a Shared VPC forbids the write.
func (b *Balancer) ensureFirewall(ctx context.Context, svc *v1.Service, want, have *computepb.Firewall, owned func(description string) bool, owner string) error {
	logger := klog.FromContext(ctx).WithValues("firewall", want.GetName())
	if have == nil {
		err := b.api.InsertFirewall(ctx, want)
		if err == nil {
			logger.V(2).Info("Created firewall", "sourceRanges", want.GetSourceRanges(), "targetTags", want.GetTargetTags())
			return nil
		}
		if b.forbiddenOnSharedVPC(svc, err, gcloudFirewallCreate(want, b.networkProject())) {
			return nil
		}
		if !gce.IsAlreadyExists(err) {
			return err
		}
		// Made meanwhile, by another service sharing it or an earlier try.
		if have, err = b.api.GetFirewall(ctx, want.GetName()); err != nil {
			return err
		}
		if !owned(have.GetDescription()) {
			return notOwned("firewall", want.GetName(), have.GetDescription(), owner)
		}
	}
	if !firewallNeedsUpdate(want, have) {
		return nil
	}
	// A patch changes only what it names, so whatever an admin set that
	// gce-ccm does not model (logging, a disabled flag's reason, ...) stays.
	// A patch cannot empty a list, though: a rule with lists gce-ccm wants
	// empty is replaced by itself with those lists emptied, which keeps the
	// rest of it just the same.
	var err error
	method := "patch"
	if merged, replace := mergeFirewall(want, have); replace {
		method = "update"
		err = b.api.UpdateFirewall(ctx, merged)
	} else {
		err = b.api.PatchFirewall(ctx, want)
	}
	if b.forbiddenOnSharedVPC(svc, err, gcloudFirewallUpdate(want, b.networkProject())) {
		return nil
	}
	if err != nil {
		return err
	}
	logger.V(2).Info("Changed firewall", "method", method, "sourceRanges", want.GetSourceRanges(), "targetTags", want.GetTargetTags(),
		"destinationRanges", want.GetDestinationRanges(), "priority", want.GetPriority())
	return nil
}

// mergeFirewall returns have with every field gce-ccm models set as in want,
// and whether a patch cannot express the change: a list that want leaves
// empty is not empty in have.
func mergeFirewall(want, have *computepb.Firewall) (*computepb.Firewall, bool) {
	merged := proto.Clone(have).(*computepb.Firewall)
	merged.Description = want.Description
	merged.Network = want.Network
	merged.Direction = want.Direction
	merged.Allowed = want.Allowed
	merged.SourceRanges = want.SourceRanges
	merged.TargetTags = want.TargetTags
	merged.DestinationRanges = want.DestinationRanges
	merged.Priority = want.Priority
	merged.Disabled = nil
	merged.Denied = want.Denied
	merged.SourceTags, merged.SourceServiceAccounts, merged.TargetServiceAccounts = nil, nil, nil
	emptied := func(w, h int) bool { return w == 0 && h > 0 }
	replace := emptied(len(want.GetDestinationRanges()), len(have.GetDestinationRanges())) ||
		emptied(len(want.GetDenied()), len(have.GetDenied())) || emptied(len(want.GetAllowed()), len(have.GetAllowed())) ||
		len(have.GetSourceTags()) > 0 || len(have.GetSourceServiceAccounts()) > 0 || len(have.GetTargetServiceAccounts()) > 0 ||
		have.GetDisabled()
	return merged, replace
}

// deleteFirewall deletes a firewall; one already gone is success, and so is
// one that a Shared VPC forbids deleting (svc gets the gcloud command).
func (b *Balancer) deleteFirewall(ctx context.Context, svc *v1.Service, name string) error {
	err := b.api.DeleteFirewall(ctx, name)
	if gce.IsNotFound(err) || b.forbiddenOnSharedVPC(svc, err, gcloudFirewallDelete(name, b.networkProject())) {
		return nil
	}
	if err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Deleted firewall", "firewall", name)
	return nil
}

// ensureNodesHealthCheckFirewall converges the shared health check firewall
// of externalTrafficPolicy Cluster services.
func (b *Balancer) ensureNodesHealthCheckFirewall(ctx context.Context, p *plan) error {
	if p.sp.local {
		return nil
	}
	want := nodesHealthCheckFirewall(p.clusterID, b.opts.NetworkURL, p.tags, b.proberRanges())
	want.Priority = ptr(b.allowPriority())
	// Services that want the same rule share one write of it.
	key := "firewalls/" + want.GetName() + "/" + strings.Join(want.GetTargetTags(), ",")
	_, err := b.shared.do(ctx, key, func() (string, error) {
		// The rule was read before this write began, perhaps before another
		// Service's write of it ended: read it again before changing it, or
		// Services synced together each write the same change.
		have := p.obs.nodesHCFW
		if have != nil && firewallNeedsUpdate(want, have) {
			var err error
			if have, err = getOptional(ctx, b.api.GetFirewall, want.GetName()); err != nil {
				return "", err
			}
		}
		return "", b.ensureFirewall(ctx, p.svc, want, have,
			func(d string) bool { return ownedNodesHealthCheckFirewall(d, p.clusterID) }, "cluster "+p.clusterID)
	})
	return err
}

// ensureServiceFirewalls converges the firewalls that name the IP: the
// clients' and, for externalTrafficPolicy Local, the probers'; with
// Options.DenyFirewall, once those allow rules (and the shared health check
// rule, which nodesFW is) are in place ahead of it, the deny rule.
func (b *Balancer) ensureServiceFirewalls(ctx context.Context, p *plan, ip string, nodesFW *task) error {
	owned := func(d string) bool { return ownedByService(d, p.sp.key) }
	allow := serviceFirewall(p.sp, ip, b.opts.NetworkURL, p.tags)
	allow.Priority = ptr(b.allowPriority())
	fns := []func() error{func() error {
		return b.ensureFirewall(ctx, p.svc, allow, p.obs.firewall, owned, p.sp.key)
	}}
	if p.sp.local {
		fns = append(fns, func() error {
			hc := localHealthCheckFirewall(p.sp, ip, b.opts.NetworkURL, p.tags, b.proberRanges())
			hc.Priority = ptr(b.allowPriority())
			return b.ensureFirewall(ctx, p.svc, hc, p.obs.localHCFW, owned, p.sp.key)
		})
	}
	if err := parallel(fns...); err != nil || !b.opts.DenyFirewall {
		return err
	}
	if err := nodesFW.wait(); err != nil {
		return nil // the shared rule's step reports it; no deny rule before it
	}
	return b.ensureFirewall(ctx, p.svc, denyFirewall(p.sp, ip, b.opts.NetworkURL, p.tags), p.obs.denyFW, owned, p.sp.key)
}

// removeDenyFirewall deletes the deny rule of a load balancer when
// Options.DenyFirewall is off, before any allow rule goes back to the
// default priority, where the deny rule would win over it.
func (b *Balancer) removeDenyFirewall(ctx context.Context, p *plan) error {
	if b.opts.DenyFirewall || p.obs.denyFW == nil {
		return nil
	}
	return b.deleteFirewall(ctx, p.svc, denyFirewallName(p.sp.lbName))
}
