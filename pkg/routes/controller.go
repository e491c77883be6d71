package routes

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	nodeutil "k8s.io/component-helpers/node/util"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// The route controller. It replaces the upstream route controller of
// k8s.io/cloud-provider, which reconciles the whole cluster at most once per
// 10 seconds, sees only the nodes that existed when its pass began, retries
// a failed creation only at the next pass and patches every node's
// NetworkUnavailable condition after each pass. This one works per node:
//
//   - a node added, or whose pod CIDRs changed, is queued at once; its
//     routes are created as soon as the client-side write budget (pkg/gce's
//     token bucket) allows; a failure backs that node off exponentially;
//   - its NetworkUnavailable condition becomes False as soon as all its
//     routes exist, True with a reason and message when they cannot be made
//     (VM without canIpForward, quota, name taken by a route not ours), and
//     is patched only when its status or reason changes;
//   - one paged list of the routes with the cluster's name prefix at start
//     and every reconciliation period is the controller's view of GCE (no
//     per-route GET): it repairs routes changed behind its back and deletes
//     its own routes that no node wants; a deleted node's routes go at once;
//   - a route that already matches is never written.
//
// Ownership is that of Routes: the cluster's name prefix, the pod route
// description and the cluster's network. A route failing it is never
// changed, and a node whose route name it holds is told so.

// Reasons of the NetworkUnavailable condition.
const (
	// ReasonRouteCreated is upstream's reason for False.
	ReasonRouteCreated = "RouteCreated"
	// ReasonNoRouteCreated is upstream's reason for True, used for errors
	// that are retried (Compute errors, VM not found).
	ReasonNoRouteCreated = "NoRouteCreated"
	ReasonNoIPForward    = "VMCannotForward"
	ReasonQuotaExceeded  = "RouteQuotaExceeded"
	ReasonRouteNameTaken = "RouteNameTaken"
	ReasonInvalidPodCIDR = "InvalidPodCIDR"
	eventFailedToCreate  = "FailedToCreateRoute"
	eventFailedToDelete  = "FailedToDeleteRoute"
	messageRouteCreated  = "RouteController created a route"
	defaultWorkers       = 200
	defaultBackoffBase   = time.Second
	defaultBackoffMax    = 30 * time.Second
	minimumPeriod        = time.Second
	eventComponentRoutes = "route_controller"
	maxMessageLength     = 1024
)

// ControllerOptions configure a Controller.
type ControllerOptions struct {
	// ClusterName begins every route name (--cluster-name).
	ClusterName string
	// ClusterCIDRs (--cluster-cidr): only routes to ranges inside them are
	// ever deleted, as with the upstream controller.
	ClusterCIDRs []netip.Prefix
	// Period is --route-reconciliation-period: how often the routes are
	// listed for repair and garbage collection, and how often one insert
	// probes an exhausted quota.
	Period time.Duration
	// Client patches node conditions and records events.
	Client kubernetes.Interface
	// Nodes is the manager's shared node informer.
	Nodes coreinformers.NodeInformer
	// Workers is how many nodes are synced at once; default 200 (the
	// writes themselves are paced by the write budget).
	Workers int
	// BackoffBase and BackoffMax bound a failing node's retry delay;
	// defaults 1s and 30s.
	BackoffBase, BackoffMax time.Duration
	// Recorder records events; by default one of the controller's own,
	// as component route_controller (as upstream).
	Recorder record.EventRecorder
}

// Controller keeps one GCE route per pod CIDR of every node.
type Controller struct {
	r       *Routes
	opts    ControllerOptions
	prefix  string
	lister  corelisters.NodeLister
	synced  cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	rec     record.EventRecorder
	relistC chan struct{}

	mu sync.Mutex
	// have are our routes, by name, as the last list saw them and our own
	// writes changed them since; foreign the routes with our prefix that
	// are not ours.
	have, foreign map[string]*computepb.Route
	// busy are route names with a write in flight; written the names
	// written since the list in progress began.
	busy    map[string]bool
	written map[string]bool
	listing bool
	// uids are the UIDs seen for each node name: the names of its routes
	// derive from them (a node deleted and registered again gets a new UID
	// and new route names, and the old ones must go).
	uids map[string][]types.UID
	// seen is when each node that is not network available yet was first
	// seen, for the ready-time histogram.
	seen map[string]time.Time
	// quotaWaiting are nodes waiting for the quota gate to open.
	quotaWaiting map[string]bool
}

