// Package routes implements cloudprovider.Routes with GCE static routes:
// one route per node pod CIDR whose next hop is the node's VM.
package routes

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/component-base/metrics"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/quote"
)

// Compute is what routes need from the Compute API; every call is in the
// network project (the Shared VPC host when there is one).
type Compute interface {
	ListRoutes(ctx context.Context, filter string) ([]*computepb.Route, error)
	GetRoute(ctx context.Context, name string) (*computepb.Route, error)
	InsertRoute(ctx context.Context, route *computepb.Route) error
	DeleteRoute(ctx context.Context, name string) error
}

// InstanceFinder finds the VM of a node by the node's name.
type InstanceFinder interface {
	InstanceByNodeName(ctx context.Context, nodeName string) (*computepb.Instance, error)
}

// Metrics of the route code.
type Metrics struct {
	// NoIPForward counts routes not created because the VM cannot forward.
	NoIPForward *metrics.Counter
	// Owned is how many routes of the cluster the controller knows.
	Owned *metrics.Gauge
	// ReadySeconds is the time from a node's first sight by the
	// controller to NetworkUnavailable=False.
	ReadySeconds *metrics.Histogram
	// QueueDepth is how many nodes wait to be synced.
	QueueDepth *metrics.Gauge
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		NoIPForward: metrics.NewCounter(&metrics.CounterOpts{
			Subsystem: "gce", Name: "routes_vm_without_ip_forward_total",
			Help:           "Pod routes not created because the node's VM has canIpForward=false and would drop the traffic.",
			StabilityLevel: metrics.ALPHA,
		}),
		Owned: metrics.NewGauge(&metrics.GaugeOpts{
			Subsystem: "gce", Name: "routes_owned",
			Help:           "Pod routes of this cluster in GCE, as the route controller's last list and its own writes since show them.",
			StabilityLevel: metrics.ALPHA,
		}),
		ReadySeconds: metrics.NewHistogram(&metrics.HistogramOpts{
			Subsystem: "gce", Name: "routes_node_ready_seconds",
			Help:           "Time from the route controller's first sight of a node with pod CIDRs to its NetworkUnavailable=False.",
			Buckets:        metrics.ExponentialBuckets(0.05, 2, 14), // 50ms .. ~7min
			StabilityLevel: metrics.ALPHA,
		}),
		QueueDepth: metrics.NewGauge(&metrics.GaugeOpts{
			Subsystem: "gce", Name: "routes_queue_depth",
			Help:           "Nodes waiting in the route controller's queue.",
			StabilityLevel: metrics.ALPHA,
		}),
	}
}

// Collectors returns every metric, for registration.
func (m *Metrics) Collectors() []metrics.Registerable {
	return []metrics.Registerable{m.NoIPForward, m.Owned, m.ReadySeconds, m.QueueDepth}
}

// Routes implements cloudprovider.Routes.
type Routes struct {
	api        Compute
	instances  InstanceFinder
	networkURL string
	metrics    *Metrics
	nodes      NodeLister
	quota      *quotaGate

	// foreign are the routes with the cluster's name prefix that fail the
	// ownership check, by name, as the last ListRoutes saw them: CreateRoute
	// refuses their names without an insert that could only fail (409).
	mu      sync.Mutex
	foreign map[string]*computepb.Route
}

var _ cloudprovider.Routes = (*Routes)(nil)

// Options configure Routes.
type Options struct {
	// Instances finds the VM of a node; required.
	Instances InstanceFinder
	// NetworkURL is the cluster's network; required.
	NetworkURL string
	// Metrics; new unregistered ones when nil.
	Metrics *Metrics
	// Nodes lists the cluster's nodes so that ListRoutes can name each
	// route's target by its Node's name. Without it the target is the VM's
	// name, as with the long-standing GCE provider, and a node whose name is
	// not its VM's (e.g. the VM's FQDN) has its route deleted and created
	// again on every reconcile. A client-go NodeLister satisfies it.
	Nodes NodeLister
	// QuotaRetryPeriod is how often one insert tries again while the route
	// quota is exhausted (every other insert waits meanwhile); default
	// DefaultQuotaRetryPeriod. The controller sets it to
	// --route-reconciliation-period.
	QuotaRetryPeriod time.Duration
}

// DefaultQuotaRetryPeriod is upstream's default --route-reconciliation-period.
const DefaultQuotaRetryPeriod = 10 * time.Second

// New returns Routes for the network at networkURL, without a node lister:
// see Options.Nodes.
func New(api Compute, instances InstanceFinder, networkURL string, m *Metrics) *Routes {
	return NewWithOptions(api, Options{Instances: instances, NetworkURL: networkURL, Metrics: m})
}

// NewWithOptions returns Routes configured by opts.
func NewWithOptions(api Compute, opts Options) *Routes {
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.QuotaRetryPeriod <= 0 {
		opts.QuotaRetryPeriod = DefaultQuotaRetryPeriod
	}
	return &Routes{api: api, instances: opts.Instances, networkURL: opts.NetworkURL, metrics: opts.Metrics, nodes: opts.Nodes,
		quota: newQuotaGate(opts.QuotaRetryPeriod, time.Now), foreign: map[string]*computepb.Route{}}
}

