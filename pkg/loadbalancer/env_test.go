package loadbalancer_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/gce/gcetest"
	"github.com/gce-ccm/gce-ccm/pkg/instances"
	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

const (
	project = "fake-project"
	region  = "us-central1"
	zone    = "us-central1-a"
	cluster = "test-cluster"
	nodeTag = "k8s-node"
	netURL  = "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/default"
	// clusterID is the long-standing provider's cluster id (ConfigMap
	// kube-system/ingress-uid), which names the shared health check; it is
	// not the cluster name.
	clusterID = "0123456789abcdef"
	nodesHC   = "k8s-0123456789abcdef-node"
	nodesHFW  = "k8s-0123456789abcdef-node-http-hc"
)

type env struct {
	t     *testing.T
	ctx   context.Context
	lb    *loadbalancer.Balancer
	cloud *gce.Cloud
	fake  *fakecompute.Server
	nodes []*v1.Node
}

type envOption func(*envConfig)

type envConfig struct {
	fake  fakecompute.Config
	opts  loadbalancer.Options
	vms   int
	seeds func(i int) fakecompute.InstanceSeed
}

func withVMs(n int) envOption { return func(c *envConfig) { c.vms = n } }

func withOptions(f func(*loadbalancer.Options)) envOption { return func(c *envConfig) { f(&c.opts) } }

func withSeeds(f func(i int) fakecompute.InstanceSeed) envOption {
	return func(c *envConfig) { c.seeds = f }
}

// setup starts a fake with VMs node-0..node-N-1 and returns a Balancer that
// talks to it over HTTP with the real clients.
func setup(t *testing.T, options ...envOption) *env {
	t.Helper()
	c := &envConfig{vms: 3, opts: loadbalancer.Options{Project: project, Region: region, NetworkURL: netURL, NodeTags: []string{nodeTag},
		ClusterID: loadbalancer.StaticClusterID(clusterID)}}
	c.seeds = func(i int) fakecompute.InstanceSeed {
		return fakecompute.InstanceSeed{Name: fmt.Sprintf("node-%d", i), Zone: zone, Tags: []string{nodeTag}, NoExternalIP: true}
	}
	for _, o := range options {
		o(c)
	}
	srv := gcetest.StartFake(t, c.fake)
	e := &env{t: t, ctx: context.Background(), fake: srv}
	for i := range c.vms {
		seed := c.seeds(i)
		if err := srv.AddInstance(seed); err != nil {
			t.Fatal(err)
		}
		e.nodes = append(e.nodes, node(seed.Name, true))
	}
	cloud := gcetest.NewCloud(t, srv, gce.Config{ProjectID: project, NetworkName: "default", LocalZone: zone, WriteQPS: 1000, WriteBurst: 1000})
	cfg := cloud.Config()
	e.cloud = cloud
	if c.opts.Instances == nil {
		c.opts.Instances = instances.New(cloud, instances.Options{Project: project, Zones: cfg.Zones, CacheTTL: time.Minute, IsNotFound: gce.IsNotFound})
	}
	e.lb = loadbalancer.New(cloud, c.opts)
	return e
}

// node is a Node of a VM in the test zone, with or without a provider ID.
func node(name string, providerID bool) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if providerID {
		n.Spec.ProviderID = "gce://" + project + "/" + zone + "/" + name
	}
	return n
}

var uidCounter atomic.Int64

// service returns a TCP :80 LoadBalancer Service with a fresh UID.
func service(name string, mutate ...func(*v1.Service)) *v1.Service {
	n := uidCounter.Add(1)
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n))},
		Spec: v1.ServiceSpec{
			Type:                  v1.ServiceTypeLoadBalancer,
			Ports:                 []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80}},
			ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyCluster,
		},
	}
	for _, m := range mutate {
		m(svc)
	}
	return svc
}

func (e *env) ensure(svc *v1.Service) string {
	e.t.Helper()
	st, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes)
	if err != nil {
		e.t.Fatalf("EnsureLoadBalancer(%s): %v", svc.Name, err)
	}
	// The address is released in the background once the rules hold the
	// IP; tests look at what the sync left.
	loadbalancer.WaitForReleases(e.lb)
	if len(st.Ingress) != 1 || st.Ingress[0].IP == "" {
		e.t.Fatalf("EnsureLoadBalancer(%s) status = %+v, want one IP", svc.Name, st)
	}
	return st.Ingress[0].IP
}

func (e *env) delete(svc *v1.Service) {
	e.t.Helper()
	if err := e.lb.EnsureLoadBalancerDeleted(e.ctx, cluster, svc); err != nil {
		e.t.Fatalf("EnsureLoadBalancerDeleted(%s): %v", svc.Name, err)
	}
}

// writes returns the mutations the fake answered, by method, whatever their
// result.
func (e *env) writes() map[string]int {
	out := map[string]int{}
	for method, results := range e.fake.Calls() {
		if isRead(method) {
			continue
		}
		for _, n := range results {
			out[method] += n
		}
	}
	return out
}

func isRead(method string) bool {
	for _, s := range []string{".get", ".list", ".wait", ".aggregatedList", ".listInstances", ".getHealth"} {
		if strings.HasSuffix(method, s) {
			return true
		}
	}
	return false
}

// expectNoWrites runs an Ensure that must find nothing to do.
func (e *env) expectNoWrites(svc *v1.Service, wantIP string) {
	e.t.Helper()
	loadbalancer.WaitForReleases(e.lb) // an earlier sync's release is its write
	e.fake.ResetCalls()
	if ip := e.ensure(svc); ip != wantIP {
		e.t.Errorf("IP = %s, want %s", ip, wantIP)
	}
	if w := e.writes(); len(w) != 0 {
		e.t.Errorf("Ensure of a converged load balancer wrote %v", w)
	}
}

// names returns the names of every load balancer resource in the fake.
func (e *env) names() map[string][]string {
	d := e.fake.Dump()
	out := map[string][]string{}
	for _, a := range d.Addresses {
		out["addresses"] = append(out["addresses"], a.Name)
	}
	for _, r := range d.ForwardingRules {
		out["forwardingRules"] = append(out["forwardingRules"], r.Name)
	}
	for _, p := range d.TargetPools {
		out["targetPools"] = append(out["targetPools"], p.Name)
	}
	for _, f := range d.Firewalls {
		out["firewalls"] = append(out["firewalls"], f.Name)
	}
	for _, h := range d.HTTPHealthChecks {
		out["httpHealthChecks"] = append(out["httpHealthChecks"], h.Name)
	}
	for _, h := range d.HealthChecks {
		out["healthChecks"] = append(out["healthChecks"], h.Name)
	}
	for _, b := range d.BackendServices {
		out["backendServices"] = append(out["backendServices"], b.Name)
	}
	for _, g := range d.InstanceGroups {
		out["instanceGroups"] = append(out["instanceGroups"], g.Name+"/"+g.Zone[strings.LastIndexByte(g.Zone, '/')+1:])
	}
	return out
}

func lbName(svc *v1.Service) string {
	return "a" + strings.ReplaceAll(string(svc.UID), "-", "")[:31]
}

func ptr[T any](v T) *T { return &v }
