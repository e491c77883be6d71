package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

const (
	project  = "p1"
	region   = "us-central1"
	zone     = "us-central1-a"
	network  = gce.SelfLinkPrefix + "projects/p1/global/networks/default"
	cluster  = "audit"
	id       = "c0ffee00c0ffee00"
	nodeUID  = "11111111-2222-3333-4444-555555555555"
	goneUID  = "99999999-2222-3333-4444-555555555555"
	svcUID   = "abcdef01-2345-6789-abcd-ef0123456789"
	lb       = "aabcdef0123456789abcdef012345678" // "a" + the UID without dashes, 32 characters
	otherUID = "fedcba98-7654-3210-fedc-ba9876543210"
	otherLB  = "afedcba9876543210fedcba987654321"
)

func vmLink(name string) string {
	return gce.SelfLinkPrefix + "projects/" + project + "/zones/" + zone + "/instances/" + name
}

func node(name, uid, cidr string) *v1.Node {
	return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid)},
		Spec: v1.NodeSpec{ProviderID: "gce://" + project + "/" + zone + "/" + name, PodCIDR: cidr, PodCIDRs: []string{cidr}}}
}

func vm(name string, tags ...string) *computepb.Instance {
	return &computepb.Instance{Name: &name, SelfLink: ptr(vmLink(name)), Tags: &computepb.Tags{Items: tags}, CanIpForward: ptr(true)}
}

func route(name, cidr, vm string) *computepb.Route {
	r := &computepb.Route{Name: &name, DestRange: &cidr, Network: ptr(network), Description: ptr("k8s-node-route")}
	if vm != "" {
		r.NextHopInstance = ptr(vmLink(vm))
	}
	return r
}

func service(name, uid string, typ v1.ServiceType) *v1.Service {
	return &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(uid)},
		Spec: v1.ServiceSpec{Type: typ, Ports: []v1.ServicePort{{Protocol: v1.ProtocolTCP, Port: 80}}}}
}

func svcDesc(key string) *string { return ptr(fmt.Sprintf(`{"kubernetes.io/service-name":%q}`, key)) }

// lbResources are a complete network load balancer of Service key named
// lbName, with a pool of vms and the cluster's shared health check.
func lbResources(inv *Inventory, lbName, key, hcID string, tags []string, vms ...string) {
	var insts []string
	for _, v := range vms {
		insts = append(insts, vmLink(v))
	}
	var hcs []string
	if hcID != "" {
		hcs = []string{gce.SelfLinkPrefix + "projects/" + project + "/global/httpHealthChecks/k8s-" + hcID + "-node"}
	}
	inv.ForwardingRules = append(inv.ForwardingRules, &computepb.ForwardingRule{Name: ptr(lbName), Description: svcDesc(key),
		IPAddress: ptr("203.0.113.9"), IPProtocol: ptr("TCP"), LoadBalancingScheme: ptr("EXTERNAL"),
		Target: ptr(gce.SelfLinkPrefix + "projects/p1/regions/us-central1/targetPools/" + lbName)})
	inv.TargetPools = append(inv.TargetPools, &computepb.TargetPool{Name: ptr(lbName), Description: svcDesc(key), Instances: insts, HealthChecks: hcs})
	inv.Firewalls = append(inv.Firewalls, &computepb.Firewall{Name: ptr("k8s-fw-" + lbName), TargetTags: tags,
		Description: ptr(fmt.Sprintf(`{"kubernetes.io/service-name":%q, "kubernetes.io/service-ip":"203.0.113.9"}`, key))})
}

