package loadbalancer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/quote"
)

// observedInternal is what exists of a Service's internal load balancer.
// Every resource in it passed its ownership check.
type observedInternal struct {
	subnet *computepb.Subnetwork
	rule   *computepb.ForwardingRule
	// address is the Service's own INTERNAL address (named as the load
	// balancer), which holds the IP while the rule is recreated.
	address *computepb.Address
	// requested holds spec.loadBalancerIP; requestedHolders are the rules
	// with that IP when no address holds it.
	requested        *computepb.Address
	requestedHolders []*computepb.ForwardingRule
	// requestedVM is the VM whose interface in the subnetwork has that IP
	// (read only while no address, nor the Service's rule, holds it).
	requestedVM string
	bs          *computepb.BackendService // the wanted name's
	// ruleBS is the backend service the rule uses when it has another name
	// (the backend-share annotation or the protocol changed); nil when it
	// is not ours.
	ruleBS   *computepb.BackendService
	hc       *computepb.HealthCheck
	firewall *computepb.Firewall
	hcFW     *computepb.Firewall
	// ownHC and ownHCFW are the Local policy's own check and its firewall,
	// read under the Cluster policy: a change of policy that was cut off
	// after the backend service moved to the shared check leaves them.
	ownHC   *computepb.HealthCheck
	ownHCFW *computepb.Firewall
}

