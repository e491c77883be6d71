package loadbalancer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// services records what the Balancer writes on Services: conditions,
// finalizers, status and events, on the Service objects themselves.
type services struct {
	mu     sync.Mutex
	events []string // "type reason: message"
}

func (s *services) SetServiceCondition(_ context.Context, svc *v1.Service, cond metav1.Condition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc.Status.Conditions = slices.DeleteFunc(svc.Status.Conditions, func(c metav1.Condition) bool { return c.Type == cond.Type })
	svc.Status.Conditions = append(svc.Status.Conditions, cond)
	return nil
}

func (s *services) RemoveServiceCondition(_ context.Context, svc *v1.Service, condType string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc.Status.Conditions = slices.DeleteFunc(svc.Status.Conditions, func(c metav1.Condition) bool { return c.Type == condType })
	return nil
}

func (s *services) AddFinalizer(_ context.Context, svc *v1.Service, f string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(svc.Finalizers, f) {
		svc.Finalizers = append(svc.Finalizers, f)
	}
	return nil
}

func (s *services) RemoveFinalizer(_ context.Context, svc *v1.Service, f string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc.Finalizers = slices.DeleteFunc(svc.Finalizers, func(x string) bool { return x == f })
	return nil
}

func (s *services) ClearLoadBalancerStatus(_ context.Context, svc *v1.Service) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc.Status.LoadBalancer = v1.LoadBalancerStatus{}
	return nil
}

func (s *services) Eventf(_ runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, eventtype+" "+reason+": "+fmt.Sprintf(messageFmt, args...))
}

func (s *services) eventsOf(reason string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		if strings.Contains(e, " "+reason+": ") {
			out = append(out, e)
		}
	}
	return out
}

// withServices makes the Balancer write to a recorder, returned through rec.
func withServices(rec **services) envOption {
	s := &services{}
	*rec = s
	return withOptions(func(o *loadbalancer.Options) { o.Status, o.Events = s, s })
}

func condition(svc *v1.Service) *metav1.Condition {
	for i := range svc.Status.Conditions {
		if svc.Status.Conditions[i].Type == loadbalancer.ConditionSynced {
			return &svc.Status.Conditions[i]
		}
	}
	return nil
}

// Every way to ask for an internal load balancer gets one, with an IP of
// the subnetwork and nothing public; an external Service that becomes
// internal loses its external load balancer first, and an event says so.
func TestInternalServiceGetsInternalLoadBalancer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*v1.Service)
	}{
		{"annotation", func(s *v1.Service) { s.Annotations = map[string]string{loadbalancer.TypeAnnotation: "Internal"} }},
		{"deprecated annotation", func(s *v1.Service) {
			s.Annotations = map[string]string{loadbalancer.DeprecatedTypeAnnotation: "Internal"}
		}},
		{"deprecated annotation lowercase", func(s *v1.Service) {
			s.Annotations = map[string]string{loadbalancer.DeprecatedTypeAnnotation: "internal"}
		}},
		{"legacy internal class", func(s *v1.Service) { s.Spec.LoadBalancerClass = ptr(loadbalancer.ClassInternalLegacy) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rec *services
			e := setup(t, withServices(&rec))

			svc := service("db", tc.mutate)
			ip := e.ensure(svc)
			if !inSubnet(ip) {
				t.Errorf("IP = %s, want one of the subnetwork %s", ip, subnetCIDR)
			}
			e.expectInternalOnly(svc, ip)
			if !slices.Contains(svc.Finalizers, loadbalancer.ILBFinalizer) || slices.Contains(svc.Finalizers, loadbalancer.NetLBFinalizer) {
				t.Errorf("finalizers = %v, want %s only", svc.Finalizers, loadbalancer.ILBFinalizer)
			}
			if c := condition(svc); c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("condition = %+v, want True", c)
			}

			// An external Service that becomes internal loses its public
			// load balancer, and an event says so.
			ext := service("api")
			extIP := e.ensure(ext)
			ext.Status.LoadBalancer = v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: extIP}}}
			tc.mutate(ext)
			ip = e.ensure(ext)
			if ip == extIP || !inSubnet(ip) {
				t.Errorf("IP after the change = %s, want an internal one (the external one was %s)", ip, extIP)
			}
			e.expectInternalOnly(ext, ip)
			if ev := rec.eventsOf("ExternalLoadBalancerDeleted"); len(ev) != 1 {
				t.Errorf("events = %v, want one ExternalLoadBalancerDeleted", rec.events)
			}
			if slices.Contains(ext.Finalizers, loadbalancer.NetLBFinalizer) || !slices.Contains(ext.Finalizers, loadbalancer.ILBFinalizer) {
				t.Errorf("finalizers %v; want %s and not %s", ext.Finalizers, loadbalancer.ILBFinalizer, loadbalancer.NetLBFinalizer)
			}
			if err := e.lb.UpdateLoadBalancer(e.ctx, cluster, ext, e.nodes); err != nil {
				t.Errorf("UpdateLoadBalancer = %v, want nil", err)
			}
		})
	}
}

