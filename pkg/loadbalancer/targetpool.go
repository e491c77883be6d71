package loadbalancer

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// GCE's per-call limits, as the long-standing provider applies them: a pool
// is created with at most maxInstancesPerInsert VMs and grown or shrunk by
// at most maxInstancesPerCall per call.
const (
	maxInstancesPerInsert = 200
	maxInstancesPerCall   = 1000
)

// desiredTargetPool is the pool of the node VMs behind the load balancer.
func desiredTargetPool(name string, sp *spec, hosts []string, hcLink string) *computepb.TargetPool {
	return &computepb.TargetPool{
		Name:            &name,
		Description:     ptr(serviceDescription(sp.key)),
		Instances:       hosts,
		SessionAffinity: &sp.affinity,
		HealthChecks:    []string{hcLink},
	}
}

// poolDiff is what it takes to turn an existing pool into the wanted one.
type poolDiff struct {
	// recreate: the session affinity differs, which GCE cannot change, or
	// the pool has another health check. GCE allows one health check per
	// pool, so changing it in place would leave the pool without one for a
	// while, and a pool without a health check sends traffic to every VM,
	// ready or not: a new pool is built with the new check and the rules
	// are moved to it.
	recreate bool
	// add and remove are instance URLs.
	add, remove []string
	// detach are health checks to remove; attach is the one to add ("" when
	// it is attached already).
	detach []string
	attach string
}

func (d poolDiff) empty() bool {
	return !d.recreate && len(d.add) == 0 && len(d.remove) == 0 && len(d.detach) == 0 && d.attach == ""
}

// targetPoolNeedsUpdate diffs a pool. An empty affinity on an existing pool
// is read as a match, as the long-standing provider does, since GCE has not
// always filled it in.
func targetPoolNeedsUpdate(want, have *computepb.TargetPool) poolDiff {
	var d poolDiff
	d.recreate = have.GetSessionAffinity() != "" && have.GetSessionAffinity() != want.GetSessionAffinity()
	d.add, d.remove = membershipChanges(want.GetInstances(), have.GetInstances())
	wantHC := ""
	if len(want.GetHealthChecks()) > 0 {
		wantHC = want.GetHealthChecks()[0]
	}
	if wantHC != "" && len(have.GetHealthChecks()) > 0 &&
		!slices.ContainsFunc(have.GetHealthChecks(), func(hc string) bool { return sameResource(hc, wantHC) }) {
		d.recreate = true
	}
	attached := false
	for _, hc := range have.GetHealthChecks() {
		if wantHC != "" && sameResource(hc, wantHC) {
			attached = true
			continue
		}
		d.detach = append(d.detach, hc)
	}
	if !attached && wantHC != "" {
		d.attach = wantHC
	}
	return d
}

// membershipChanges returns the instances to add to a pool and those to
// remove from it, comparing URLs by path.
func membershipChanges(want, have []string) (add, remove []string) {
	haveSet := make(map[string]bool, len(have))
	for _, h := range have {
		haveSet[resourcePath(h)] = true
	}
	wantSet := make(map[string]bool, len(want))
	for _, w := range want {
		wantSet[resourcePath(w)] = true
		if !haveSet[resourcePath(w)] {
			add = append(add, w)
		}
	}
	for _, h := range have {
		if !wantSet[resourcePath(h)] {
			remove = append(remove, h)
		}
	}
	return add, remove
}

// createTargetPool creates want with its first instances and adds the rest
// in batches.
func (b *Balancer) createTargetPool(ctx context.Context, want *computepb.TargetPool) error {
	first := want.GetInstances()
	if len(first) > maxInstancesPerInsert {
		first = first[:maxInstancesPerInsert]
	}
	create := &computepb.TargetPool{
		Name: want.Name, Description: want.Description, SessionAffinity: want.SessionAffinity,
		HealthChecks: want.HealthChecks, Instances: first,
	}
	err := b.api.InsertTargetPool(ctx, create)
	if gce.IsAlreadyExists(err) {
		// An earlier try made it: converge it instead.
		have, err := b.api.GetTargetPool(ctx, want.GetName())
		if err != nil {
			return err
		}
		if descriptionValue(have.GetDescription(), serviceNameKey) != descriptionValue(want.GetDescription(), serviceNameKey) {
			return notOwned("target pool", want.GetName(), have.GetDescription(), descriptionValue(want.GetDescription(), serviceNameKey))
		}
		return b.syncTargetPool(ctx, want, have)
	}
	if err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Created target pool", "targetPool", want.GetName(), "instances", len(first),
		"sessionAffinity", want.GetSessionAffinity())
	return b.changeMembers(ctx, want.GetName(), want.GetInstances()[len(first):], nil)
}