// SetQuotaRetryPeriod changes how often one insert probes an exhausted
// route quota.
func (r *Routes) SetQuotaRetryPeriod(d time.Duration) {
	if d > 0 {
		r.quota.setPeriod(d)
	}
}

// listAll lists every route whose name has the cluster's prefix, in one
// paged list, and sorts them into ours and the others (made by hand, by
// another cluster with a long common prefix, or on another network): the
// name is what GCE keys a route by, so a route of any network that holds
// one of our names blocks that name.
func (r *Routes) listAll(ctx context.Context, clusterName string) (owned, foreign []*computepb.Route, err error) {
	prefix := namePrefix(clusterName)
	list, err := r.api.ListRoutes(ctx, fmt.Sprintf(`name eq "%s.*"`, prefix))
	if err != nil {
		return nil, nil, err
	}
	for _, gr := range list {
		switch {
		case r.owned(gr, prefix):
			owned = append(owned, gr)
		case strings.HasPrefix(gr.GetName(), prefix):
			foreign = append(foreign, gr)
		}
	}
	return owned, foreign, nil
}

// ListRoutes returns the cluster's routes, from one paged list.
func (r *Routes) ListRoutes(ctx context.Context, clusterName string) ([]*cloudprovider.Route, error) {
	list, foreign, err := r.listAll(ctx, clusterName)
	if err != nil {
		return nil, fmt.Errorf("list routes of cluster %s: %w", clusterName, err)
	}
	r.mu.Lock()
	r.foreign = map[string]*computepb.Route{}
	for _, gr := range foreign {
		r.foreign[gr.GetName()] = gr
	}
	r.mu.Unlock()
	targets, err := r.nodeNames()
	if err != nil {
		return nil, fmt.Errorf("list routes of cluster %s: %w", clusterName, err)
	}
	var out []*cloudprovider.Route
	for _, gr := range list {
		out = append(out, &cloudprovider.Route{
			Name:            gr.GetName(),
			TargetNode:      targets.of(gr.GetNextHopInstance()),
			DestinationCIDR: gr.GetDestRange(),
			Blackhole:       gr.GetNextHopInstance() == "",
		})
	}
	return out, nil
}

// owned is the ownership check: our name prefix, the pod route description
// and the cluster's network. Nothing failing it is ever changed.
func (r *Routes) owned(gr *computepb.Route, prefix string) bool {
	return strings.HasPrefix(gr.GetName(), prefix) && gr.GetDescription() == Description &&
		sameResource(gr.GetNetwork(), r.networkURL)
}

// CreateRoute makes the route of one pod CIDR of a node. nameHint is the
// node's UID.
func (r *Routes) CreateRoute(ctx context.Context, clusterName, nameHint string, route *cloudprovider.Route) error {
	cidr, err := netip.ParsePrefix(route.DestinationCIDR)
	if err != nil {
		// Not wrapped: the parser's error repeats the whole value.
		return fmt.Errorf("pod CIDR %s of node %s is not a CIDR", quote.Value(route.DestinationCIDR), route.TargetNode)
	}
	name := routeName(clusterName, nameHint, cidr.Masked())
	logger := klog.FromContext(ctx).WithValues("route", name, "node", route.TargetNode)
	r.mu.Lock()
	taken := r.foreign[name]
	r.mu.Unlock()
	if taken != nil {
		return nameTakenError(taken)
	}

	inst, err := r.instances.InstanceByNodeName(ctx, string(route.TargetNode))
	if err != nil {
		return fmt.Errorf("find the VM of node %s: %w", route.TargetNode, err)
	}
	if !inst.GetCanIpForward() {
		r.metrics.NoIPForward.Inc()
		return fmt.Errorf("VM %s (zone %s) of node %s has canIpForward=false, so GCE would drop pod traffic routed to it; "+
			"route %s for %s not created. Recreate the VM (or its instance template) with canIpForward=true (gcloud: --can-ip-forward)",
			inst.GetName(), lastSegment(inst.GetZone()), route.TargetNode, name, cidr)
	}
	want := &computepb.Route{
		Name:            &name,
		Network:         &r.networkURL,
		DestRange:       ptr(cidr.Masked().String()),
		NextHopInstance: ptr(inst.GetSelfLink()),
		Description:     ptr(Description),
		Priority:        ptr(uint32(1000)),
	}
	err = r.insert(ctx, want)
	switch {
	case err == nil:
		logger.V(2).Info("Created route", "destRange", want.GetDestRange())
		return nil
	case !gce.IsAlreadyExists(err):
		return err
	}

	// A route of that name exists: ours from an earlier try (success), one
	// of ours that points elsewhere (replace it), or one that is not ours
	// (refuse, whatever it points at: it is not ours to keep either).
	have, err := r.api.GetRoute(ctx, name)
	if err != nil {
		return fmt.Errorf("read existing route %s: %w", name, err)
	}
	if !r.owned(have, namePrefix(clusterName)) {
		r.mu.Lock()
		r.foreign[name] = have
		r.mu.Unlock()
		return nameTakenError(have)
	}
	if !needsUpdate(want, have) {
		return nil
	}
	logger.Info("Replacing route that differs", "haveDestRange", have.GetDestRange(), "haveNextHop", have.GetNextHopInstance(),
		"destRange", want.GetDestRange(), "nextHop", want.GetNextHopInstance())
	if err := r.api.DeleteRoute(ctx, name); err != nil && !gce.IsNotFound(err) {
		return fmt.Errorf("delete outdated route %s: %w", name, err)
	}
	r.quota.opened() // a route less: room for one more
	if err := r.insert(ctx, want); err != nil {
		return fmt.Errorf("recreate route %s: %w", name, err)
	}
	return nil
}