// ilbResources are a complete internal load balancer of Service key named
// lbName with the cluster's shared resources.
func ilbResources(inv *Inventory, lbName, key, clusterID string) {
	ig := gce.SelfLinkPrefix + "projects/p1/zones/" + zone + "/instanceGroups/k8s-ig--" + clusterID
	hc := gce.SelfLinkPrefix + "projects/p1/global/healthChecks/k8s-" + clusterID + "-node"
	bs := gce.SelfLinkPrefix + "projects/p1/regions/us-central1/backendServices/" + lbName
	inv.ForwardingRules = append(inv.ForwardingRules, &computepb.ForwardingRule{Name: ptr(lbName), Description: svcDesc(key),
		IPAddress: ptr("10.128.0.9"), IPProtocol: ptr("TCP"), LoadBalancingScheme: ptr("INTERNAL"), BackendService: ptr(bs)})
	inv.BackendServices = append(inv.BackendServices, &computepb.BackendService{Name: ptr(lbName), Description: svcDesc(key),
		Backends: []*computepb.Backend{{Group: ptr(ig)}}, HealthChecks: []string{hc}})
	inv.InternalChecks = append(inv.InternalChecks, &computepb.HealthCheck{Name: ptr("k8s-" + clusterID + "-node")})
	inv.InstanceGroups = append(inv.InstanceGroups, &computepb.InstanceGroup{Name: ptr("k8s-ig--" + clusterID), Zone: ptr(zone), SelfLink: ptr(ig)})
	inv.Firewalls = append(inv.Firewalls,
		&computepb.Firewall{Name: ptr("k8s-fw-" + lbName), Description: ptr(fmt.Sprintf(`{"kubernetes.io/service-name":%q, "kubernetes.io/service-ip":"10.128.0.9"}`, key))},
		&computepb.Firewall{Name: ptr("k8s-" + clusterID + "-node-hc")})
}

func sharedHC(inv *Inventory, clusterID string) {
	name := "k8s-" + clusterID + "-node"
	inv.HealthChecks = append(inv.HealthChecks, &gce.HTTPHealthCheck{Name: name, Description: fmt.Sprintf(`{"kubernetes.io/service-name":%q}`, name)})
	inv.Firewalls = append(inv.Firewalls, &computepb.Firewall{Name: ptr(name + "-http-hc"), Description: ptr(fmt.Sprintf(`{"kubernetes.io/cluster-id":%q}`, clusterID))})
}

func baseInventory() *Inventory {
	return &Inventory{ClusterName: cluster, ClusterID: id, Project: project, Region: region, NetworkURL: network,
		Nodes: []*v1.Node{node("node-0", nodeUID, "10.64.0.0/24")}, Instances: []*computepb.Instance{vm("node-0", "node")}}
}

// brief is a finding without its reason, plus the words the reason must
// contain.
type brief struct {
	Status Status
	Kind   Kind
	Name   string
	Reason string // a substring of the reason
}

