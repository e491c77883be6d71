package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"
	"k8s.io/cloud-provider/names"
	genericcontrollermanager "k8s.io/controller-manager/app"
	"k8s.io/controller-manager/controller"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/routes"
)

// The route controller. gce-ccm's own (pkg/routes.Controller) runs under the
// upstream route controller's name, node-route-controller, so that
// --controllers (and its alias "route"), --configure-cloud-routes,
// --cluster-cidr, --route-reconciliation-period and leader election keep
// their meaning; --route-controller=upstream runs the upstream one instead
// (for comparison, e.g. in make bench).
const (
	routeControllerGCE      = "gce-ccm"
	routeControllerUpstream = "upstream"
)

// routeControllerChoice is the --route-controller flag: it refuses any
// other value when the flags are parsed.
type routeControllerChoice string

func (c *routeControllerChoice) String() string { return string(*c) }
func (c *routeControllerChoice) Type() string   { return "string" }
func (c *routeControllerChoice) Set(v string) error {
	switch v {
	case routeControllerGCE, routeControllerUpstream:
		*c = routeControllerChoice(v)
		return nil
	}
	return fmt.Errorf("want %q or %q, got %q", routeControllerGCE, routeControllerUpstream, v)
}

// routeControllerInit replaces the upstream route controller's entry.
func routeControllerInit(choice *routeControllerChoice) app.ControllerInitFuncConstructor {
	upstream := app.DefaultInitFuncConstructors[names.NodeRouteController]
	return app.ControllerInitFuncConstructor{
		InitContext: app.ControllerInitContext{ClientName: "gce-ccm-route-controller"},
		Constructor: func(initContext app.ControllerInitContext, completed *config.CompletedConfig, cloud cloudprovider.Interface) app.InitFunc {
			if *choice == routeControllerUpstream {
				// Its CreateRoute probes an exhausted quota once per
				// period too.
				if r, ok := routesOf(cloud); ok {
					r.SetQuotaRetryPeriod(completed.ComponentConfig.KubeCloudShared.RouteReconciliationPeriod.Duration)
				}
				return upstream.Constructor(initContext, completed, cloud)
			}
			return func(ctx context.Context, cc genericcontrollermanager.ControllerContext) (controller.Interface, bool, error) {
				return startRouteController(ctx, initContext, cc, completed, cloud)
			}
		},
	}
}

func startRouteController(ctx context.Context, initContext app.ControllerInitContext, cc genericcontrollermanager.ControllerContext,
	completed *config.CompletedConfig, cloud cloudprovider.Interface) (controller.Interface, bool, error) {
	shared := completed.ComponentConfig.KubeCloudShared
	if !shared.ConfigureCloudRoutes {
		klog.Infof("Will not configure cloud provider routes, --configure-cloud-routes: %v", shared.ConfigureCloudRoutes)
		return nil, false, nil
	}
	r, ok := routesOf(cloud)
	if !ok {
		return nil, false, fmt.Errorf("--route-controller=%s needs gce-ccm's routes, the provider has none", routeControllerGCE)
	}
	cidrs, err := clusterCIDRs(shared.ClusterCIDR)
	if err != nil {
		return nil, false, err
	}
	ctrl, err := r.NewController(routes.ControllerOptions{
		ClusterName:  shared.ClusterName,
		ClusterCIDRs: cidrs,
		Period:       shared.RouteReconciliationPeriod.Duration,
		Client:       completed.ClientBuilder.ClientOrDie(initContext.ClientName),
		Nodes:        completed.SharedInformers.Core().V1().Nodes(),
	})
	if err != nil {
		return nil, false, err
	}
	logger := klog.LoggerWithName(klog.FromContext(ctx), names.NodeRouteController)
	go func() {
		cc.ControllerManagerMetrics.ControllerStarted("route")
		defer cc.ControllerManagerMetrics.ControllerStopped("route")
		ctrl.Run(klog.NewContext(ctx, logger))
	}()
	return nil, true, nil
}

func routesOf(cloud cloudprovider.Interface) (*routes.Routes, bool) {
	cr, ok := cloud.Routes()
	if !ok {
		return nil, false
	}
	r, ok := cr.(*routes.Routes)
	return r, ok
}

// clusterCIDRs parses --cluster-cidr as the upstream route controller does:
// one CIDR, or two of different families.
func clusterCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("--cluster-cidr: %q is not a CIDR", part)
		}
		out = append(out, p.Masked())
	}
	switch {
	case len(out) > 2:
		return nil, fmt.Errorf("--cluster-cidr: %d CIDRs, at most 2 (one per IP family) are allowed", len(out))
	case len(out) == 2 && out[0].Addr().Is4() == out[1].Addr().Is4():
		return nil, fmt.Errorf("--cluster-cidr: two CIDRs must be of different IP families (dual stack), got %s", s)
	}
	return out, nil
}