// A forwarding rule of another kind of load balancer with the Service's
// name is never taken for ours by the external load balancer: a Service
// without the internal finalizer (so not known to have had an internal
// load balancer) that is not internal gets an error and no write. Deleting
// the Service deletes the internal load balancer it owns.
func TestForeignSchemeRulesAreNotOurs(t *testing.T) {
	t.Parallel()
	var rec *services
	e := setup(t, withServices(&rec))
	svc := service("db", func(s *v1.Service) { s.Annotations = map[string]string{loadbalancer.TypeAnnotation: "Internal"} })
	e.ensure(svc)
	svc.Annotations, svc.Finalizers = nil, nil
	if st, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc); err != nil || !exists || len(st.Ingress) != 1 {
		t.Errorf("GetLoadBalancer = %+v, %v, %v; want the internal load balancer", st, exists, err)
	}
	e.fake.ResetCalls()
	if _, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes); err == nil || !strings.Contains(err.Error(), "INTERNAL") {
		t.Errorf("EnsureLoadBalancer of an external Service over an internal rule = %v, want an error naming it", err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
	e.delete(svc)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

// A Service migrating from the long-standing provider carries its
// finalizer; deleting the load balancer removes it, or the Service stays
// Terminating for ever.
func TestDeleteRemovesUpstreamFinalizer(t *testing.T) {
	t.Parallel()
	var rec *services
	e := setup(t, withServices(&rec))
	svc := service("web", func(s *v1.Service) {
		s.Finalizers = []string{"service.kubernetes.io/load-balancer-cleanup", loadbalancer.NetLBFinalizer}
	})
	legacy(t, e, svc, false)
	e.delete(svc)
	if diff := cmp.Diff([]string{"service.kubernetes.io/load-balancer-cleanup"}, svc.Finalizers); diff != "" {
		t.Errorf("finalizers (-want +got):\n%s", diff)
	}
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

func TestOtherControllersServicesAreLeftAlone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		mutate    func(*v1.Service)
		wantEvent bool
	}{
		{"backend service NetLB annotation", func(s *v1.Service) { s.Annotations = map[string]string{loadbalancer.RBSAnnotation: "enabled"} }, true},
		{"backend service NetLB finalizer", func(s *v1.Service) { s.Finalizers = []string{"gke.networking.io/l4-netlb-v2"} }, true},
		{"foreign class", func(s *v1.Service) { s.Spec.LoadBalancerClass = ptr("example.com/lb") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rec *services
			e := setup(t, withServices(&rec))
			svc := service("web", tc.mutate)
			e.fake.ResetCalls()
			if _, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes); err != cloudprovider.ImplementedElsewhere {
				t.Errorf("EnsureLoadBalancer = %v, want ImplementedElsewhere", err)
			}
			if err := e.lb.UpdateLoadBalancer(e.ctx, cluster, svc, e.nodes); err != cloudprovider.ImplementedElsewhere {
				t.Errorf("UpdateLoadBalancer = %v, want ImplementedElsewhere", err)
			}
			if w := e.writes(); len(w) != 0 {
				t.Errorf("writes = %v, want none", w)
			}
			if got := len(rec.eventsOf("LoadBalancerManagedElsewhere")) > 0; got != tc.wantEvent {
				t.Errorf("events = %v, want an event: %v", rec.events, tc.wantEvent)
			}
		})
	}
}