func briefs(fs []Finding, want []brief) []brief {
	if len(fs) == 0 {
		return nil
	}
	out := make([]brief, len(fs))
	for i, f := range fs {
		out[i] = brief{Status: f.Status, Kind: f.Kind, Name: f.Name}
		if i < len(want) && strings.Contains(f.Reason, want[i].Reason) {
			out[i].Reason = want[i].Reason
		} else {
			out[i].Reason = f.Reason
		}
	}
	return out
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(inv *Inventory)
		want   []brief
	}{{
		name: "healthy cluster: a node's route, a LoadBalancer Service's load balancer and the shared health check",
		change: func(inv *Inventory) {
			inv.Routes = append(inv.Routes, route("audit-"+nodeUID, "10.64.0.0/24", "node-0"))
			inv.Services = append(inv.Services, service("web", svcUID, v1.ServiceTypeLoadBalancer))
			lbResources(inv, lb, "default/web", id, []string{"node"}, "node-0")
			sharedHC(inv, id)
		},
	}, {
		name: "route of a node that is gone",
		change: func(inv *Inventory) {
			inv.Routes = append(inv.Routes, route("audit-"+goneUID, "10.64.9.0/24", "node-9"))
		},
		want: []brief{{Leaked, KindRoute, "audit-" + goneUID, "node gone"}},
	}, {
		name: "route of a node whose pod CIDR changed",
		change: func(inv *Inventory) {
			inv.Routes = append(inv.Routes, route("audit-"+nodeUID, "10.64.7.0/24", "node-0"))
		},
		want: []brief{{Leaked, KindRoute, "audit-" + nodeUID, "no longer has pod CIDR 10.64.7.0/24"}},
	}, {
		name: "routes of a cluster whose name begins like ours, of another network, and not pod routes",
		change: func(inv *Inventory) {
			inv.Routes = append(inv.Routes, route("audit-b-"+goneUID, "10.64.9.0/24", "x"))
			other := route("audit-"+goneUID, "10.64.9.0/24", "x")
			other.Network = ptr(gce.SelfLinkPrefix + "projects/p1/global/networks/other")
			inv.Routes = append(inv.Routes, other)
			mine := route("audit-"+otherUID, "10.64.8.0/24", "x")
			mine.Description = ptr("my own route")
			inv.Routes = append(inv.Routes, mine, route("prod-"+goneUID, "10.64.9.0/24", "x"))
		},
		want: []brief{
			{Skipped, KindRoute, "audit-" + goneUID, "network other"},
			{Skipped, KindRoute, "audit-b-" + goneUID, "no node UID"},
			{Skipped, KindRoute, "audit-" + otherUID, "not a pod route"},
		},
	}, {
		name: "load balancer of a deleted Service whose pool serves our nodes",
		change: func(inv *Inventory) {
			lbResources(inv, lb, "default/web", "", nil, "node-0")
			inv.Addresses = append(inv.Addresses, &computepb.Address{Name: ptr(lb), Description: svcDesc("default/web"), Address: ptr("203.0.113.9")})
		},
		want: []brief{
			{Leaked, KindForwardingRule, lb, "no such Service default/web; it is this cluster's: target pool " + lb + " serves node node-0's VM"},
			{Leaked, KindAddress, lb, "no such Service"},
			{Leaked, KindTargetPool, lb, "no such Service"},
			{Leaked, KindFirewall, "k8s-fw-" + lb, "no such Service"},
		},
	}, {
		name: "load balancer of a deleted Service that uses our shared health check, with a user's address on its IP",
		change: func(inv *Inventory) {
			lbResources(inv, lb, "default/web", id, nil, "gone-vm")
			sharedHC(inv, id)
			inv.Addresses = append(inv.Addresses, &computepb.Address{Name: ptr("my-ip"), Description: ptr("mine"), Address: ptr("203.0.113.9")})
		},
		want: []brief{
			{Leaked, KindForwardingRule, lb, "uses this cluster's health check k8s-" + id + "-node"},
			{Leaked, KindTargetPool, lb, "no such Service"},
			{Leaked, KindHTTPHealthCheck, "k8s-" + id + "-node", "nothing the cluster accounts for uses it"},
			{Leaked, KindFirewall, "k8s-" + id + "-node-http-hc", "shared node health check firewall; nothing"},
			{Leaked, KindFirewall, "k8s-fw-" + lb, "no such Service"},
			{Skipped, KindAddress, "my-ip", "user's reserved address"},
		},
	}, {
		name: "another cluster's load balancer and shared health check",
		change: func(inv *Inventory) {
			lbResources(inv, otherLB, "default/web", "ffff", []string{"other"}, "other-0")
			sharedHC(inv, "ffff")
		},
		want: []brief{
			{Skipped, KindForwardingRule, otherLB, "not provably this cluster's: target pool " + otherLB + " uses health check k8s-ffff-node of cluster id ffff"},
			{Skipped, KindTargetPool, otherLB, "not provably"},
			{Skipped, KindHTTPHealthCheck, "k8s-ffff-node", "another cluster's"},
			{Skipped, KindFirewall, "k8s-ffff-node-http-hc", "another cluster's"},
			{Skipped, KindFirewall, "k8s-fw-" + otherLB, "not provably"},
		},
	}, {
		name: "a Service's load balancer after the Service became ClusterIP, and one after it became internal",
		change: func(inv *Inventory) {
			inv.Services = append(inv.Services, service("web", svcUID, v1.ServiceTypeClusterIP))
			lbResources(inv, lb, "default/web", id, nil, "node-0")
			in := service("int", otherUID, v1.ServiceTypeLoadBalancer)
			in.Annotations = map[string]string{"networking.gke.io/load-balancer-type": "Internal"}
			inv.Services = append(inv.Services, in)
			inv.TargetPools = append(inv.TargetPools, &computepb.TargetPool{Name: ptr(otherLB), Description: svcDesc("default/int")})
			sharedHC(inv, id)
		},
		want: []brief{
			{Leaked, KindForwardingRule, lb, "Service default/web is type ClusterIP, not LoadBalancer"},
			{Leaked, KindTargetPool, lb, "ClusterIP"},
			{Leaked, KindTargetPool, otherLB, "asks for an internal load balancer"},
			{Leaked, KindHTTPHealthCheck, "k8s-" + id + "-node", "nothing the cluster accounts for uses it"},
			{Leaked, KindFirewall, "k8s-" + id + "-node-http-hc", "shared node health check firewall; nothing"},
			{Leaked, KindFirewall, "k8s-fw-" + lb, "ClusterIP"},
			{Missing, KindForwardingRule, otherLB, "no internal forwarding rule"},
			{Missing, KindBackendService, otherLB, "no backend service"},
			{Missing, KindHealthCheck, "k8s-" + id + "-node", "shared node health check of internal load balancers"},
			{Missing, KindInstanceGroup, "k8s-ig--" + id, "no instance group"},
			{Missing, KindFirewall, "k8s-" + id + "-node-hc", "firewall of internal load balancers"},
			{Missing, KindFirewall, "k8s-fw-" + otherLB, "firewall for its clients"},
		},
	}, {
		name: "an internal Service's load balancer, with a target pool left from its external one",
		change: func(inv *Inventory) {
			in := service("int", svcUID, v1.ServiceTypeLoadBalancer)
			in.Annotations = map[string]string{"networking.gke.io/load-balancer-type": "Internal"}
			inv.Services = append(inv.Services, in)
			ilbResources(inv, lb, "default/int", id)
			inv.TargetPools = append(inv.TargetPools, &computepb.TargetPool{Name: ptr(lb), Description: svcDesc("default/int")})
		},
		want: []brief{{Leaked, KindTargetPool, lb, "asks for an internal load balancer: its external one must go"}},
	}, {
		name: "an internal load balancer of a deleted Service, its instance group and shared health check; another cluster's group",
		change: func(inv *Inventory) {
			ilbResources(inv, lb, "default/int", id)
			inv.InstanceGroups = append(inv.InstanceGroups, &computepb.InstanceGroup{Name: ptr("k8s-ig--ffff"), Zone: ptr(zone),
				SelfLink: ptr(gce.SelfLinkPrefix + "projects/p1/zones/" + zone + "/instanceGroups/k8s-ig--ffff")})
		},
		want: []brief{
			{Leaked, KindForwardingRule, lb, "no such Service default/int; it is this cluster's: backend service " + lb + " uses this cluster's instance group k8s-ig--" + id},
			{Leaked, KindBackendService, lb, "no such Service"},
			{Leaked, KindHealthCheck, "k8s-" + id + "-node", "nothing the cluster accounts for uses it"},
			{Leaked, KindInstanceGroup, "k8s-ig--" + id, "nothing the cluster accounts for uses it"},
			{Leaked, KindFirewall, "k8s-" + id + "-node-hc", "nothing the cluster accounts for uses it"},
			{Leaked, KindFirewall, "k8s-fw-" + lb, "no such Service"},
			{Skipped, KindInstanceGroup, "k8s-ig--ffff", "another cluster's"},
		},
	}, {
		name: "a LoadBalancer Service with nothing in GCE",
		change: func(inv *Inventory) {
			s := service("web", svcUID, v1.ServiceTypeLoadBalancer)
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Protocol: v1.ProtocolUDP, Port: 53})
			inv.Services = append(inv.Services, s)
			loc := service("local", otherUID, v1.ServiceTypeLoadBalancer)
			loc.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
			inv.Services = append(inv.Services, loc)
		},
		want: []brief{
			{Missing, KindForwardingRule, lb, "no forwarding rule for TCP"},
			{Missing, KindForwardingRule, lb + "-udp", "no forwarding rule for UDP"},
			{Missing, KindForwardingRule, otherLB, "no forwarding rule for TCP"},
			{Missing, KindTargetPool, lb, "no target pool"},
			{Missing, KindTargetPool, otherLB, "no target pool"},
			{Missing, KindHTTPHealthCheck, otherLB, "externalTrafficPolicy Local"},
			{Missing, KindHTTPHealthCheck, "k8s-" + id + "-node", "shared node health check"},
			{Missing, KindFirewall, "k8s-" + otherLB + "-http-hc", "health check firewall"},
			{Missing, KindFirewall, "k8s-" + id + "-node-http-hc", "shared node health check firewall"},
			{Missing, KindFirewall, "k8s-fw-" + lb, "firewall for its clients"},
			{Missing, KindFirewall, "k8s-fw-" + otherLB, "firewall for its clients"},
		},
	}, {
		name: "leftover firewalls: one targets only our nodes' tag, one a tag other VMs carry too",
		change: func(inv *Inventory) {
			inv.Instances = append(inv.Instances, vm("other-0", "shared"))
			inv.Firewalls = append(inv.Firewalls,
				&computepb.Firewall{Name: ptr("k8s-fw-" + lb), TargetTags: []string{"node"}, Description: svcDesc("default/web")},
				&computepb.Firewall{Name: ptr("k8s-fw-" + otherLB), TargetTags: []string{"shared"}, Description: svcDesc("default/other")})
			inv.HealthChecks = append(inv.HealthChecks, &gce.HTTPHealthCheck{Name: lb, Description: fmt.Sprintf(`{"kubernetes.io/service-name":%q}`, lb)})
		},
		want: []brief{
			{Leaked, KindHTTPHealthCheck, lb, "firewall k8s-fw-" + lb + " targets only this cluster's node tags [node]"},
			{Leaked, KindFirewall, "k8s-fw-" + lb, "no such Service default/web"},
			{Skipped, KindFirewall, "k8s-fw-" + otherLB, "not provably this cluster's"},
		},
	}, {
		name: "named like a load balancer of a live Service but describing another one, and no marker at all",
		change: func(inv *Inventory) {
			inv.Services = append(inv.Services, service("web", svcUID, v1.ServiceTypeClusterIP))
			inv.TargetPools = append(inv.TargetPools, &computepb.TargetPool{Name: ptr(lb), Description: svcDesc("default/impostor")})
			inv.Addresses = append(inv.Addresses, &computepb.Address{Name: ptr(otherLB), Description: ptr("reserved by hand")})
		},
		want: []brief{
			{Skipped, KindAddress, otherLB, "does not name a Service"},
			{Skipped, KindTargetPool, lb, "does not name Service default/web"},
		},
	}, {
		name: "the shared health check still used by a pool that is not provably ours",
		change: func(inv *Inventory) {
			sharedHC(inv, id)
			inv.TargetPools = append(inv.TargetPools, &computepb.TargetPool{Name: ptr(otherLB), Description: svcDesc("default/x"),
				HealthChecks: []string{gce.SelfLinkPrefix + "projects/p1/global/httpHealthChecks/k8s-" + id + "-node"},
				Instances:    []string{vmLink("x")}})
			inv.ClusterID = id
		},
		want: []brief{
			{Leaked, KindTargetPool, otherLB, "uses this cluster's health check"},
			{Leaked, KindHTTPHealthCheck, "k8s-" + id + "-node", "nothing the cluster accounts for uses it"},
			{Leaked, KindFirewall, "k8s-" + id + "-node-http-hc", "shared node health check firewall; nothing"},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inv := baseInventory()
			tc.change(inv)
			got := Classify(inv)
			if diff := cmp.Diff(tc.want, briefs(got, tc.want)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassifyMissingRoutes(t *testing.T) {
	t.Parallel()
	inv := baseInventory()
	inv.CheckRoutes = true
	inv.Nodes = append(inv.Nodes, node("node-1", otherUID, "10.64.1.0/24"))
	v := vm("node-1")
	v.CanIpForward = ptr(false)
	inv.Instances = append(inv.Instances, v)
	inv.Routes = append(inv.Routes, route("audit-"+nodeUID, "10.64.0.0/24", "node-0"))
	want := []brief{{Missing, KindRoute, "audit-" + otherUID, "canIpForward=false"}}
	if diff := cmp.Diff(want, briefs(Classify(inv), want)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// fakeCompute records deletes and answers them from errs.
type fakeCompute struct {
	Compute
	mu    sync.Mutex
	calls []string
	errs  map[string]error
}

func (f *fakeCompute) del(kind string) func(context.Context, string) error {
	return func(_ context.Context, name string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, kind+" "+name)
		return f.errs[kind+" "+name]
	}
}

func (f *fakeCompute) DeleteRoute(ctx context.Context, n string) error { return f.del("route")(ctx, n) }
func (f *fakeCompute) DeleteAddress(ctx context.Context, n string) error {
	return f.del("address")(ctx, n)
}
func (f *fakeCompute) DeleteForwardingRule(ctx context.Context, n string) error {
	return f.del("forwardingRule")(ctx, n)
}
func (f *fakeCompute) DeleteTargetPool(ctx context.Context, n string) error {
	return f.del("targetPool")(ctx, n)
}
func (f *fakeCompute) DeleteFirewall(ctx context.Context, n string) error {
	return f.del("firewall")(ctx, n)
}
func (f *fakeCompute) DeleteHTTPHealthCheck(ctx context.Context, n string) error {
	return f.del("httpHealthCheck")(ctx, n)
}
func (f *fakeCompute) DeleteInstanceGroup(ctx context.Context, zone, n string) error {
	return f.del("instanceGroup")(ctx, zone+"/"+n)
}
func (f *fakeCompute) DeleteRegionBackendService(ctx context.Context, n string) error {
	return f.del("backendService")(ctx, n)
}

func TestDelete(t *testing.T) {
	t.Parallel()
	leak := func(kind Kind, name string) Finding { return Finding{Status: Leaked, Kind: kind, Name: name} }
	fs := []Finding{
		leak(KindFirewall, "k8s-c1-node-http-hc"),
		leak(KindHTTPHealthCheck, "k8s-c1-node"),
		leak(KindTargetPool, "a1"),
		leak(KindForwardingRule, "a1"),
		leak(KindAddress, "a1"),
		leak(KindRoute, "r1"),
		leak(KindRoute, "r2"),
		leak(KindFirewall, "k8s-fw-a1"),
		{Status: Leaked, Kind: KindInstanceGroup, Name: "k8s-ig--c1", Zone: "z1"},
		leak(KindBackendService, "a2"),
		{Status: Skipped, Kind: KindAddress, Name: "mine"},
		{Status: Missing, Kind: KindFirewall, Name: "k8s-fw-a2"},
	}
	again := slices.Clone(fs[:6]) // r2 and k8s-fw-a1 are no longer leaked
	again = append(again, fs[8], fs[9])
	again = append(again, Finding{Status: Skipped, Kind: KindFirewall, Name: "k8s-fw-a1"})
	inUse := &googleapi.Error{Code: 400, Errors: []googleapi.ErrorItem{{Reason: "resourceInUseByAnotherResource"}}}
	api := &fakeCompute{errs: map[string]error{
		"httpHealthCheck k8s-c1-node": inUse,
		"address a1":                  &googleapi.Error{Code: 404, Errors: []googleapi.ErrorItem{{Reason: "notFound"}}},
	}}
	got := Delete(t.Context(), api, fs, again)
	results := map[string]string{}
	for _, f := range got {
		results[string(f.Kind)+" "+f.Name] = f.Result
	}
	want := map[string]string{
		"firewall k8s-c1-node-http-hc": "kept: its health check k8s-c1-node was not deleted",
		"httpHealthCheck k8s-c1-node":  "kept: still in use: " + inUse.Error(),
		"targetPool a1":                ResultDeleted,
		"forwardingRule a1":            ResultDeleted,
		"address a1":                   ResultGone,
		"route r1":                     ResultDeleted,
		"route r2":                     resultResolved,
		"firewall k8s-fw-a1":           resultResolved,
		"instanceGroup k8s-ig--c1":     ResultDeleted,
		"backendService a2":            ResultDeleted,
		"address mine":                 "",
		"firewall k8s-fw-a2":           "",
	}
	if diff := cmp.Diff(want, results); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	order := map[string]int{}
	for i, c := range api.calls {
		order[c] = i
	}
	if order["forwardingRule a1"] > order["targetPool a1"] || order["targetPool a1"] > order["httpHealthCheck k8s-c1-node"] {
		t.Errorf("deletes out of dependency order: %v", api.calls)
	}
	if len(api.calls) != 7 || !slices.Contains(api.calls, "instanceGroup z1/k8s-ig--c1") {
		t.Errorf("deletes %v, want the rule, the address, the pool, the route r1, the health check, the backend service and the group in its zone", api.calls)
	}
	if order["backendService a2"] > order["instanceGroup z1/k8s-ig--c1"] {
		t.Errorf("instance group deleted before the backend service: %v", api.calls)
	}
	if code := exitCode(got); code != ExitError && code != ExitFound {
		t.Errorf("exit code %d with a leak kept in use", code)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fs   []Finding
		want int
	}{
		{"nothing", nil, ExitClean},
		{"only skipped", []Finding{{Status: Skipped}}, ExitClean},
		{"a leak reported", []Finding{{Status: Leaked}}, ExitFound},
		{"a missing resource", []Finding{{Status: Missing}}, ExitFound},
		{"a leak deleted", []Finding{{Status: Leaked, Result: ResultDeleted}}, ExitClean},
		{"a leak gone meanwhile", []Finding{{Status: Leaked, Result: resultResolved}}, ExitClean},
		{"a leak declined", Decline([]Finding{{Status: Leaked}}), ExitFound},
		{"a deletion failed", []Finding{{Status: Leaked, Result: resultFailed + "boom"}, {Status: Missing}}, ExitError},
	} {
		if got := exitCode(tc.fs); got != tc.want {
			t.Errorf("%s: exit code %d, want %d", tc.name, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