// insert creates a route through the quota gate: while the route quota is
// exhausted only one insert per period is sent, and the others fail at once
// with the quota error that closed the gate.
func (r *Routes) insert(ctx context.Context, want *computepb.Route) error {
	name := want.GetName()
	ok, _, last := r.quota.allow()
	if !ok {
		return quotaError(name, last)
	}
	err := r.api.InsertRoute(ctx, want)
	switch {
	case err == nil:
		r.quota.succeeded()
		return nil
	case gce.IsQuotaExceeded(err):
		r.quota.failed(err)
		return quotaError(name, err)
	default:
		r.quota.done()
		if gce.IsAlreadyExists(err) {
			return err
		}
		return fmt.Errorf("create route %s: %w", name, err)
	}
}

// ErrNameTaken marks the error of a route name held by a route that fails
// the ownership check.
var ErrNameTaken = errors.New("route name taken by a route that is not ours")

func nameTakenError(have *computepb.Route) error {
	return fmt.Errorf("%w: route %s exists but is not a pod route of this cluster (description %s, network %s, destRange %s, next hop %s); "+
		"not using or touching it. Delete or rename it if the node's pod CIDR should be routed",
		ErrNameTaken, have.GetName(), quote.Value(have.GetDescription()), lastSegment(have.GetNetwork()), have.GetDestRange(), have.GetNextHopInstance())
}

// needsUpdate reports whether an existing route differs from the wanted one
// in what matters for forwarding.
func needsUpdate(want, have *computepb.Route) bool {
	return want.GetDestRange() != have.GetDestRange() ||
		!sameResource(want.GetNextHopInstance(), have.GetNextHopInstance()) ||
		!sameResource(want.GetNetwork(), have.GetNetwork())
}

func quotaError(name string, err error) error {
	metric, limit, ok := gce.QuotaOf(err)
	if !ok {
		metric, limit = "STATIC_ROUTES_PER_NETWORK", -1
	}
	limitText := "unknown"
	if limit >= 0 {
		limitText = fmt.Sprintf("%g", limit)
	}
	return fmt.Errorf("create route %s: GCE quota %s is exhausted (limit %s); raise the quota or remove unused routes: %w",
		name, metric, limitText, err)
}

// DeleteRoute deletes a route returned by ListRoutes. A route already gone is
// success; a route that fails the ownership check, or that no longer is the
// route ListRoutes saw (it was replaced meanwhile), is left alone.
func (r *Routes) DeleteRoute(ctx context.Context, clusterName string, route *cloudprovider.Route) error {
	have, err := r.api.GetRoute(ctx, route.Name)
	if gce.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read route %s before deleting it: %w", route.Name, err)
	}
	if !r.owned(have, namePrefix(clusterName)) {
		return fmt.Errorf("route %s is not a pod route of cluster %s on network %s; refusing to delete it", route.Name, clusterName, r.networkURL)
	}
	if have.GetDestRange() != route.DestinationCIDR || (route.TargetNode != "" && !r.pointsAt(have, route.TargetNode)) {
		klog.FromContext(ctx).V(2).Info("Not deleting route: it changed since it was listed", "route", route.Name)
		return nil
	}
	if err := r.api.DeleteRoute(ctx, route.Name); err != nil && !gce.IsNotFound(err) {
		return fmt.Errorf("delete route %s: %w", route.Name, err)
	}
	r.quota.opened()
	klog.FromContext(ctx).V(2).Info("Deleted route", "route", route.Name, "destRange", route.DestinationCIDR)
	return nil
}

// sameResource compares two resource URLs by their path from projects/ on,
// so that a full URL and a partial one name the same resource.
func sameResource(a, b string) bool {
	return pathFromProjects(a) == pathFromProjects(b)
}

func pathFromProjects(s string) string {
	if i := strings.Index(s, "projects/"); i >= 0 {
		return s[i:]
	}
	return s
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

func ptr[T any](v T) *T { return &v }