// observeInternal reads everything of the Service's internal load balancer
// at once. A resource with one of its names that fails the ownership check
// is an error: nothing is written.
func (b *Balancer) observeInternal(ctx context.Context, sp *internalSpec, clusterID string) (*observedInternal, error) {
	o := &observedInternal{}
	subnetName, subnetField := sp.subnet, "metadata.annotations["+SubnetAnnotation+"]"
	if subnetName == "" {
		subnetName, subnetField = lastSegment(b.opts.Subnetwork), ""
	}
	bsName := backendServiceName(sp.lbName, clusterID, sp.shareBackend, sp.protocols(), sp.svcAffinity)
	want := desiredInternalHealthCheck(sp, clusterID)
	fns := []func() error{
		func() (err error) { o.rule, err = getOptional(ctx, b.api.GetForwardingRule, sp.lbName); return err },
		func() (err error) { o.address, err = getOptional(ctx, b.api.GetAddress, sp.lbName); return err },
		func() (err error) { o.bs, err = getOptional(ctx, b.api.GetRegionBackendService, bsName); return err },
		func() (err error) { o.hc, err = getOptional(ctx, b.api.GetHealthCheck, want.GetName()); return err },
		func() (err error) {
			o.firewall, err = getOptional(ctx, b.api.GetFirewall, firewallName(sp.lbName))
			return err
		},
		func() (err error) {
			o.hcFW, err = getOptional(ctx, b.api.GetFirewall, internalHealthCheckFirewallName(want.GetName()))
			return err
		},
		func() (err error) { o.subnet, err = b.subnetwork(ctx, subnetName, subnetField); return err },
	}
	if !sp.local {
		own := internalHealthCheckName(sp.lbName, clusterID, false)
		fns = append(fns,
			func() (err error) { o.ownHC, err = getOptional(ctx, b.api.GetHealthCheck, own); return err },
			func() (err error) {
				o.ownHCFW, err = getOptional(ctx, b.api.GetFirewall, internalHealthCheckFirewallName(own))
				return err
			})
	}
	if sp.requestedIP != "" {
		fns = append(fns,
			func() (err error) { o.requested, err = b.addressByIP(ctx, sp.requestedIP); return err },
			func() (err error) {
				o.requestedHolders, err = b.api.ListForwardingRules(ctx, `IPAddress eq "`+sp.requestedIP+`"`)
				return err
			})
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}

	var errs []error
	notOurs := func(kind, name, description, owner string) {
		errs = append(errs, notOwned(kind, name, description, owner))
	}
	if fr := o.rule; fr != nil {
		switch {
		case fr.GetLoadBalancingScheme() != "INTERNAL":
			errs = append(errs, fmt.Errorf("forwarding rule %s exists with scheme %s (description %s); gce-ccm builds no internal load balancer beside it",
				fr.GetName(), cmp.Or(fr.GetLoadBalancingScheme(), "EXTERNAL"), quote.Value(fr.GetDescription())))
		case !ownedByService(fr.GetDescription(), sp.key):
			notOurs("forwarding rule", fr.GetName(), fr.GetDescription(), sp.key)
		}
	}
	if a := o.address; a != nil && (a.GetAddressType() != "INTERNAL" || !ownedByService(a.GetDescription(), sp.key)) {
		o.address = nil // not ours to hold the IP with; a new one is not made over it
	}
	if bs := o.bs; bs != nil && !ownedBackendService(bs, sp, clusterID) {
		notOurs("backend service", bs.GetName(), bs.GetDescription(), sp.key)
	}
	if hc := o.hc; hc != nil && !ownedInternalHealthCheck(hc.GetDescription(), sp.key, !sp.local) {
		notOurs("health check", hc.GetName(), hc.GetDescription(), sp.key)
	}
	if fw := o.firewall; fw != nil && !ownedByService(fw.GetDescription(), sp.key) {
		notOurs("firewall", fw.GetName(), fw.GetDescription(), sp.key)
	}
	if fw := o.hcFW; fw != nil && !ownedHealthCheckFirewall(fw.GetDescription()) {
		notOurs("firewall", fw.GetName(), fw.GetDescription(), sp.key)
	}
	// Leftovers that are not provably the Service's are left alone, the
	// firewall too when a check of that name is not the Service's.
	if hc := o.ownHC; hc != nil && !ownedInternalHealthCheck(hc.GetDescription(), sp.key, false) {
		o.ownHC, o.ownHCFW = nil, nil
	}
	if fw := o.ownHCFW; fw != nil && !ownedHealthCheckFirewall(fw.GetDescription()) {
		o.ownHCFW = nil
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := b.observeRequestedVM(ctx, sp, o); err != nil {
		return nil, err
	}
	// The backend service the rule uses, when it is another: it goes once
	// the rule uses the wanted one.
	if fr := o.rule; fr != nil && fr.GetBackendService() != "" && lastSegment(fr.GetBackendService()) != bsName {
		bs, err := getOptional(ctx, b.api.GetRegionBackendService, lastSegment(fr.GetBackendService()))
		if err != nil {
			return nil, err
		}
		if bs != nil && ownedBackendService(bs, sp, clusterID) {
			o.ruleBS = bs
		}
	}
	return o, nil
}

// observeRequestedVM finds a VM that uses spec.loadBalancerIP in the
// subnetwork, so that the IP is refused before anything is written, not by
// GCE at the rule's insert after the shared resources were. It reads only
// when nothing else accounts for the IP: no address holds it and the
// Service's rule does not have it already (so not on a converged sync).
func (b *Balancer) observeRequestedVM(ctx context.Context, sp *internalSpec, o *observedInternal) error {
	if sp.requestedIP == "" || o.requested != nil || (o.rule != nil && o.rule.GetIPAddress() == sp.requestedIP) {
		return nil
	}
	vms, err := b.api.InstancesWithIP(ctx, sp.requestedIP)
	if err != nil {
		return err
	}
	for _, vm := range vms {
		for _, nic := range vm.GetNetworkInterfaces() {
			// Without the subnetwork's link (an unknown shape) any VM with
			// the IP counts: refusing is the safe side.
			if nic.GetNetworkIP() == sp.requestedIP &&
				(o.subnet.GetSelfLink() == "" || sameResource(nic.GetSubnetwork(), o.subnet.GetSelfLink())) {
				o.requestedVM = vm.GetName()
				return nil
			}
		}
	}
	return nil
}

// subnetwork reads the subnetwork internal load balancers take their IPs
// from: the one named (by the Service's annotation, field, or gce.conf),
// else the network's only one in the region.
func (b *Balancer) subnetwork(ctx context.Context, name, field string) (*computepb.Subnetwork, error) {
	if name == "" {
		list, err := b.api.ListSubnetworks(ctx, `network eq ".*/networks/`+lastSegment(b.opts.NetworkURL)+`"`)
		if err != nil {
			return nil, err
		}
		var names []string
		var found *computepb.Subnetwork
		for _, sn := range list {
			if sameResource(sn.GetNetwork(), b.opts.NetworkURL) {
				names, found = append(names, sn.GetName()), sn
			}
		}
		if len(names) != 1 {
			return nil, fmt.Errorf("gce.conf sets no subnetwork-name and network %s has %d subnetworks in region %s (%s); "+
				"set subnetwork-name, or the annotation %s on the Service", lastSegment(b.opts.NetworkURL), len(names), b.opts.Region,
				strings.Join(names, ", "), SubnetAnnotation)
		}
		return found, nil
	}
	sn, err := b.api.GetSubnetwork(ctx, name)
	if gce.IsNotFound(err) {
		if field != "" {
			return nil, &InputError{Field: field, Value: name, Reason: fmt.Sprintf("no such subnetwork in region %s of project %s", b.opts.Region, b.networkProject())}
		}
		return nil, fmt.Errorf("gce.conf subnetwork-name %q: no such subnetwork in region %s of project %s", name, b.opts.Region, b.networkProject())
	}
	if err != nil {
		return nil, err
	}
	if !sameResource(sn.GetNetwork(), b.opts.NetworkURL) {
		reason := fmt.Sprintf("subnetwork %s belongs to network %s, not to the cluster's network %s", name, lastSegment(sn.GetNetwork()), lastSegment(b.opts.NetworkURL))
		if field != "" {
			return nil, &InputError{Field: field, Value: name, Reason: reason}
		}
		return nil, fmt.Errorf("gce.conf subnetwork-name: %s", reason)
	}
	return sn, nil
}

// internalPlan is everything ensureInternal will do, decided before the
// first write.
type internalPlan struct {
	svc       *v1.Service
	sp        *internalSpec
	clusterID string
	hosts     []string
	tags      []string
	obs       *observedInternal

	subnetURL string
	// ip is the load balancer's IP; "" until GCE picks one for a new rule.
	ip string
	// userOwned: spec.loadBalancerIP is a user's reserved address.
	userOwned bool

	hc     *computepb.HealthCheck
	bsName string
	// rule is the wanted forwarding rule (its IP "" while GCE is to pick).
	rule *computepb.ForwardingRule
	// recreate: the rule goes before the backend service changes and is
	// made anew after; patchRule: only allowGlobalAccess changes, in place.
	recreate, patchRule bool
	// hold: reserve the rule's IP as the Service's address before the rule
	// is recreated, so that nobody takes it meanwhile.
	hold bool
	// releaseStale: the Service's own address holds an IP the load
	// balancer no longer uses (its IP or subnetwork changed).
	releaseStale bool

	// staleBS is the backend service the rule leaves; staleHC the health
	// check the backend service leaves (another traffic policy).
	staleBS string
	staleHC string
}

// makeInternalPlan decides the IP, the rule's fate and what goes stale.
func (b *Balancer) makeInternalPlan(sp *internalSpec, clusterID string, o *observedInternal) (*internalPlan, error) {
	p := &internalPlan{sp: sp, clusterID: clusterID, obs: o, subnetURL: o.subnet.GetSelfLink(),
		hc: desiredInternalHealthCheck(sp, clusterID)}
	p.bsName = backendServiceName(sp.lbName, clusterID, sp.shareBackend, sp.protocols(), sp.svcAffinity)
	if p.subnetURL == "" {
		p.subnetURL = subnetworkURL(b.networkProject(), b.opts.Region, o.subnet.GetName())
	}
	sameSubnet := func(link string) bool { return sameResource(link, p.subnetURL) }

	switch {
	case sp.requestedIP != "":
		if err := checkRequestedInternalIP(sp, o, p.subnetURL); err != nil {
			return nil, err
		}
		p.ip = sp.requestedIP
		p.userOwned = o.requested != nil && o.requested.GetName() != sp.lbName
	case o.rule != nil && sameSubnet(o.rule.GetSubnetwork()):
		p.ip = o.rule.GetIPAddress()
	case o.address != nil && sameSubnet(o.address.GetSubnetwork()):
		p.ip = o.address.GetAddress()
	}

	p.rule = desiredInternalRule(sp, p.ip, backendServiceURL(b.opts.Project, b.opts.Region, p.bsName), p.subnetURL, b.opts.NetworkURL)
	if o.rule != nil {
		p.recreate, p.patchRule = internalRuleNeedsUpdate(p.rule, o.rule)
	}
	// The IP of a rule that is recreated stays the Service's: reserved
	// first unless an address holds it already.
	p.hold = p.recreate && p.ip != "" && p.ip == o.rule.GetIPAddress() && !p.userOwned &&
		(o.address == nil || o.address.GetAddress() != p.ip)
	if p.hold && o.address != nil {
		return nil, fmt.Errorf("address %s holds %s, not the load balancer's IP %s; delete it so that the IP can be kept while the forwarding rule is recreated",
			sp.lbName, o.address.GetAddress(), p.ip)
	}
	p.releaseStale = o.address != nil && o.address.GetAddress() != p.ip

	if o.ruleBS != nil {
		p.staleBS = o.ruleBS.GetName()
	}
	for _, bs := range []*computepb.BackendService{o.bs, o.ruleBS} {
		for _, hc := range bs.GetHealthChecks() {
			if name := lastSegment(hc); name != p.hc.GetName() && (name == sp.lbName || name == nodesHealthCheckName(clusterID)) {
				p.staleHC = name
			}
		}
	}
	if p.staleHC == "" && (o.ownHC != nil || o.ownHCFW != nil) {
		p.staleHC = internalHealthCheckName(sp.lbName, clusterID, false)
	}
	return p, nil
}

// checkRequestedInternalIP refuses a spec.loadBalancerIP outside the
// subnetwork or held by another resource, before anything is written.
func checkRequestedInternalIP(sp *internalSpec, o *observedInternal, subnetURL string) error {
	bad := func(reason string) error {
		return &InputError{Field: "spec.loadBalancerIP", Value: sp.requestedIP, Reason: reason}
	}
	ip := netip.MustParseAddr(sp.requestedIP)
	if cidr, err := netip.ParsePrefix(o.subnet.GetIpCidrRange()); err != nil || !cidr.Contains(ip) {
		return bad(fmt.Sprintf("not in the range %s of subnetwork %s; an internal load balancer's IP comes from its subnetwork",
			o.subnet.GetIpCidrRange(), o.subnet.GetName()))
	}
	isOwnRule := func(link string) bool { return o.rule != nil && sameResource(link, o.rule.GetSelfLink()) }
	if a := o.requested; a != nil {
		if a.GetAddressType() != "INTERNAL" {
			return bad(fmt.Sprintf("address %s is %s; an internal load balancer needs an INTERNAL address", a.GetName(), cmp.Or(a.GetAddressType(), "EXTERNAL")))
		}
		if holder := descriptionValue(a.GetDescription(), serviceNameKey); holder != "" && holder != sp.key {
			return bad(fmt.Sprintf("held by address %s of Service %s", a.GetName(), holder))
		}
		for _, user := range a.GetUsers() {
			if !isOwnRule(user) {
				return bad(fmt.Sprintf("address %s is in use by %s", a.GetName(), user))
			}
		}
		return nil
	}
	if o.requestedVM != "" {
		return bad(fmt.Sprintf("in use by VM %s of subnetwork %s", o.requestedVM, o.subnet.GetName()))
	}
	for _, fr := range o.requestedHolders {
		if fr.GetIPAddress() == sp.requestedIP && !isOwnRule(fr.GetSelfLink()) {
			holder := cmp.Or(descriptionValue(fr.GetDescription(), serviceNameKey), "another load balancer")
			return bad(fmt.Sprintf("in use by forwarding rule %s of %s", fr.GetName(), holder))
		}
	}
	return nil
}
