// Command gce-cloud-controller-manager runs the upstream cloud controllers
// (node, node lifecycle, route, service) with gce-ccm's GCE implementation.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
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
	os.Exit(run())
}

// gceFlags are gce-ccm's own flags, shown in their own section of --help.
type gceFlags struct {
	instanceCacheTTL time.Duration
}

func run() int {
	opts, err := options.NewCloudControllerManagerOptions()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gce-cloud-controller-manager: %v\n", err)
		return 1
	}
	applyDefaults(opts)

	var own gceFlags
	fss := cliflag.NamedFlagSets{}
	fs := fss.FlagSet("gce")
	fs.DurationVar(&own.instanceCacheTTL, "instance-cache-ttl", provider.DefaultInstanceCacheTTL,
		"How long one list of all VMs answers node lookups. Shorter notices stopped or deleted VMs sooner; longer costs fewer API reads.")

	cmd := app.NewCloudControllerManagerCommand(opts, cloudInitializer(&own), controllerInitializers(),
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

func controllerInitializers() map[string]app.ControllerInitFuncConstructor {
	inits := app.DefaultInitFuncConstructors
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
		p, err := provider.New(ctx, cfg, provider.Options{InstanceCacheTTL: own.instanceCacheTTL})
		if err != nil {
			fail("%v", err)
		}
		legacyregistry.MustRegister(p.Collectors()...)
		klog.InfoS("GCE cloud provider ready", "provider", p.String())
		return p
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gce-cloud-controller-manager: "+format+"\n", args...)
	klog.Flush()
	os.Exit(1)
}