// The legacy external class is the long-standing provider's own class for
// what gce-ccm builds, and a type annotation of External is the default.
func TestLegacyExternalClassAndExplicitExternal(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for i, mutate := range []func(*v1.Service){
		func(s *v1.Service) { s.Spec.LoadBalancerClass = ptr(loadbalancer.ClassExternalLegacy) },
		func(s *v1.Service) { s.Annotations = map[string]string{loadbalancer.TypeAnnotation: "External"} },
	} {
		svc := service(fmt.Sprintf("web-%d", i), mutate)
		e.ensure(svc)
	}
	// An unknown type is an error with nothing written: it could be a typo
	// of Internal.
	svc := service("typo", func(s *v1.Service) { s.Annotations = map[string]string{loadbalancer.TypeAnnotation: "Intrenal"} })
	e.fake.ResetCalls()
	_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes)
	var input *loadbalancer.InputError
	if !errors.As(err, &input) || input.Value != "Intrenal" {
		t.Errorf("EnsureLoadBalancer = %v, want an InputError on the annotation", err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
}

// One node whose VM is gone (or elsewhere) must not stop every load
// balancer: it is left out with an event; only no usable node at all fails.
func TestNodesWithoutUsableVMAreSkipped(t *testing.T) {
	t.Parallel()
	var rec *services
	e := setup(t, withServices(&rec))
	gone := node("gone", true)
	far := node("far", false)
	far.Spec.ProviderID = "gce://" + project + "/europe-west1-b/far"
	nodes := append(slices.Clone(e.nodes), gone, far)
	svc := service("web")
	st, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, nodes)
	if err != nil || len(st.Ingress) != 1 {
		t.Fatalf("EnsureLoadBalancer with a missing and a foreign node = %+v, %v; want the load balancer", st, err)
	}
	tp := e.fake.Dump().TargetPools[0]
	if len(tp.Instances) != len(e.nodes) {
		t.Errorf("pool members = %v, want the %d usable VMs", tp.Instances, len(e.nodes))
	}
	ev := rec.eventsOf("NodesSkipped")
	if len(ev) != 1 || !strings.Contains(ev[0], "node gone: its VM does not exist") || !strings.Contains(ev[0], "node far: its VM is in zone europe-west1-b") {
		t.Errorf("events = %v, want one NodesSkipped naming both nodes", rec.events)
	}
	if err := e.lb.UpdateLoadBalancer(e.ctx, cluster, svc, nodes); err != nil {
		t.Errorf("UpdateLoadBalancer = %v", err)
	}
	if _, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, service("none"), []*v1.Node{gone, far}); err == nil || !strings.Contains(err.Error(), "no node has a usable VM") {
		t.Errorf("EnsureLoadBalancer with no usable node = %v, want an error", err)
	}
}

// A project's static address quota is small: load balancers keep their IPs
// as the forwarding rules' own, so more Services than the quota all get
// one, and a Service never loses its IP.
func TestStaticAddressQuota(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if err := e.fake.SetQuota(fakecompute.QuotaAddresses, 3); err != nil {
		t.Fatal(err)
	}
	// A user's own reservation counts against the quota and is never
	// released.
	if err := e.cloud.InsertAddress(e.ctx, &computepb.Address{Name: ptr("user-ip")}); err != nil {
		t.Fatal(err)
	}
	user, err := e.cloud.GetAddress(e.ctx, "user-ip")
	if err != nil {
		t.Fatal(err)
	}
	ips := map[string]string{}
	for i := range 10 {
		svc := service(fmt.Sprintf("svc-%d", i))
		if i == 0 {
			svc.Spec.LoadBalancerIP = user.GetAddress()
		}
		ip := e.ensure(svc)
		if other, dup := ips[ip]; dup {
			t.Fatalf("%s got %s, already %s's", svc.Name, ip, other)
		}
		ips[ip] = svc.Name
		// A change that recreates the rule keeps the IP.
		svc.Spec.Ports[0].Port = 8080
		if got := e.ensure(svc); got != ip {
			t.Fatalf("%s: IP after a port change = %s, want %s", svc.Name, got, ip)
		}
	}
	d := e.fake.Dump()
	if len(d.Addresses) != 1 || d.Addresses[0].Name != "user-ip" || d.Addresses[0].Description != "" {
		t.Errorf("addresses = %+v, want only the user's, untouched", d.Addresses)
	}
	if len(d.ForwardingRules) != 10 {
		t.Errorf("forwarding rules = %d, want 10", len(d.ForwardingRules))
	}
}