// syncTargetPool converges an existing pool's health check and members; the
// caller has made sure its affinity matches.
func (b *Balancer) syncTargetPool(ctx context.Context, want, have *computepb.TargetPool) error {
	d := targetPoolNeedsUpdate(want, have)
	if d.recreate {
		return fmt.Errorf("target pool %s has session affinity %s and health checks %v, want %s and %v", want.GetName(),
			have.GetSessionAffinity(), have.GetHealthChecks(), want.GetSessionAffinity(), want.GetHealthChecks())
	}
	logger := klog.FromContext(ctx).WithValues("targetPool", want.GetName())
	// A pool holds one health check: the old one goes before the new one.
	for _, hc := range d.detach {
		if err := b.api.RemoveHealthCheckFromTargetPool(ctx, want.GetName(), hc); err != nil && !gce.IsNotFound(err) {
			return err
		}
		logger.V(2).Info("Detached health check from target pool", "healthCheck", lastSegment(hc))
	}
	if d.attach != "" {
		if err := b.api.AddHealthCheckToTargetPool(ctx, want.GetName(), d.attach); err != nil {
			return err
		}
		logger.V(2).Info("Attached health check to target pool", "healthCheck", lastSegment(d.attach))
	}
	return b.changeMembers(ctx, want.GetName(), d.add, d.remove)
}

// changeMembers adds and then removes instances in batches, so that the
// pool never shrinks below what both the old and the new node set serve.
func (b *Balancer) changeMembers(ctx context.Context, pool string, add, remove []string) error {
	logger := klog.FromContext(ctx).WithValues("targetPool", pool)
	for batch := range chunks(add, maxInstancesPerCall) {
		if err := b.api.AddInstancesToTargetPool(ctx, pool, batch); err != nil {
			return err
		}
		logger.V(2).Info("Added instances to target pool", "count", len(batch))
	}
	for batch := range chunks(remove, maxInstancesPerCall) {
		if err := b.api.RemoveInstancesFromTargetPool(ctx, pool, batch); err != nil && !gce.IsNotFound(err) {
			return err
		}
		logger.V(2).Info("Removed instances from target pool", "count", len(batch))
	}
	return nil
}

// deleteTargetPool deletes a pool; one already gone is success.
func (b *Balancer) deleteTargetPool(ctx context.Context, name string) error {
	err := retryNotReady(ctx, func() error { return b.api.DeleteTargetPool(ctx, name) })
	if gce.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Deleted target pool", "targetPool", name)
	return nil
}

// chunks yields s in pieces of at most n.
func chunks(s []string, n int) func(yield func([]string) bool) {
	return func(yield func([]string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// ensureHealthCheckAndPool converges the health check and then the target
// pool that uses it.
func (b *Balancer) ensureHealthCheckAndPool(ctx context.Context, p *plan) error {
	have, owner := p.obs.localHC, p.sp.key
	owned := func(d string) bool { return ownedLocalHealthCheck(d, p.sp.lbName, p.sp.key) }
	if !p.sp.local {
		// Keep the shared check from being deleted until the pool uses it.
		b.nodesHC.RLock()
		defer b.nodesHC.RUnlock()
		have, owner = p.obs.nodesHC, "cluster "+p.clusterID
		owned = func(d string) bool { return ownedNodesHealthCheck(d, p.clusterID) }
	}
	ensure := func() (string, error) {
		// As for the shared firewall: a check read before another Service's
		// write of it ended is read again before it is changed.
		if !p.sp.local && have != nil && healthCheckNeedsUpdate(p.hc, have) {
			var err error
			if have, err = getOptional(ctx, b.api.GetHTTPHealthCheck, p.hc.Name); err != nil {
				return "", err
			}
		}
		return b.ensureHealthCheck(ctx, p.hc, have, owned, owner)
	}
	var link string
	var err error
	if p.sp.local {
		link, err = ensure()
	} else {
		link, err = b.shared.do(ctx, "httpHealthChecks/"+p.hc.Name, ensure)
	}
	if err != nil {
		return err
	}
	want := desiredTargetPool(p.poolName, p.sp, p.hosts, link)
	if p.pool == nil {
		return b.createTargetPool(ctx, want)
	}
	return b.syncTargetPool(ctx, want, p.pool)
}