// NewController returns a controller over r. Run starts it.
func (r *Routes) NewController(opts ControllerOptions) (*Controller, error) {
	if opts.ClusterName == "" || opts.Client == nil || opts.Nodes == nil {
		return nil, errors.New("route controller: cluster name, client and node informer are required")
	}
	if len(opts.ClusterCIDRs) == 0 {
		return nil, errors.New("route controller: --cluster-cidr is required with --configure-cloud-routes")
	}
	if opts.Period < minimumPeriod {
		opts.Period = minimumPeriod
	}
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = defaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = defaultBackoffMax
	}
	r.SetQuotaRetryPeriod(opts.Period)
	c := &Controller{
		r: r, opts: opts, prefix: namePrefix(opts.ClusterName),
		lister: opts.Nodes.Lister(), synced: opts.Nodes.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](opts.BackoffBase, opts.BackoffMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "node-routes"}),
		rec:     opts.Recorder,
		relistC: make(chan struct{}, 1),
		have:    map[string]*computepb.Route{}, foreign: map[string]*computepb.Route{},
		busy: map[string]bool{}, written: map[string]bool{},
		uids: map[string][]types.UID{}, seen: map[string]time.Time{}, quotaWaiting: map[string]bool{},
	}
	_, err := opts.Nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if n, ok := obj.(*v1.Node); ok {
				c.noteNode(n)
				c.queue.Add(n.Name)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*v1.Node)
			n, ok2 := newObj.(*v1.Node)
			if !ok1 || !ok2 {
				return
			}
			if o.UID != n.UID || !slices.Equal(o.Spec.PodCIDRs, n.Spec.PodCIDRs) {
				c.noteNode(n)
				c.queue.Add(n.Name)
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if n, ok := obj.(*v1.Node); ok {
				c.noteNode(n)
				c.queue.Add(n.Name)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// noteNode remembers the node's UID, whose route names must go when the
// node does.
func (c *Controller) noteNode(n *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.uids[n.Name], n.UID) {
		c.uids[n.Name] = append(c.uids[n.Name], n.UID)
	}
	if _, ok := c.seen[n.Name]; !ok && len(n.Spec.PodCIDRs) > 0 && !networkAvailable(n) {
		c.seen[n.Name] = time.Now()
	}
}

// Run lists the routes, then syncs nodes until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	logger := klog.FromContext(ctx)
	if c.rec == nil {
		b := record.NewBroadcaster(record.WithContext(ctx))
		b.StartStructuredLogging(3)
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.opts.Client.CoreV1().Events("")})
		defer b.Shutdown()
		c.rec = b.NewRecorder(scheme.Scheme, v1.EventSource{Component: eventComponentRoutes})
	}
	logger.Info("Starting route controller", "cluster", c.opts.ClusterName, "period", c.opts.Period, "workers", c.opts.Workers)
	defer logger.Info("Shutting down route controller")
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced) {
		return
	}
	// The first list is the view every node is compared with: nothing is
	// written before it, so a restart writes nothing for routes that match.
	backoff := wait.Backoff{Duration: c.opts.BackoffBase, Factor: 2, Jitter: 0.1, Steps: 1 << 30, Cap: c.opts.BackoffMax}
	for {
		err := c.relist(ctx)
		if err == nil {
			break
		}
		logger.Error(err, "Listing routes failed; retrying")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff.Step()):
		}
	}
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.next(ctx) {
			}
		}()
	}
	ticker := time.NewTicker(c.opts.Period)
	defer ticker.Stop()
	for {
		c.r.metrics.QueueDepth.Set(float64(c.queue.Len()))
		select {
		case <-ctx.Done():
			c.queue.ShutDown()
			wg.Wait()
			return
		case <-ticker.C:
		case <-c.relistC:
		}
		if err := c.relist(ctx); err != nil {
			logger.Error(err, "Listing routes failed; the next period tries again")
		}
	}
}

// requestRelist asks for a list before the period ends (a 409 showed the
// view to be stale).
func (c *Controller) requestRelist() {
	select {
	case c.relistC <- struct{}{}:
	default:
	}
}