// In a Shared VPC the cluster's account often may not write the host
// project's firewalls: the Service gets the gcloud command an admin must
// run, and the rest of the load balancer is built.
func TestSharedVPCFirewallForbidden(t *testing.T) {
	t.Parallel()
	var rec *services
	// The firewalls' project differs from the cluster's; the fake's 403
	// stands for the host project's refusal.
	e := setup(t, withServices(&rec), withOptions(func(o *loadbalancer.Options) { o.NetworkProject = "host-project" }))
	if err := e.fake.InjectFault(fakecompute.Fault{Method: "firewalls.insert", Count: 100, Code: 403, Reason: "forbidden",
		Message: "Required 'compute.firewalls.create' permission"}); err != nil {
		t.Fatal(err)
	}
	svc := service("web")
	ip := e.ensure(svc)
	d := e.fake.Dump()
	if len(d.ForwardingRules) != 1 || len(d.TargetPools) != 1 || len(d.Firewalls) != 0 {
		t.Errorf("rules %d, pools %d, firewalls %d; want the load balancer without its firewalls", len(d.ForwardingRules), len(d.TargetPools), len(d.Firewalls))
	}
	ev := rec.eventsOf(loadbalancer.ReasonManualChange)
	want := "Normal LoadBalancerManualChange: Firewall change required by security admin: `gcloud compute firewall-rules create k8s-fw-" + lbName(svc) +
		" --network default --description \"{\\\"kubernetes.io/service-name\\\":\\\"default/web\\\", \\\"kubernetes.io/service-ip\\\":\\\"" + ip +
		"\\\"}\" --allow tcp:80 --source-ranges 0.0.0.0/0 --target-tags " + nodeTag + " --destination-ranges " + ip + " --priority 1000 --project host-project`"
	if !slices.Contains(ev, want) {
		t.Errorf("events:\n%s\nwant among them:\n%s", strings.Join(ev, "\n"), want)
	}
	// Deletion is not blocked either.
	if err := e.fake.InjectFault(fakecompute.Fault{Method: "firewalls.delete", Count: 100, Code: 403, Reason: "forbidden"}); err != nil {
		t.Fatal(err)
	}
	e.delete(svc)
}

