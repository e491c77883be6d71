// Command gce-cloud-controller-manager runs the upstream cloud controllers
// (node, node lifecycle, route, service) with gce-ccm's GCE implementation.
package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"
	"k8s.io/cloud-provider/names"
	"k8s.io/cloud-provider/options"
	"k8s.io/component-base/cli"
	cliflag "k8s.io/component-base/cli/flag"
	_ "k8s.io/component-base/logs/json/register" // the JSON log format
	"k8s.io/component-base/metrics/legacyregistry"
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // the version metric
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/provider"
)

func main() {
	// The audit is a subcommand of its own, with none of the manager's flags.
	if len(os.Args) > 1 && os.Args[1] == auditCommand {
		os.Exit(runAudit(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(run())
}

// gceFlags are gce-ccm's own flags, shown in their own section of --help.
type gceFlags struct {
	instanceCacheTTL        time.Duration
	proberRanges            []string
	allowDefaultClusterName bool
	denyFirewall            bool
	routeController         routeControllerChoice
}

// defaultClusterName is upstream's default --cluster-name.
const defaultClusterName = "kubernetes"

func run() int {
	opts, err := options.NewCloudControllerManagerOptions()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gce-cloud-controller-manager: %v\n", err)
		return 1
	}
	applyDefaults(opts)

	own := gceFlags{routeController: routeControllerGCE}
	fss := cliflag.NamedFlagSets{}
	fs := fss.FlagSet("gce")
	fs.DurationVar(&own.instanceCacheTTL, "instance-cache-ttl", provider.DefaultInstanceCacheTTL,
		"How long one list of all VMs answers node lookups. Shorter notices stopped or deleted VMs sooner; longer costs fewer API reads.")
	fs.StringSliceVar(&own.proberRanges, "cloud-provider-gce-lb-src-cidrs", nil,
		"CIDRs of Google's load balancer health checkers that the health check firewalls admit (comma separated). Default: Google's documented ranges "+
			"130.211.0.0/22, 35.191.0.0/16, 209.85.152.0/22, 209.85.204.0/22.")
	fs.BoolVar(&own.denyFirewall, "enable-l4-deny-firewall", false,
		"Give each load balancer a firewall rule k8s-fw-<lb>-deny that denies all traffic to its IP at priority 1000, and raise the rules that "+
			"allow its ports and health checks to 999, so that a broad allow rule elsewhere in the network cannot expose other ports of the nodes "+
			"on that IP. Turned off again, the deny rules are removed before the allow rules return to 1000.")
	fs.BoolVar(&own.allowDefaultClusterName, "allow-default-cluster-name", false,
		"Route the pod CIDRs of a cluster named \""+defaultClusterName+"\". Route names begin with the cluster name, and which routes are the cluster's "+
			"is decided by that prefix: two clusters in one network that both keep the default name take each other's routes for their own and delete them. "+
			"Without this flag the manager refuses to start with --configure-cloud-routes and the default name.")

	fs.Var(&own.routeController, "route-controller",
		"Which route controller runs as node-route-controller: \""+routeControllerGCE+"\" (gce-ccm's own: per node, as soon as a node or its pod CIDRs "+
			"appear, with per-node backoff) or \""+routeControllerUpstream+"\" (k8s.io/cloud-provider's, which reconciles the whole cluster at most every 10s).")

	cmd := app.NewCloudControllerManagerCommand(opts, cloudInitializer(&own), controllerInitializers(&own),
		names.CCMControllerAliases(), fss, wait.NeverStop)
	cmd.Use = "gce-cloud-controller-manager"
	return cli.Run(cmd)
}

// applyDefaults changes upstream defaults that hurt at scale or do not fit GCE.
func applyDefaults(opts *options.CloudControllerManagerOptions) {
	opts.KubeCloudShared.CloudProvider.Name = provider.Name
	// One service sync at a time makes 200 Services take 200 times as long.
	opts.ServiceController.ConcurrentServiceSyncs = 10
	// With watch-based route reconciliation (below) the only periodic retry
	// of a route that failed to be created is the informers' resync, by
	// default every 12 to 24 hours. A minute keeps a quota or canIpForward
	// fix from waiting half a day; a resync costs CPU, not API calls.
	opts.Generic.MinResyncPeriod.Duration = time.Minute
	// Reconcile routes when nodes change instead of listing every 10 seconds.
	if err := utilfeature.DefaultMutableFeatureGate.Set("CloudControllerManagerWatchBasedRoutesReconciliation=true"); err != nil {
		klog.Warningf("cannot default the watch-based route reconciliation gate on: %v", err)
	}
}

func controllerInitializers(own *gceFlags) map[string]app.ControllerInitFuncConstructor {
	inits := maps.Clone(app.DefaultInitFuncConstructors)
	for name, client := range map[string]string{
		names.CloudNodeController:          "gce-ccm-cloud-node-controller",
		names.CloudNodeLifecycleController: "gce-ccm-cloud-node-lifecycle-controller",
		names.ServiceLBController:          "gce-ccm-service-controller",
		names.NodeRouteController:          "gce-ccm-route-controller",
	} {
		if c, ok := inits[name]; ok {
			c.InitContext.ClientName = client
			inits[name] = c
		}
	}
	inits[names.NodeRouteController] = routeControllerInit(&own.routeController)
	inits[legacyClassController] = app.ControllerInitFuncConstructor{
		InitContext: app.ControllerInitContext{ClientName: "gce-ccm-service-legacy-class-controller"},
		Constructor: startLegacyClassController,
	}
	return inits
}

// cloudInitializer builds the provider from --cloud-config. The upstream
// command offers no error return here, so a bad config ends the process
// with a message that names the problem.
func cloudInitializer(own *gceFlags) app.InitCloudFunc {
	return func(c *config.CompletedConfig) cloudprovider.Interface {
		shared := c.ComponentConfig.KubeCloudShared.CloudProvider
		if shared.Name != provider.Name {
			fail("--cloud-provider must be %q, got %q", provider.Name, shared.Name)
		}
		kcs := c.ComponentConfig.KubeCloudShared
		if kcs.ConfigureCloudRoutes && kcs.ClusterName == defaultClusterName && !own.allowDefaultClusterName {
			fail("--cluster-name is the default %q: set it to a name unique in the network (its first 26 characters begin every route name, "+
				"and routes with another cluster's prefix are that cluster's), or pass --allow-default-cluster-name if this is the only cluster "+
				"named %q in the network", defaultClusterName, defaultClusterName)
		}
		ranges, err := proberRanges(own.proberRanges)
		if err != nil {
			fail("--cloud-provider-gce-lb-src-cidrs: %v", err)
		}
		var cfg io.Reader // nil: no gce.conf, everything from the metadata server
		if shared.CloudConfigFile != "" {
			f, err := os.Open(shared.CloudConfigFile)
			if err != nil {
				fail("open --cloud-config: %v", err)
			}
			defer f.Close()
			cfg = f
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		p, err := provider.New(ctx, cfg, provider.Options{InstanceCacheTTL: own.instanceCacheTTL, ProberRanges: ranges,
			DenyFirewall: own.denyFirewall, Fence: leaseFence(c)})
		if err != nil {
			fail("%v", err)
		}
		legacyregistry.MustRegister(p.Collectors()...)
		klog.InfoS("GCE cloud provider ready", "provider", p.String())
		return p
	}
}

// proberRanges validates and masks the health checker ranges.
func proberRanges(in []string) ([]string, error) {
	var out []string
	for _, r := range in {
		p, err := netip.ParsePrefix(strings.TrimSpace(r))
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("%q is not an IPv4 CIDR such as 130.211.0.0/22", r)
		}
		out = append(out, p.Masked().String())
	}
	return out, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gce-cloud-controller-manager: "+format+"\n", args...)
	klog.Flush()
	os.Exit(1)
}
