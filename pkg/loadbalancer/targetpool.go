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
// in batches. With hcLater the pool is inserted without its health check,
// which does not exist yet (hc is still making it): it reports whether the
// caller must attach the check once both exist. A pool an earlier try left
// is converged instead, after hc.
func (b *Balancer) createTargetPool(ctx context.Context, want *computepb.TargetPool, hc *task, hcLater bool) (attachLater bool, err error) {
	first := want.GetInstances()
	if len(first) > maxInstancesPerInsert {
		first = first[:maxInstancesPerInsert]
	}
	create := &computepb.TargetPool{
		Name: want.Name, Description: want.Description, SessionAffinity: want.SessionAffinity,
		HealthChecks: want.HealthChecks, Instances: first,
	}
	if hcLater {
		create.HealthChecks = nil
	}
	err = b.api.InsertTargetPool(ctx, create)
	if gce.IsAlreadyExists(err) {
		// An earlier try made it: converge it instead.
		have, err := b.api.GetTargetPool(ctx, want.GetName())
		if err != nil {
			return false, err
		}
		if descriptionValue(have.GetDescription(), serviceNameKey) != descriptionValue(want.GetDescription(), serviceNameKey) {
			return false, notOwned("target pool", want.GetName(), have.GetDescription(), descriptionValue(want.GetDescription(), serviceNameKey))
		}
		if !after(hc) {
			return false, errSkipped
		}
		return false, b.syncTargetPool(ctx, want, have)
	}
	if err != nil {
		return false, err
	}
	klog.FromContext(ctx).V(2).Info("Created target pool", "targetPool", want.GetName(), "instances", len(first),
		"sessionAffinity", want.GetSessionAffinity(), "healthCheckLater", hcLater)
	return hcLater, b.changeMembers(ctx, want.GetName(), want.GetInstances()[len(first):], nil)
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

// healthCheckFlight is the sharedWrites key of a shared health check.
func healthCheckFlight(name string) string { return "httpHealthChecks/" + name }

// ensurePoolHealthCheck converges the health check of the service's pool.
// The caller holds b.nodesHC for reading when the check is the shared one.
func (b *Balancer) ensurePoolHealthCheck(ctx context.Context, p *plan) error {
	have, owner := p.obs.localHC, p.sp.key
	owned := func(d string) bool { return ownedLocalHealthCheck(d, p.sp.lbName, p.sp.key) }
	if !p.sp.local {
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
	var err error
	if p.sp.local {
		_, err = ensure()
	} else {
		_, err = b.shared.do(ctx, healthCheckFlight(p.hc.Name), ensure)
	}
	return err
}

// startHealthCheckAndPool starts the health check and the target pool. The
// pool needs the check only to name it, so they do not wait for each other
// unless the pool must get the check before anything else happens to it:
//   - pool ends when the pool exists with its members and, but for a
//     deferred check, its health check: the forwarding rules may then
//     target it;
//   - attach ends when a pool created beside its missing check
//     (plan.hcLater) has the check, which runs beside the rules: no traffic
//     reaches a pool before a rule targets it.
//
// An existing pool waits for the check only to attach it.
func (b *Balancer) startHealthCheckAndPool(ctx context.Context, p *plan) (hc, pool, attach *task) {
	link := healthCheckURL(b.opts.Project, p.hc.Name)
	want := desiredTargetPool(p.poolName, p.sp, p.hosts, link)
	hc = start(func() error { return b.ensurePoolHealthCheck(ctx, p) })
	var attachLater bool // set by pool, read by attach after it
	pool = start(func() error {
		if p.pool != nil {
			if targetPoolNeedsUpdate(want, p.pool).attach != "" && !after(hc) {
				return errSkipped
			}
			return b.syncTargetPool(ctx, want, p.pool)
		}
		if !p.hcLater && !after(hc) {
			return errSkipped
		}
		var err error
		attachLater, err = b.createTargetPool(ctx, want, hc, p.hcLater)
		return err
	})
	attach = start(func() error {
		if !p.hcLater {
			return nil
		}
		if !after(hc, pool) {
			return errSkipped
		}
		if !attachLater {
			return nil
		}
		return b.attachHealthCheck(ctx, p.poolName, link)
	})
	return hc, pool, attach
}

// attachHealthCheck adds the health check to a pool created without it.
func (b *Balancer) attachHealthCheck(ctx context.Context, pool, link string) error {
	if err := retryNotReady(ctx, func() error { return b.api.AddHealthCheckToTargetPool(ctx, pool, link) }); err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Attached health check to target pool", "targetPool", pool, "healthCheck", lastSegment(link))
	return nil
}