// Firewall changes are patches: what an admin set that gce-ccm does not
// model (logging) stays, and a drifted priority is put back.
func TestFirewallPatchKeepsAdminSettings(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web")
	e.ensure(svc)
	name := "k8s-fw-" + lbName(svc)
	fw, err := e.cloud.GetFirewall(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	fw.LogConfig = &computepb.FirewallLogConfig{Enable: ptr(true)}
	fw.Priority = ptr(int32(900))
	if err := e.cloud.UpdateFirewall(e.ctx, fw); err != nil {
		t.Fatal(err)
	}
	svc.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24"}
	e.fake.ResetCalls()
	e.ensure(svc)
	if diff := cmp.Diff(map[string]int{"firewalls.patch": 1}, e.writes(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	got, err := e.cloud.GetFirewall(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !got.GetLogConfig().GetEnable() || got.GetPriority() != 1000 || !slices.Equal(got.GetSourceRanges(), []string{"203.0.113.0/24"}) {
		t.Errorf("firewall = logging %v, priority %d, sources %v; want logging kept, priority 1000, the new range",
			got.GetLogConfig().GetEnable(), got.GetPriority(), got.GetSourceRanges())
	}
}

// The health check prober ranges can be replaced, as upstream's
// --cloud-provider-gce-lb-src-cidrs does.
func TestProberRangesOverride(t *testing.T) {
	t.Parallel()
	e := setup(t, withOptions(func(o *loadbalancer.Options) { o.ProberRanges = []string{"10.9.0.0/16"} }))
	e.ensure(service("web"))
	fw, err := e.cloud.GetFirewall(e.ctx, nodesHFW)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fw.GetSourceRanges(), []string{"10.9.0.0/16"}) {
		t.Errorf("shared health check firewall sources = %v, want the configured range", fw.GetSourceRanges())
	}
}

// GCE allows one health check per target pool, and a pool without one sends
// traffic to every VM, ready or not. A change of health check (the traffic
// policy) builds a new pool with the new check and moves the rule to it;
// no pool ever loses its check.
func TestHealthCheckChangeNeverLeavesPoolWithout(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web")
	ip := e.ensure(svc)
	for _, policy := range []v1.ServiceExternalTrafficPolicy{v1.ServiceExternalTrafficPolicyLocal, v1.ServiceExternalTrafficPolicyCluster} {
		svc.Spec.ExternalTrafficPolicy, svc.Spec.HealthCheckNodePort = policy, 0
		if policy == v1.ServiceExternalTrafficPolicyLocal {
			svc.Spec.HealthCheckNodePort = 31000
		}
		e.fake.ResetCalls()
		if got := e.ensure(svc); got != ip {
			t.Fatalf("%s: IP = %s, want %s", policy, got, ip)
		}
		w := e.writes()
		if w["targetPools.removeHealthCheck"] != 0 || w["targetPools.insert"] != 1 || w["forwardingRules.setTarget"] != 1 {
			t.Errorf("%s: writes = %v, want a new pool and the rule moved to it, no check removed from a pool", policy, w)
		}
		d := e.fake.Dump()
		if len(d.TargetPools) != 1 || len(d.TargetPools[0].HealthChecks) != 1 {
			t.Errorf("%s: pools = %+v, want one with one check", policy, d.TargetPools)
		}
		e.expectNoWrites(svc, ip)
	}
}

// With the deny firewall, a broad allow rule elsewhere in the network cannot
// expose other ports of the nodes on the load balancer's IP: the allow rules
// go to 999, a deny-all rule at 1000 follows them; turned off, the deny rule
// goes first and the allow rules return to 1000.
func TestDenyFirewall(t *testing.T) {
	t.Parallel()
	e := setup(t)
	withDeny := loadbalancer.New(e.cloud, loadbalancer.Options{Project: project, Region: region, NetworkURL: netURL,
		NodeTags: []string{nodeTag}, ClusterID: loadbalancer.StaticClusterID(clusterID), DenyFirewall: true})
	svc := service("web", func(s *v1.Service) {
		s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 31000
	})
	other := service("other")
	lb := lbName(svc)
	priorities := func() map[string]int64 {
		out := map[string]int64{}
		for _, f := range e.fake.Dump().Firewalls {
			out[f.Name] = f.Priority
		}
		return out
	}

	st, err := withDeny.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes)
	if err != nil {
		t.Fatal(err)
	}
	ip := st.Ingress[0].IP
	if _, err := withDeny.EnsureLoadBalancer(e.ctx, cluster, other, e.nodes); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"k8s-fw-" + lb: 999, "k8s-" + lb + "-http-hc": 999, "k8s-fw-" + lb + "-deny": 1000,
		"k8s-fw-" + lbName(other): 999, "k8s-fw-" + lbName(other) + "-deny": 1000, nodesHFW: 999}
	if diff := cmp.Diff(want, priorities()); diff != "" {
		t.Errorf("firewall priorities with the deny firewall (-want +got):\n%s", diff)
	}
	deny, err := e.cloud.GetFirewall(e.ctx, "k8s-fw-"+lb+"-deny")
	if err != nil {
		t.Fatal(err)
	}
	if len(deny.GetDenied()) != 1 || deny.GetDenied()[0].GetIPProtocol() != "all" || len(deny.GetAllowed()) != 0 ||
		!slices.Equal(deny.GetDestinationRanges(), []string{ip}) || !slices.Equal(deny.GetSourceRanges(), []string{"0.0.0.0/0"}) ||
		!slices.Equal(deny.GetTargetTags(), []string{nodeTag}) {
		t.Errorf("deny firewall = %v", deny)
	}
	// withDeny's own address releases run in the background (e.writes
	// waits only for e.lb's): they are the first syncs' writes.
	loadbalancer.WaitForReleases(withDeny)
	e.fake.ResetCalls()
	if _, err := withDeny.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes); err != nil {
		t.Fatal(err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("a converged load balancer with the deny firewall wrote %v", w)
	}

	// Turned off: the deny rule goes, the allow rules return to 1000.
	e.ensure(svc)
	e.ensure(other)
	want = map[string]int64{"k8s-fw-" + lb: 1000, "k8s-" + lb + "-http-hc": 1000, "k8s-fw-" + lbName(other): 1000, nodesHFW: 1000}
	if diff := cmp.Diff(want, priorities()); diff != "" {
		t.Errorf("firewall priorities after turning the deny firewall off (-want +got):\n%s", diff)
	}

	// Deletion takes the deny rule with it.
	if _, err := withDeny.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes); err != nil {
		t.Fatal(err)
	}
	if err := withDeny.EnsureLoadBalancerDeleted(e.ctx, cluster, svc); err != nil {
		t.Fatal(err)
	}
	e.delete(other)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

// The legacy classes reach gce-ccm through a second service controller over
// LegacyClassView: each gets its kind of load balancer,
// every other Service hidden from that controller.
func TestLegacyClassView(t *testing.T) {
	t.Parallel()
	view := func(svc *v1.Service) *v1.Service {
		t.Helper()
		out, err := loadbalancer.LegacyClassView(svc)
		if err != nil {
			t.Fatal(err)
		}
		return out.(*v1.Service)
	}
	var rec *services
	e := setup(t, withServices(&rec))
	finalizers := []string{"service.kubernetes.io/load-balancer-cleanup"}

	ext := service("ext", func(s *v1.Service) {
		s.Spec.LoadBalancerClass, s.Finalizers = ptr(loadbalancer.ClassExternalLegacy), finalizers
	})
	v := view(ext)
	if v.Spec.LoadBalancerClass != nil || v.Spec.Type != v1.ServiceTypeLoadBalancer || !slices.Equal(v.Finalizers, finalizers) {
		t.Errorf("view of the external class = class %v, type %s, finalizers %v; want no class, a LoadBalancer, the finalizers", v.Spec.LoadBalancerClass, v.Spec.Type, v.Finalizers)
	}
	if ext.Spec.LoadBalancerClass == nil || len(ext.Annotations) != 0 {
		t.Error("the view changed the informer's object")
	}
	e.ensure(v)

	in := view(service("in", func(s *v1.Service) { s.Spec.LoadBalancerClass = ptr(loadbalancer.ClassInternalLegacy) }))
	if ip := e.ensure(in); !inSubnet(ip) {
		t.Errorf("IP of the internal class's view = %s, want an internal one", ip)
	}

	for _, other := range []*v1.Service{
		service("plain", func(s *v1.Service) { s.Finalizers = finalizers }),
		service("foreign", func(s *v1.Service) { s.Spec.LoadBalancerClass, s.Finalizers = ptr("example.com/lb"), finalizers }),
	} {
		if v := view(other); v.Spec.Type != v1.ServiceTypeClusterIP || len(v.Finalizers) != 0 {
			t.Errorf("view of %s = type %s, finalizers %v; want it hidden (ClusterIP, no finalizers)", other.Name, v.Spec.Type, v.Finalizers)
		}
	}
}

// A delete interrupted after the target pool leaves an
// externalTrafficPolicy Local Service's health check and its firewall; a
// Service without the finalizer (made before gce-ccm added it) must still
// be reported as having a load balancer, or they leak.
func TestGetLoadBalancerFindsLeftoverLocalHealthCheck(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web", func(s *v1.Service) {
		s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 31000
	})
	e.ensure(svc)
	lb := lbName(svc)
	for _, del := range []func() error{
		func() error { return e.cloud.DeleteFirewall(e.ctx, "k8s-fw-"+lb) },
		func() error { return e.cloud.DeleteForwardingRule(e.ctx, lb) },
		func() error { return e.cloud.DeleteTargetPool(e.ctx, lb) },
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	svc.Finalizers = nil
	if _, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc); err != nil || !exists {
		t.Fatalf("GetLoadBalancer with the health check and its firewall left = %v, %v; want it to exist", exists, err)
	}
	e.delete(svc)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

// Whatever else a Service says, an Internal type annotation gets it an
// internal load balancer and nothing public: not with the external legacy
// class (where the long-standing provider let the class win), nor with the
// class as LegacyClassView carries it.
func TestInternalAnnotationWinsOverExternalClass(t *testing.T) {
	t.Parallel()
	e := setup(t)
	internal := map[string]string{loadbalancer.TypeAnnotation: "Internal"}
	for _, svc := range []*v1.Service{
		service("class", func(s *v1.Service) {
			s.Spec.LoadBalancerClass, s.Annotations = ptr(loadbalancer.ClassExternalLegacy), internal
		}),
		service("view", func(s *v1.Service) {
			s.Annotations = map[string]string{loadbalancer.TypeAnnotation: "Internal", "gce-ccm.internal/load-balancer-class": loadbalancer.ClassExternalLegacy}
		}),
	} {
		ip := e.ensure(svc)
		e.expectInternalOnly(svc, ip)
	}
}
