package main

import (
	"context"

	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/app/config"
	servicecontroller "k8s.io/cloud-provider/controllers/service"
	genericcontrollermanager "k8s.io/controller-manager/app"
	"k8s.io/controller-manager/controller"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
)

// legacyClassController serves the Services of the long-standing GCE
// provider's own classes (networking.gke.io/l4-regional-external-legacy
// and ...-internal-legacy, each built as its kind of load balancer). The
// upstream service controller skips every Service with a loadBalancerClass,
// so a second instance of it runs over an informer that shows those
// Services without their class and hides every other Service
// (loadbalancer.LegacyClassView). It is the upstream controller unchanged:
// same finalizer, events, status and retries.
const legacyClassController = "service-legacy-class"

func startLegacyClassController(initContext app.ControllerInitContext, completed *config.CompletedConfig, cloud cloudprovider.Interface) app.InitFunc {
	return func(ctx context.Context, cc genericcontrollermanager.ControllerContext) (controller.Interface, bool, error) {
		client := completed.ClientBuilder.ClientOrDie(initContext.ClientName)
		services := informers.NewSharedInformerFactoryWithOptions(client, app.ResyncPeriod(completed)(),
			informers.WithTransform(loadbalancer.LegacyClassView))
		sc, err := servicecontroller.New(cloud, client, services.Core().V1().Services(), completed.SharedInformers.Core().V1().Nodes(),
			completed.ComponentConfig.KubeCloudShared.ClusterName, utilfeature.DefaultFeatureGate)
		if err != nil {
			return nil, false, err
		}
		services.Start(ctx.Done())
		go sc.Run(ctx, int(completed.ComponentConfig.ServiceController.ConcurrentServiceSyncs), cc.ControllerManagerMetrics)
		return nil, true, nil
	}
}
