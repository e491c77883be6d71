// Package routes implements cloudprovider.Routes with GCE static routes:
// one route per node pod CIDR whose next hop is the node's VM.
package routes

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/component-base/metrics"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
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
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{NoIPForward: metrics.NewCounter(&metrics.CounterOpts{
		Subsystem: "gce", Name: "routes_vm_without_ip_forward_total",
		Help:           "Pod routes not created because the node's VM has canIpForward=false and would drop the traffic.",
		StabilityLevel: metrics.ALPHA,
	})}
}

// Collectors returns every metric, for registration.
func (m *Metrics) Collectors() []metrics.Registerable { return []metrics.Registerable{m.NoIPForward} }

// Routes implements cloudprovider.Routes.
type Routes struct {
	api        Compute
	instances  InstanceFinder
	networkURL string
	metrics    *Metrics
	nodes      NodeLister
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
}

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
	return &Routes{api: api, instances: opts.Instances, networkURL: opts.NetworkURL, metrics: opts.Metrics, nodes: opts.Nodes}
}

// ListRoutes returns the cluster's routes, from one paged list.
func (r *Routes) ListRoutes(ctx context.Context, clusterName string) ([]*cloudprovider.Route, error) {
	prefix := namePrefix(clusterName)
	filter := fmt.Sprintf(`(name eq "%s.*") (description eq "%s") (network eq "%s")`, prefix, Description, r.networkURL)
	list, err := r.api.ListRoutes(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list routes of cluster %s: %w", clusterName, err)
	}
	targets, err := r.nodeNames()
	if err != nil {
		return nil, fmt.Errorf("list routes of cluster %s: %w", clusterName, err)
	}
	var out []*cloudprovider.Route
	for _, gr := range list {
		// The filter is a request, not a guarantee: check ownership again.
		if !r.owned(gr, prefix) {
			continue
		}
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
		return fmt.Errorf("pod CIDR %q of node %s is not a CIDR: %w", route.DestinationCIDR, route.TargetNode, err)
	}
	name := routeName(clusterName, nameHint, cidr.Masked())
	logger := klog.FromContext(ctx).WithValues("route", name, "node", route.TargetNode)

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
	err = r.api.InsertRoute(ctx, want)
	switch {
	case err == nil:
		logger.V(2).Info("Created route", "destRange", want.GetDestRange())
		return nil
	case gce.IsQuotaExceeded(err):
		return quotaError(name, err)
	case !gce.IsAlreadyExists(err):
		return fmt.Errorf("create route %s: %w", name, err)
	}

	// A route of that name exists: ours from an earlier try (success), or
	// one that points elsewhere (replace it, if it is ours to replace).
	have, err := r.api.GetRoute(ctx, name)
	if err != nil {
		return fmt.Errorf("read existing route %s: %w", name, err)
	}
	if !needsUpdate(want, have) {
		return nil
	}
	if !r.owned(have, namePrefix(clusterName)) {
		return fmt.Errorf("route %s exists but is not a pod route of this cluster (description %q, network %s); not touching it",
			name, have.GetDescription(), have.GetNetwork())
	}
	logger.Info("Replacing route that differs", "haveDestRange", have.GetDestRange(), "haveNextHop", have.GetNextHopInstance(),
		"destRange", want.GetDestRange(), "nextHop", want.GetNextHopInstance())
	if err := r.api.DeleteRoute(ctx, name); err != nil && !gce.IsNotFound(err) {
		return fmt.Errorf("delete outdated route %s: %w", name, err)
	}
	if err := r.api.InsertRoute(ctx, want); err != nil {
		if gce.IsQuotaExceeded(err) {
			return quotaError(name, err)
		}
		return fmt.Errorf("recreate route %s: %w", name, err)
	}
	return nil
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
