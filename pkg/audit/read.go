package audit

import (
	"context"
	"fmt"
	"regexp"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/pager"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/routes"
)

// Compute is what the audit needs from the Compute API: one paged list per
// kind to read, and the deletes.
type Compute interface {
	ListInstances(ctx context.Context) ([]*computepb.Instance, error)
	ListRoutes(ctx context.Context, filter string) ([]*computepb.Route, error)
	ListAddresses(ctx context.Context, filter string) ([]*computepb.Address, error)
	ListForwardingRules(ctx context.Context, filter string) ([]*computepb.ForwardingRule, error)
	ListTargetPools(ctx context.Context, filter string) ([]*computepb.TargetPool, error)
	ListFirewalls(ctx context.Context, filter string) ([]*computepb.Firewall, error)
	ListHTTPHealthChecks(ctx context.Context, filter string) ([]*gce.HTTPHealthCheck, error)
	ListRegionBackendServices(ctx context.Context, filter string) ([]*computepb.BackendService, error)
	ListHealthChecks(ctx context.Context, filter string) ([]*computepb.HealthCheck, error)
	ListInstanceGroups(ctx context.Context, filter string) ([]*computepb.InstanceGroup, error)

	DeleteRoute(ctx context.Context, name string) error
	DeleteAddress(ctx context.Context, name string) error
	DeleteForwardingRule(ctx context.Context, name string) error
	DeleteTargetPool(ctx context.Context, name string) error
	DeleteFirewall(ctx context.Context, name string) error
	DeleteHTTPHealthCheck(ctx context.Context, name string) error
	DeleteRegionBackendService(ctx context.Context, name string) error
	DeleteHealthCheck(ctx context.Context, name string) error
	DeleteInstanceGroup(ctx context.Context, zone, name string) error
}

// Scope is where the cluster's resources are and what names them.
type Scope struct {
	ClusterName string
	ClusterID   string
	Project     string
	Region      string
	NetworkURL  string
	NodeTags    []string
	CheckRoutes bool
}

// Read lists the cluster's Nodes and Services and the GCE resources, all at
// once.
func Read(ctx context.Context, api Compute, kube kubernetes.Interface, sc Scope) (*Inventory, error) {
	inv := &Inventory{ClusterName: sc.ClusterName, ClusterID: sc.ClusterID, Project: sc.Project, Region: sc.Region,
		NetworkURL: sc.NetworkURL, NodeTags: sc.NodeTags, CheckRoutes: sc.CheckRoutes}
	// Routes with the cluster's prefix, whatever their description and
	// network, so that lookalikes are reported; instance groups named
	// k8s-ig--*. The rest is read whole: a user's address holding a leaked
	// rule's IP has any name, and so do the firewalls of internal load
	// balancers' own health checks (<lb>-hc).
	routeFilter := fmt.Sprintf(`name eq "%s.*"`, regexp.QuoteMeta(routes.NamePrefix(sc.ClusterName)))
	err := parallel(
		func() (err error) { inv.Nodes, err = listNodes(ctx, kube); return err },
		func() (err error) { inv.Services, err = listServices(ctx, kube); return err },
		func() (err error) { inv.Instances, err = api.ListInstances(ctx); return err },
		func() (err error) { inv.Routes, err = api.ListRoutes(ctx, routeFilter); return err },
		func() (err error) { inv.Addresses, err = api.ListAddresses(ctx, ""); return err },
		func() (err error) { inv.ForwardingRules, err = api.ListForwardingRules(ctx, ""); return err },
		func() (err error) { inv.TargetPools, err = api.ListTargetPools(ctx, ""); return err },
		func() (err error) { inv.Firewalls, err = api.ListFirewalls(ctx, ""); return err },
		func() (err error) { inv.HealthChecks, err = api.ListHTTPHealthChecks(ctx, ""); return err },
		func() (err error) {
			inv.BackendServices, err = api.ListRegionBackendServices(ctx, `name eq ".*"`)
			return err
		},
		func() (err error) { inv.InternalChecks, err = api.ListHealthChecks(ctx, ""); return err },
		func() (err error) {
			inv.InstanceGroups, err = api.ListInstanceGroups(ctx, `name eq "k8s-ig--.*"`)
			return err
		},
	)
	if err != nil {
		return nil, err
	}
	return inv, nil
}

func listNodes(ctx context.Context, kube kubernetes.Interface) ([]*v1.Node, error) {
	var out []*v1.Node
	p := pager.New(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return kube.CoreV1().Nodes().List(ctx, o)
	})
	err := p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
		out = append(out, obj.(*v1.Node))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return out, nil
}

func listServices(ctx context.Context, kube kubernetes.Interface) ([]*v1.Service, error) {
	var out []*v1.Service
	p := pager.New(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return kube.CoreV1().Services("").List(ctx, o)
	})
	err := p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
		out = append(out, obj.(*v1.Service))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	return out, nil
}