// relist refreshes the view from one list, deletes our routes that no node
// wants, and queues every node that is not backing off, so that a route
// changed or deleted behind our back is repaired.
func (c *Controller) relist(ctx context.Context) error {
	c.mu.Lock()
	c.listing, c.written = true, map[string]bool{}
	c.mu.Unlock()
	owned, foreign, err := c.r.listAll(ctx, c.opts.ClusterName)
	c.mu.Lock()
	c.listing = false
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("list routes of cluster %s: %w", c.opts.ClusterName, err)
	}
	have := map[string]*computepb.Route{}
	for _, gr := range owned {
		have[gr.GetName()] = gr
	}
	// What was written while the list ran is known better here than in
	// the list.
	for name := range c.busy {
		c.written[name] = true
	}
	for name := range c.written {
		if gr, ok := c.have[name]; ok {
			have[name] = gr
		} else {
			delete(have, name)
		}
	}
	c.have = have
	c.foreign = map[string]*computepb.Route{}
	for _, gr := range foreign {
		c.foreign[gr.GetName()] = gr
	}
	c.written = map[string]bool{}
	c.r.metrics.Owned.Set(float64(len(c.have)))
	c.mu.Unlock()

	nodes, err := c.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	wanted := map[string]bool{}
	for _, n := range nodes {
		for _, cidr := range n.Spec.PodCIDRs {
			if p, err := netip.ParsePrefix(cidr); err == nil {
				wanted[routeName(c.opts.ClusterName, string(n.UID), p.Masked())] = true
			}
		}
		if c.queue.NumRequeues(n.Name) == 0 {
			c.queue.Add(n.Name)
		}
	}
	var garbage []*computepb.Route
	c.mu.Lock()
	for name, gr := range c.have {
		if !wanted[name] && !c.busy[name] && c.responsibleFor(gr) {
			c.busy[name] = true
			garbage = append(garbage, gr)
		}
	}
	c.mu.Unlock()
	if len(garbage) == 0 {
		return nil
	}
	klog.FromContext(ctx).Info("Deleting routes that no node wants", "count", len(garbage))
	sem := make(chan struct{}, c.opts.Workers)
	var wg sync.WaitGroup
	for _, gr := range garbage {
		// A route that was wanted by a node registered since the list
		// above is not garbage.
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.deleteRoute(ctx, gr, true); err != nil {
				klog.FromContext(ctx).Error(err, "Deleting a route no node wants failed; the next period tries again", "route", gr.GetName())
			}
		}()
	}
	wg.Wait()
	return nil
}

// responsibleFor: only routes inside the cluster CIDRs are ever deleted.
func (c *Controller) responsibleFor(gr *computepb.Route) bool {
	p, err := netip.ParsePrefix(gr.GetDestRange())
	if err != nil {
		return false
	}
	for _, cc := range c.opts.ClusterCIDRs {
		if cc.Contains(p.Addr()) && cc.Bits() <= p.Bits() {
			return true
		}
	}
	return false
}

// deleteRoute deletes one of our routes; held says the caller already
// marked it busy.
func (c *Controller) deleteRoute(ctx context.Context, gr *computepb.Route, held bool) error {
	name := gr.GetName()
	if !held {
		c.mu.Lock()
		if c.busy[name] {
			c.mu.Unlock()
			return fmt.Errorf("route %s: another write is in flight", name)
		}
		c.busy[name] = true
		c.mu.Unlock()
	}
	err := c.r.api.DeleteRoute(ctx, name)
	c.mu.Lock()
	delete(c.busy, name)
	if err == nil || gce.IsNotFound(err) {
		delete(c.have, name)
		c.written[name] = true
		c.r.metrics.Owned.Set(float64(len(c.have)))
	}
	c.mu.Unlock()
	if err != nil && !gce.IsNotFound(err) {
		return fmt.Errorf("delete route %s: %w", name, err)
	}
	c.r.quota.opened()
	klog.FromContext(ctx).V(2).Info("Deleted route", "route", name, "destRange", gr.GetDestRange(), "nextHop", gr.GetNextHopInstance())
	return nil
}

func (c *Controller) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	c.r.metrics.QueueDepth.Set(float64(c.queue.Len()))
	res := c.syncNode(ctx, key)
	switch {
	case res.err == nil:
		c.queue.Forget(key)
	case res.after > 0:
		// Waiting for the quota gate: no backoff growth, one wake-up
		// when the next probe may go (or earlier, when the gate opens).
		c.queue.Forget(key)
		c.queue.AddAfter(key, res.after)
	case res.final:
		// Retrying cannot help until something changes; the periodic
		// relist looks again, without a write.
		c.queue.Forget(key)
	default:
		klog.FromContext(ctx).V(2).Info("Node's routes not ready; backing off", "node", key, "err", res.err,
			"retries", c.queue.NumRequeues(key))
		c.queue.AddRateLimited(key)
	}
	return true
}

