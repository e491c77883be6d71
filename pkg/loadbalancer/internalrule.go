package loadbalancer

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// desiredInternalRule is the internal forwarding rule: the Service's ports
// (all of them beyond maxInternalPorts) of the IP in the subnetwork, to the
// backend service. ip "" lets GCE pick a free IP of the subnetwork.
func desiredInternalRule(sp *internalSpec, ip, bsLink, subnetLink, network string) *computepb.ForwardingRule {
	fr := &computepb.ForwardingRule{
		Name:                ptr(sp.lbName),
		Description:         ptr(serviceDescription(sp.key)),
		IPProtocol:          ptr(string(sp.protocol)),
		LoadBalancingScheme: ptr("INTERNAL"),
		BackendService:      &bsLink,
		Subnetwork:          &subnetLink,
		Network:             &network,
	}
	if ip != "" {
		fr.IPAddress = &ip
	}
	if sp.allPorts {
		fr.AllPorts = ptr(true)
	} else {
		fr.Ports = sp.ports
	}
	if sp.globalAccess {
		fr.AllowGlobalAccess = ptr(true)
	}
	return fr
}

// internalRuleNeedsUpdate diffs an internal rule as the long-standing
// provider does, but for global access: GCE changes allowGlobalAccess in
// place (patch); everything else needs a new rule.
func internalRuleNeedsUpdate(want, have *computepb.ForwardingRule) (recreate, patch bool) {
	recreate = (want.GetIPAddress() != "" && want.GetIPAddress() != have.GetIPAddress()) ||
		want.GetIPProtocol() != have.GetIPProtocol() ||
		want.GetLoadBalancingScheme() != have.GetLoadBalancingScheme() ||
		!slices.Equal(sortedSet(want.GetPorts()), sortedSet(have.GetPorts())) ||
		want.GetAllPorts() != have.GetAllPorts() ||
		!sameResource(want.GetBackendService(), have.GetBackendService()) ||
		!sameResource(want.GetSubnetwork(), have.GetSubnetwork())
	patch = !recreate && want.GetAllowGlobalAccess() != have.GetAllowGlobalAccess()
	return recreate, patch
}

// holdAddress reserves the rule's IP as the Service's own INTERNAL address
// (GCE promotes an IP a rule uses), so that it survives the rule's
// recreation.
func (b *Balancer) holdAddress(ctx context.Context, p *internalPlan) error {
	want := &computepb.Address{Name: ptr(p.sp.lbName), Description: ptr(serviceDescription(p.sp.key)),
		AddressType: ptr("INTERNAL"), Address: ptr(p.ip), Subnetwork: ptr(p.subnetURL)}
	err := b.api.InsertAddress(ctx, want)
	if gce.IsAlreadyExists(err) {
		got, gerr := b.api.GetAddress(ctx, p.sp.lbName)
		if gerr != nil {
			return gerr
		}
		if got.GetAddress() != p.ip || got.GetAddressType() != "INTERNAL" || !ownedByService(got.GetDescription(), p.sp.key) {
			return notOwned("address", p.sp.lbName, got.GetDescription(), p.sp.key)
		}
		err = nil
	}
	if err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Reserved the load balancer's IP while its forwarding rule is recreated", "address", p.sp.lbName, "ip", p.ip)
	return nil
}

// releaseHeldAddress releases the Service's INTERNAL address once the rule
// holds the IP. GCE may refuse while the rule uses it; it is then kept, and
// goes with the load balancer.
func (b *Balancer) releaseHeldAddress(ctx context.Context, name string) error {
	err := b.api.DeleteAddress(ctx, name)
	switch {
	case gce.IsNotFound(err):
		return nil
	case gce.IsInUse(err):
		klog.FromContext(ctx).V(4).Info("Keeping the address: its forwarding rule uses it", "address", name)
		return nil
	case err != nil:
		return err
	}
	klog.FromContext(ctx).V(2).Info("Released address", "address", name)
	return nil
}

// ensureInternalRule makes the rule exist as planned (the recreated one
// was deleted before the backend service changed) and returns its IP.
func (b *Balancer) ensureInternalRule(ctx context.Context, p *internalPlan) (string, error) {
	logger := klog.FromContext(ctx).WithValues("forwardingRule", p.sp.lbName)
	have := p.obs.rule
	switch {
	case have != nil && !p.recreate && !p.patchRule:
		return have.GetIPAddress(), nil
	case have != nil && p.patchRule:
		patch := &computepb.ForwardingRule{Name: p.rule.Name, AllowGlobalAccess: ptr(p.sp.globalAccess), Fingerprint: have.Fingerprint}
		if err := b.api.PatchForwardingRule(ctx, patch); err != nil {
			return "", err
		}
		logger.V(2).Info("Changed forwarding rule's global access", "allowGlobalAccess", p.sp.globalAccess)
		return have.GetIPAddress(), nil
	}
	err := b.api.InsertForwardingRule(ctx, p.rule)
	if gce.IsIPInUse(err) && p.sp.requestedIP != "" {
		// A holder gce-ccm did not see before it wrote: a VM that took the
		// IP since, or an alias IP range of a VM.
		return "", &InputError{Field: "spec.loadBalancerIP", Value: p.sp.requestedIP,
			Reason: fmt.Sprintf("in use by another resource of the network, a VM or another load balancer (%v)", err)}
	}
	if err != nil && (gce.IsIPInUse(err) || !gce.IsAlreadyExists(err)) {
		return "", err
	}
	fr, err := b.api.GetForwardingRule(ctx, p.sp.lbName)
	if err != nil {
		return "", err
	}
	if recreate, _ := internalRuleNeedsUpdate(p.rule, fr); recreate || !ownedByService(fr.GetDescription(), p.sp.key) {
		return "", notOwned("forwarding rule", p.sp.lbName, fr.GetDescription(), p.sp.key)
	}
	logger.V(2).Info("Created forwarding rule", "ip", fr.GetIPAddress(), "protocol", fr.GetIPProtocol(), "ports", fr.GetPorts(),
		"allPorts", fr.GetAllPorts(), "allowGlobalAccess", fr.GetAllowGlobalAccess())
	return fr.GetIPAddress(), nil
}
