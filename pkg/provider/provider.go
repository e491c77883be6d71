// Package provider is gce-ccm's cloudprovider.Interface: a thin adapter that
// builds the GCE pieces from gce.conf and hands them to the upstream
// controllers.
package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"cloud.google.com/go/compute/metadata"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/component-base/metrics"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/instances"
	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
	"github.com/gce-ccm/gce-ccm/pkg/routes"
)

// Name is the provider name the manager registers as.
const Name = "gce"

// Options are the provider's settings that do not come from gce.conf.
type Options struct {
	// InstanceCacheTTL bounds how stale a node lookup may be.
	InstanceCacheTTL time.Duration
	// ProberRanges replace Google's health check source ranges in the
	// health check firewalls (--cloud-provider-gce-lb-src-cidrs).
	ProberRanges []string
	// DenyFirewall gives each load balancer a deny-all rule behind its allow
	// rules (--enable-l4-deny-firewall).
	DenyFirewall bool
	// Fence, when set, must allow every Compute write (the leader lease
	// fence of a replica under leader election).
	Fence gce.WriteFence
}

// DefaultInstanceCacheTTL is the default of Options.InstanceCacheTTL.
const DefaultInstanceCacheTTL = 15 * time.Second

// Provider implements cloudprovider.Interface for GCE.
type Provider struct {
	cloud        *gce.Cloud
	instances    *instances.Instances
	routes       *routes.Routes
	lb           *loadbalancer.Balancer
	lbStatus     *serviceStatus
	clusterID    *clusterID
	nodes        *nodeLister
	apiMetrics   *gce.Metrics
	routeMetrics *routes.Metrics
	lbMetrics    *loadbalancer.Metrics
}

var _ cloudprovider.Interface = (*Provider)(nil)

// New reads gce.conf from config (nil for none), completes it from the
// metadata server, and builds the provider.
func New(ctx context.Context, config io.Reader, opts Options) (*Provider, error) {
	cfg, err := gce.ParseConfig(config)
	if err != nil {
		return nil, err
	}
	// Consulted only for what gce.conf leaves out.
	md := metadata.NewClient(&http.Client{Timeout: 10 * time.Second})
	if err := cfg.Complete(ctx, md); err != nil {
		return nil, err
	}
	cfg.Fence = opts.Fence
	hc, err := gce.NewHTTPClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	apiMetrics := gce.NewMetrics()
	cloud, err := gce.New(ctx, *cfg, hc, apiMetrics)
	if err != nil {
		return nil, err
	}
	if opts.InstanceCacheTTL <= 0 {
		opts.InstanceCacheTTL = DefaultInstanceCacheTTL
	}
	c := cloud.Config()
	inst := instances.New(cloud, instances.Options{
		Project: c.ProjectID, Zones: c.Zones, CacheTTL: opts.InstanceCacheTTL, IsNotFound: gce.IsNotFound,
	})
	routeMetrics := routes.NewMetrics()
	lbStatus := &serviceStatus{}
	id := &clusterID{}
	nodes := &nodeLister{}
	return &Provider{
		cloud:     cloud,
		instances: inst,
		routes:    routes.NewWithOptions(cloud, routes.Options{Instances: inst, NetworkURL: c.NetworkURL(), Metrics: routeMetrics, Nodes: nodes}),
		lb: loadbalancer.New(cloud, loadbalancer.Options{
			Project: c.ProjectID, Region: c.Region, NetworkURL: c.NetworkURL(), NetworkProject: c.NetworkProjectID,
			NodeTags: c.NodeTags, Subnetwork: c.SubnetworkName, Instances: inst, ClusterID: id, ProberRanges: opts.ProberRanges, DenyFirewall: opts.DenyFirewall,
			Status: lbStatus, Events: lbStatus,
		}),
		lbStatus:     lbStatus,
		clusterID:    id,
		nodes:        nodes,
		apiMetrics:   apiMetrics,
		routeMetrics: routeMetrics,
		lbMetrics:    loadbalancer.NewMetrics(),
	}, nil
}

// Collectors returns the provider's metrics, for registration with the
// registry /metrics serves.
func (p *Provider) Collectors() []metrics.Registerable {
	return append(append(p.apiMetrics.Collectors(), p.routeMetrics.Collectors()...), p.lbMetrics.Collectors()...)
}

// Cloud returns the Compute API door, for the manager's own use.
func (p *Provider) Cloud() *gce.Cloud { return p.cloud }

// Initialize is called by the manager before the controllers start. It
// gives the load balancers a client to write Service conditions,
// finalizers and events with, and starts following the cluster id.
func (p *Provider) Initialize(clientBuilder cloudprovider.ControllerClientBuilder, stop <-chan struct{}) {
	client := clientBuilder.ClientOrDie(serviceStatusClientName)
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "gce-cloud-controller-manager"})
	p.lbStatus.init(client, recorder)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-stop
		cancel()
		broadcaster.Shutdown()
	}()
	go p.clusterID.run(ctx, client)
}

// LoadBalancer turns type=LoadBalancer Services into network load balancers.
// Its calls are counted in the gce_loadbalancer* metrics.
func (p *Provider) LoadBalancer() (cloudprovider.LoadBalancer, bool) {
	return p.lbMetrics.Instrument(p.lb), true
}

// Instances is the legacy interface; InstancesV2 replaces it.
func (p *Provider) Instances() (cloudprovider.Instances, bool) { return nil, false }

// InstancesV2 finds nodes' VMs.
func (p *Provider) InstancesV2() (cloudprovider.InstancesV2, bool) { return p.instances, true }

// Zones is deprecated in favour of InstancesV2 metadata.
func (p *Provider) Zones() (cloudprovider.Zones, bool) { return nil, false }

// Clusters is not supported.
func (p *Provider) Clusters() (cloudprovider.Clusters, bool) { return nil, false }

// Routes manages the pod routes.
func (p *Provider) Routes() (cloudprovider.Routes, bool) { return p.routes, true }

// ProviderName returns "gce".
func (p *Provider) ProviderName() string { return Name }

// HasClusterID is true: routes are named from --cluster-name, shared load
// balancer resources from the cluster id in ConfigMap kube-system/ingress-uid.
func (p *Provider) HasClusterID() bool { return true }

// String helps logs.
func (p *Provider) String() string {
	c := p.cloud.Config()
	return fmt.Sprintf("gce(project=%s, network=%s, zones=%v)", c.ProjectID, c.NetworkName, c.Zones)
}
