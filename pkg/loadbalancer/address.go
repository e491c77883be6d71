package loadbalancer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// addressPlan says which IP the load balancer uses, in which tier, and what
// happens to the address the service reserved for itself.
type addressPlan struct {
	// ip is the load balancer's IP; "" until a new address is reserved.
	ip   string
	tier string
	// reserve is an address to insert under the service's name: a new one
	// (no Address set), or the promotion of an ephemeral IP to a static one
	// so that it survives the recreation of the forwarding rule.
	reserve *computepb.Address
	// replaceOwn: the service's own address is in the wrong tier. The rules
	// on it and then the address go before the new address is reserved.
	replaceOwn bool
	// predelete are the rules on the address being replaced.
	predelete []string
	// releaseOwn: the service's own address is not used any more and is
	// released once the rules have moved off it.
	releaseOwn bool
	// userOwned: the IP is a static address that someone else reserved; it
	// is never released.
	userOwned bool
}

// rulesIP is the IP and tier that the service's existing forwarding rules
// use (the primary rule's first), "" when there are none.
func rulesIP(lbName string, rules map[string]*computepb.ForwardingRule) (ip, tier string) {
	for _, name := range forwardingRuleNames(lbName) {
		if fr := rules[name]; fr != nil {
			return fr.GetIPAddress(), tierOf(fr.GetNetworkTier())
		}
	}
	return "", ""
}

func tierOf(t string) string {
	if t == "" {
		return tierPremium
	}
	return t
}

// planAddress decides the IP. own is the service's own address (already
// checked to be the service's), requested the address that holds
// spec.loadBalancerIP (nil when none does), rules the service's forwarding
// rules. The IP of a working load balancer is kept unless the Service asks
// for another one or for another tier; without the tier annotation the tier
// follows the kept IP.
func planAddress(sp *spec, own, requested *computepb.Address, rules map[string]*computepb.ForwardingRule) (addressPlan, error) {
	ruleIP, ruleTier := rulesIP(sp.lbName, rules)
	want := sp.requestedIP
	tierField := "metadata.annotations[" + NetworkTierAnnotation + "]"
	pick := func(have string) (string, error) {
		if sp.tierExplicit && have != sp.tier {
			return "", &InputError{Field: tierField, Value: sp.tier,
				Reason: fmt.Sprintf("spec.loadBalancerIP %s is a %s tier address; an address cannot change tier, so reserve one in the %s tier or change the annotation", want, have, sp.tier)}
		}
		return have, nil
	}
	newAddress := func(tier string) *computepb.Address {
		return &computepb.Address{Name: ptr(sp.lbName), Description: ptr(serviceDescription(sp.key)), NetworkTier: &tier, AddressType: ptr("EXTERNAL")}
	}

	switch {
	case want != "" && own != nil && own.GetAddress() == want:
		tier, err := pick(tierOf(own.GetNetworkTier()))
		return addressPlan{ip: want, tier: tier}, err

	case want != "" && requested != nil:
		if holder := descriptionValue(requested.GetDescription(), serviceNameKey); holder != "" && holder != sp.key {
			return addressPlan{}, &InputError{Field: "spec.loadBalancerIP", Value: want,
				Reason: fmt.Sprintf("held by address %s of Service %s", requested.GetName(), holder)}
		}
		if t := requested.GetAddressType(); t != "" && t != "EXTERNAL" {
			return addressPlan{}, &InputError{Field: "spec.loadBalancerIP", Value: want,
				Reason: fmt.Sprintf("address %s is %s; a network load balancer needs an EXTERNAL address", requested.GetName(), t)}
		}
		for _, user := range requested.GetUsers() {
			if !isOwnRule(user, sp.lbName, rules) {
				return addressPlan{}, &InputError{Field: "spec.loadBalancerIP", Value: want,
					Reason: fmt.Sprintf("address %s is in use by %s", requested.GetName(), user)}
			}
		}
		tier, err := pick(tierOf(requested.GetNetworkTier()))
		return addressPlan{ip: want, tier: tier, userOwned: true, releaseOwn: own != nil}, err

	case want != "" && want == ruleIP:
		// The rule holds it as an ephemeral IP (a load balancer made by the
		// long-standing provider keeps no address).
		tier, err := pick(ruleTier)
		return addressPlan{ip: want, tier: tier, releaseOwn: own != nil}, err

	case want != "":
		return addressPlan{}, &InputError{Field: "spec.loadBalancerIP", Value: want,
			Reason: "not a static external address reserved in the cluster's region; reserve it first (gcloud compute addresses create --region)"}

	case own != nil:
		if sp.tierExplicit && tierOf(own.GetNetworkTier()) != sp.tier {
			return addressPlan{tier: sp.tier, reserve: newAddress(sp.tier), replaceOwn: true}, nil
		}
		return addressPlan{ip: own.GetAddress(), tier: tierOf(own.GetNetworkTier())}, nil

	case ruleIP != "" && (!sp.tierExplicit || ruleTier == sp.tier):
		return addressPlan{ip: ruleIP, tier: ruleTier}, nil
	}
	return addressPlan{tier: sp.tier, reserve: newAddress(sp.tier)}, nil
}