// result of one node sync.
type result struct {
	err   error
	after time.Duration // retry after this, without backoff (quota gate)
	final bool          // no retry before the next period
}

// failure is one route's failure, with the condition reason it maps to.
type failure struct {
	reason string
	err    error
	// wrote says the failure came from a write (an event each time) rather
	// than a refusal without a call (an event when the reason changes).
	wrote bool
	after time.Duration
	final bool
}

// syncNode makes the node's routes match its pod CIDRs, deletes the routes
// of its earlier incarnations, and sets its condition.
func (c *Controller) syncNode(ctx context.Context, name string) result {
	logger := klog.FromContext(ctx).WithValues("node", name)
	node, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		node = nil
	} else if err != nil {
		return result{err: err}
	}

	// The routes this node should have.
	want := map[string]netip.Prefix{}
	var bad []string
	if node != nil {
		for _, s := range node.Spec.PodCIDRs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				bad = append(bad, s)
				continue
			}
			want[routeName(c.opts.ClusterName, string(node.UID), p.Masked())] = p.Masked()
		}
	}

	// Routes of this node name that are not wanted: an earlier UID's, a
	// removed CIDR's, or all of a deleted node's.
	c.mu.Lock()
	uids := slices.Clone(c.uids[name])
	var stale []*computepb.Route
	for _, uid := range uids {
		for _, rn := range []string{c.prefix + string(uid), c.prefix + strings.ReplaceAll(string(uid), "-", "") + "-v6"} {
			if gr, ok := c.have[rn]; ok {
				if _, keep := want[rn]; !keep && c.responsibleFor(gr) {
					stale = append(stale, gr)
				}
			}
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, gr := range stale {
		logger.Info("Deleting route the node no longer has", "route", gr.GetName(), "destRange", gr.GetDestRange())
		if err := c.deleteRoute(ctx, gr, false); err != nil {
			errs = append(errs, err)
			c.eventf(node, name, v1.EventTypeWarning, eventFailedToDelete, "%v", err)
		}
	}
	if node == nil {
		if len(errs) > 0 {
			return result{err: errors.Join(errs...)}
		}
		c.mu.Lock()
		delete(c.uids, name)
		delete(c.seen, name)
		delete(c.quotaWaiting, name)
		c.mu.Unlock()
		return result{}
	}
	if len(errs) == 0 && len(uids) > 1 {
		c.mu.Lock()
		c.uids[name] = []types.UID{node.UID}
		c.mu.Unlock()
	}
	if len(bad) > 0 {
		msg := fmt.Sprintf("pod CIDR %s of node %s is not a CIDR; no route made for it", truncate(strings.Join(bad, ", ")), name)
		c.setCondition(ctx, node, failure{reason: ReasonInvalidPodCIDR, err: errors.New(msg), final: true})
		return result{err: errors.New(msg), final: true}
	}
	if len(want) == 0 {
		return result{err: errors.Join(errs...)}
	}

	f := c.ensureRoutes(ctx, node, want)
	if f == nil && len(errs) > 0 {
		f = &failure{reason: ReasonNoRouteCreated, err: errors.Join(errs...), wrote: true}
	}
	c.setCondition(ctx, node, derefFailure(f))
	if f == nil {
		return result{}
	}
	return result{err: f.err, after: f.after, final: f.final}
}

func derefFailure(f *failure) failure {
	if f == nil {
		return failure{}
	}
	return *f
}

// ensureRoutes creates or repairs the node's routes; nil when all exist.
func (c *Controller) ensureRoutes(ctx context.Context, node *v1.Node, want map[string]netip.Prefix) *failure {
	// Everything already right by the node's provider ID: no lookup, no
	// write (a restart, and every period, costs nothing).
	zone, vm, known := zoneAndVM(node.Spec.ProviderID)
	c.mu.Lock()
	var todo []string
	for rn := range want {
		gr, ok := c.have[rn]
		if !ok || gr.GetDestRange() != want[rn].String() || c.busy[rn] || !known ||
			lastSegment(gr.GetNextHopInstance()) != vm || zoneOf(gr.GetNextHopInstance()) != zone {
			todo = append(todo, rn)
		}
	}
	c.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	inst, err := c.r.instances.InstanceByNodeName(ctx, node.Name)
	if err != nil {
		return &failure{reason: ReasonNoRouteCreated, err: fmt.Errorf("find the VM of node %s: %w", node.Name, err), wrote: true}
	}
	// Routes that match the VM found need nothing either.
	c.mu.Lock()
	todo = slices.DeleteFunc(todo, func(rn string) bool {
		gr, ok := c.have[rn]
		return ok && !c.busy[rn] && !needsUpdate(&computepb.Route{DestRange: ptr(want[rn].String()), NextHopInstance: ptr(inst.GetSelfLink()),
			Network: ptr(c.r.networkURL)}, gr)
	})
	c.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	if !inst.GetCanIpForward() {
		c.r.metrics.NoIPForward.Inc()
		return &failure{reason: ReasonNoIPForward, wrote: true, err: fmt.Errorf("VM %s (zone %s) of node %s has canIpForward=false, so GCE would drop "+
			"pod traffic routed to it; route(s) for %s not created. Recreate the VM (or its instance template) with canIpForward=true "+
			"(gcloud: --can-ip-forward)", inst.GetName(), lastSegment(inst.GetZone()), node.Name, c.cidrsOf(want, todo))}
	}
	slices.Sort(todo)
	fails := make([]*failure, len(todo))
	var wg sync.WaitGroup
	for i, rn := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fails[i] = c.ensureRoute(ctx, node, rn, want[rn], inst)
		}()
	}
	wg.Wait()
	// The failure that says most: a write's error first (retried with
	// backoff), then the quota, then a name taken.
	var worst *failure
	rank := func(f *failure) int {
		switch {
		case f == nil:
			return 0
		case f.final:
			return 1
		case f.after > 0:
			return 2
		default:
			return 3
		}
	}
	for _, f := range fails {
		if rank(f) > rank(worst) {
			worst = f
		}
	}
	return worst
}