// isOwnRule reports whether a forwarding rule URL is one of the service's.
func isOwnRule(link, lbName string, rules map[string]*computepb.ForwardingRule) bool {
	for _, name := range forwardingRuleNames(lbName) {
		if fr := rules[name]; fr != nil && sameResource(fr.GetSelfLink(), link) {
			return true
		}
	}
	return false
}

// reserveAddress inserts the planned address and returns its IP.
func (b *Balancer) reserveAddress(ctx context.Context, want *computepb.Address, key string) (string, error) {
	logger := klog.FromContext(ctx).WithValues("address", want.GetName())
	err := b.api.InsertAddress(ctx, want)
	if err != nil && !gce.IsAlreadyExists(err) {
		return "", err
	}
	got, gerr := b.api.GetAddress(ctx, want.GetName())
	if gerr != nil {
		return "", gerr
	}
	if err != nil { // it existed: an earlier try's, or not ours
		if !ownedByService(got.GetDescription(), key) {
			return "", notOwned("address", want.GetName(), got.GetDescription(), key)
		}
		if tierOf(got.GetNetworkTier()) != want.GetNetworkTier() || (want.GetAddress() != "" && got.GetAddress() != want.GetAddress()) {
			return "", fmt.Errorf("address %s exists with IP %s in tier %s, not the planned one; it will be replaced on the next try",
				want.GetName(), got.GetAddress(), got.GetNetworkTier())
		}
	}
	logger.V(2).Info("Reserved address", "ip", got.GetAddress(), "tier", got.GetNetworkTier())
	return got.GetAddress(), nil
}

// deleteAddress releases the service's own address; one already gone is
// success.
func (b *Balancer) deleteAddress(ctx context.Context, name string) error {
	err := b.api.DeleteAddress(ctx, name)
	if gce.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Released address", "address", name)
	return nil
}

// addressByIP returns the region's address holding ip, nil when none does.
func (b *Balancer) addressByIP(ctx context.Context, ip string) (*computepb.Address, error) {
	list, err := b.api.ListAddresses(ctx, `address eq "`+ip+`"`)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		// The filter is a regular expression; compare exactly.
		if a.GetAddress() == ip {
			return a, nil
		}
	}
	return nil, nil
}

// ensureAddress settles the IP: it replaces an address of the wrong tier
// (after the rules on it) and reserves or promotes the planned address.
func (b *Balancer) ensureAddress(ctx context.Context, p *plan) error {
	if p.addr.replaceOwn {
		var fns []func() error
		for _, name := range p.addr.predelete {
			fns = append(fns, func() error { return b.deleteForwardingRule(ctx, name) })
		}
		if err := parallel(fns...); err != nil {
			return err
		}
		if err := b.deleteAddress(ctx, p.obs.address.GetName()); err != nil {
			return err
		}
	}
	if p.addr.reserve == nil {
		return nil
	}
	ip, err := b.reserveAddress(ctx, p.addr.reserve, p.sp.key)
	if err != nil {
		return err
	}
	p.addr.ip = ip
	return nil
}

// addressReleases are the releases of Services' own addresses that run in
// the background, by address name.
type addressReleases struct {
	mu      sync.Mutex
	running map[string]*task
}

// releaseAttempts and releaseFirstDelay bound the retries of a release in
// the background; a release that still fails is left to the Service's next
// sync, which finds the address and releases it.
const (
	releaseAttempts   = 4
	releaseFirstDelay = 500 * time.Millisecond
)

// releaseLater releases the service's own address in the background, once
// its forwarding rules hold the IP: the release keeps no one from using the
// load balancer, so EnsureLoadBalancer returns without waiting for it and
// the service controller writes the IP to the Service's status at once.
// Nothing is lost if the manager stops before the release ends: the next
// sync of the Service (every Service is synced at start) finds the address
// and the rules on its IP, and releases it. The Service's next sync waits
// for this one (waitRelease), because a plan made while the address is
// going could count on it to recreate a rule and lose the IP.
func (b *Balancer) releaseLater(ctx context.Context, name string) {
	r := &b.releases
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[name] != nil {
		return
	}
	if r.running == nil {
		r.running = map[string]*task{}
	}
	var t *task
	t = start(func() error {
		err := b.releaseAddress(ctx, name)
		r.mu.Lock()
		if r.running[name] == t {
			delete(r.running, name)
		}
		r.mu.Unlock()
		return err
	})
	r.running[name] = t
}

// releaseAddress deletes the address, retrying a failure a few times.
func (b *Balancer) releaseAddress(ctx context.Context, name string) error {
	delay := releaseFirstDelay
	for attempt := 1; ; attempt++ {
		err := b.deleteAddress(ctx, name)
		if err == nil {
			return nil
		}
		if attempt == releaseAttempts {
			klog.FromContext(ctx).Error(err, "Cannot release the Service's address; its next sync releases it", "address", name)
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay *= 2
	}
}

// waitRelease waits until no release of the address runs.
func (b *Balancer) waitRelease(ctx context.Context, name string) error {
	b.releases.mu.Lock()
	t := b.releases.running[name]
	b.releases.mu.Unlock()
	if t == nil {
		return nil
	}
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitAll waits for every release running now.
func (r *addressReleases) waitAll() {
	r.mu.Lock()
	var ts []*task
	for _, t := range r.running {
		ts = append(ts, t)
	}
	r.mu.Unlock()
	for _, t := range ts {
		_ = t.wait()
	}
}