func (c *Controller) cidrsOf(want map[string]netip.Prefix, names []string) string {
	var out []string
	for _, n := range names {
		out = append(out, want[n].String())
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// ensureRoute makes one route exist as wanted.
func (c *Controller) ensureRoute(ctx context.Context, node *v1.Node, name string, cidr netip.Prefix, inst *computepb.Instance) *failure {
	logger := klog.FromContext(ctx).WithValues("node", node.Name, "route", name)
	want := &computepb.Route{
		Name:            ptr(name),
		Network:         ptr(c.r.networkURL),
		DestRange:       ptr(cidr.String()),
		NextHopInstance: ptr(inst.GetSelfLink()),
		Description:     ptr(Description),
		Priority:        ptr(uint32(1000)),
	}
	c.mu.Lock()
	if taken := c.foreign[name]; taken != nil {
		c.mu.Unlock()
		return &failure{reason: ReasonRouteNameTaken, err: nameTakenError(taken), final: true}
	}
	if c.busy[name] {
		c.mu.Unlock()
		return &failure{reason: ReasonNoRouteCreated, err: fmt.Errorf("route %s: another write is in flight", name)}
	}
	have := c.have[name]
	if have != nil && !needsUpdate(want, have) {
		c.mu.Unlock()
		return nil
	}
	c.busy[name] = true
	c.mu.Unlock()
	release := func() {
		c.mu.Lock()
		delete(c.busy, name)
		c.mu.Unlock()
	}

	if have != nil {
		logger.Info("Replacing route that differs", "haveDestRange", have.GetDestRange(), "haveNextHop", have.GetNextHopInstance(),
			"destRange", want.GetDestRange(), "nextHop", want.GetNextHopInstance())
		release()
		if err := c.deleteRoute(ctx, have, false); err != nil {
			return &failure{reason: ReasonNoRouteCreated, err: fmt.Errorf("replace route %s: %w", name, err), wrote: true}
		}
		c.mu.Lock()
		if c.busy[name] {
			c.mu.Unlock()
			return &failure{reason: ReasonNoRouteCreated, err: fmt.Errorf("route %s: another write is in flight", name)}
		}
		c.busy[name] = true
		c.mu.Unlock()
	}

	ok, wait, last := c.r.quota.allow()
	if !ok {
		release()
		c.mu.Lock()
		c.quotaWaiting[node.Name] = true
		c.mu.Unlock()
		return &failure{reason: ReasonQuotaExceeded, err: quotaError(name, last), after: wait + 10*time.Millisecond}
	}
	err := c.r.api.InsertRoute(ctx, want)
	c.mu.Lock()
	delete(c.busy, name)
	if err == nil {
		c.have[name] = want
		c.written[name] = true
		c.r.metrics.Owned.Set(float64(len(c.have)))
	}
	c.mu.Unlock()
	switch {
	case err == nil:
		wasClosed := c.r.quota.isClosed()
		c.r.quota.succeeded()
		if wasClosed {
			c.wakeQuotaWaiters()
		}
		logger.V(2).Info("Created route", "destRange", want.GetDestRange(), "nextHop", want.GetNextHopInstance())
		return nil
	case gce.IsQuotaExceeded(err):
		c.r.quota.failed(err)
		c.mu.Lock()
		c.quotaWaiting[node.Name] = true
		c.mu.Unlock()
		_, wait, _ := c.r.quota.allow()
		return &failure{reason: ReasonQuotaExceeded, err: quotaError(name, err), after: wait + 10*time.Millisecond, wrote: true}
	case gce.IsAlreadyExists(err):
		// Our view was stale: a list tells whose the route is.
		c.r.quota.done()
		c.requestRelist()
		return &failure{reason: ReasonNoRouteCreated, err: fmt.Errorf("create route %s: a route of that name appeared; listing again: %w", name, err), wrote: true}
	default:
		c.r.quota.done()
		return &failure{reason: ReasonNoRouteCreated, err: fmt.Errorf("create route %s: %w", name, err), wrote: true}
	}
}

// wakeQuotaWaiters queues the nodes that waited for the quota.
func (c *Controller) wakeQuotaWaiters() {
	c.mu.Lock()
	waiting := c.quotaWaiting
	c.quotaWaiting = map[string]bool{}
	c.mu.Unlock()
	for n := range waiting {
		c.queue.Add(n)
	}
}

// setCondition sets NetworkUnavailable from the outcome, patching only when
// its status or reason changes, and records the failure's event.
func (c *Controller) setCondition(ctx context.Context, node *v1.Node, f failure) {
	status, reason, message := v1.ConditionFalse, ReasonRouteCreated, messageRouteCreated
	if f.err != nil {
		status, reason, message = v1.ConditionTrue, f.reason, truncate(f.err.Error())
	}
	_, cur := nodeutil.GetNodeCondition(&node.Status, v1.NodeNetworkUnavailable)
	changed := cur == nil || cur.Status != status || cur.Reason != reason
	if f.err != nil && (f.wrote || changed) {
		c.eventf(node, node.Name, v1.EventTypeWarning, eventFailedToCreate, "%s", message)
	}
	if !changed {
		if status == v1.ConditionFalse {
			c.observeReady(node.Name)
		}
		return
	}
	err := nodeutil.SetNodeCondition(c.opts.Client, types.NodeName(node.Name), v1.NodeCondition{
		Type: v1.NodeNetworkUnavailable, Status: status, Reason: reason, Message: message, LastTransitionTime: metav1.Now(),
	})
	if err != nil {
		klog.FromContext(ctx).Error(err, "Setting NetworkUnavailable failed", "node", node.Name, "status", status, "reason", reason)
		if status == v1.ConditionFalse {
			// Routes exist but the node does not know: try again.
			c.queue.AddRateLimited(node.Name)
		}
		return
	}
	if status == v1.ConditionFalse {
		c.observeReady(node.Name)
	}
}

func (c *Controller) observeReady(name string) {
	c.mu.Lock()
	t, ok := c.seen[name]
	delete(c.seen, name)
	c.mu.Unlock()
	if ok {
		c.r.metrics.ReadySeconds.Observe(time.Since(t).Seconds())
	}
}

func (c *Controller) eventf(node *v1.Node, name, typ, reason, format string, args ...any) {
	if c.rec == nil {
		return
	}
	ref := &v1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: name}
	if node != nil {
		ref.UID = node.UID
	}
	c.rec.Eventf(ref, typ, reason, format, args...)
}

func networkAvailable(n *v1.Node) bool {
	_, cond := nodeutil.GetNodeCondition(&n.Status, v1.NodeNetworkUnavailable)
	return cond != nil && cond.Status == v1.ConditionFalse
}

// truncate bounds a message that may quote user input (a pod CIDR, a
// foreign route's description) and says how much was cut.
func truncate(s string) string {
	if len(s) <= maxMessageLength {
		return s
	}
	cut := maxMessageLength
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d more bytes)", s[:cut], len(s)-cut)
}
