package loadbalancer_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// onlyWrites fails unless every write of the last sync is one of methods.
func (e *env) onlyWrites(step string, methods ...string) {
	e.t.Helper()
	for m := range e.writes() {
		if !slices.Contains(methods, m) {
			e.t.Errorf("%s: wrote %v, want only %v", step, e.writes(), methods)
			return
		}
	}
}

// Each change converges in place where GCE allows it, and the IP stays;
// a sync after each writes nothing.
func TestInternalChangesConverge(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := internalService("db")
	ip := e.ensure(svc)
	lb := lbName(svc)
	for _, step := range []struct {
		name   string
		change func(*v1.Service)
		check  func() string
		writes []string // nil: not checked
	}{
		{"second port", func(s *v1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: "tls", Protocol: v1.ProtocolTCP, Port: 443})
		},
			func() string {
				if p := e.rule(lb).GetPorts(); !slices.Equal(p, []string{"443", "80"}) && !slices.Equal(p, []string{"80", "443"}) {
					return fmt.Sprintf("ports %v", p)
				}
				return ""
			}, nil},
		{"six ports: all ports", func(s *v1.Service) {
			for p := int32(1); p <= 4; p++ {
				s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: fmt.Sprint("p", p), Protocol: v1.ProtocolTCP, Port: 8000 + p})
			}
		}, func() string {
			if fr := e.rule(lb); !fr.GetAllPorts() || len(fr.GetPorts()) != 0 {
				return fmt.Sprintf("rule %v, want all ports", fr)
			}
			return ""
		}, nil},
		{"affinity", func(s *v1.Service) { s.Spec.SessionAffinity = v1.ServiceAffinityClientIP }, func() string {
			if a := e.backendService(lb).GetSessionAffinity(); a != "CLIENT_IP" {
				return "affinity " + a
			}
			return ""
		}, []string{"regionBackendServices.patch"}},
		{"source ranges", func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} }, func() string {
			if r := e.firewall("k8s-fw-" + lb).GetSourceRanges(); !slices.Equal(r, []string{"10.0.0.0/8"}) {
				return fmt.Sprintf("source ranges %v", r)
			}
			return ""
		}, []string{"firewalls.patch"}},
		{"global access", func(s *v1.Service) { s.Annotations[loadbalancer.GlobalAccessAnnotation] = "true" }, func() string {
			if !e.rule(lb).GetAllowGlobalAccess() {
				return "no global access"
			}
			return ""
		}, []string{"forwardingRules.patch"}},
		{"Local traffic", func(s *v1.Service) {
			s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 31000
		}, func() string {
			bs := e.backendService(lb)
			if hc := e.healthCheck(lb); hc == nil || hc.GetHttpHealthCheck().GetPort() != 31000 || lastSegment(bs.GetHealthChecks()[0]) != lb {
				return fmt.Sprintf("health check %v, backend service's %v", hc, bs.GetHealthChecks())
			}
			if e.firewall(lb+"-hc") == nil || e.healthCheck(nodesHC) != nil || e.firewall(nodesHCFW) != nil {
				return "want the Service's health check firewall, and the shared check and its firewall gone"
			}
			return ""
		}, nil},
		{"Cluster traffic again", func(s *v1.Service) { s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster }, func() string {
			if e.healthCheck(lb) != nil || e.firewall(lb+"-hc") != nil || e.healthCheck(nodesHC) == nil || e.firewall(nodesHCFW) == nil {
				return "want the shared health check back and the Service's own gone"
			}
			return ""
		}, nil},
		{"backend share", func(s *v1.Service) { s.Annotations[loadbalancer.BackendShareAnnotation] = "true" }, func() string {
			if bs := lastSegment(e.rule(lb).GetBackendService()); !strings.HasPrefix(bs, "k8s-"+clusterID+"-internal-tcp-nmv1-") || e.backendService(lb) != nil {
				return "rule's backend service " + bs + ", want the shared one and the Service's own gone"
			}
			return ""
		}, nil},
		{"UDP", func(s *v1.Service) {
			for i := range s.Spec.Ports {
				s.Spec.Ports[i].Protocol = v1.ProtocolUDP
			}
		}, func() string {
			fr := e.rule(lb)
			if bs := lastSegment(fr.GetBackendService()); fr.GetIPProtocol() != "UDP" || !strings.HasPrefix(bs, "k8s-"+clusterID+"-internal-udp-nmv1-") {
				return fmt.Sprintf("rule %v", fr)
			}
			if n := e.names()["backendServices"]; len(n) != 1 {
				return fmt.Sprintf("backend services %v, want the UDP one only", n)
			}
			return ""
		}, nil},
	} {
		step.change(svc)
		e.fake.ResetCalls()
		if got := e.ensure(svc); got != ip {
			t.Fatalf("%s: IP = %s, want %s kept", step.name, got, ip)
		}
		if step.writes != nil {
			e.onlyWrites(step.name, step.writes...)
		}
		if msg := step.check(); msg != "" {
			t.Errorf("%s: %s", step.name, msg)
		}
		e.expectNoWrites(svc, ip)
	}
	e.delete(svc)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

// spec.loadBalancerIP: a free IP of the subnetwork is taken as the rule's;
// a user's reserved address is used and never released.
func TestInternalUserIP(t *testing.T) {
	t.Parallel()
	e := setup(t)
	free := internalService("free", func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.128.7.7" })
	if ip := e.ensure(free); ip != "10.128.7.7" {
		t.Errorf("IP = %s, want the requested one", ip)
	}
	if err := e.cloud.InsertAddress(e.ctx, &computepb.Address{Name: ptr("mine"), AddressType: ptr("INTERNAL"), Address: ptr("10.128.8.8"),
		Subnetwork: ptr(subnetURL)}); err != nil {
		t.Fatal(err)
	}
	reserved := internalService("reserved", func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.128.8.8" })
	if ip := e.ensure(reserved); ip != "10.128.8.8" {
		t.Errorf("IP = %s, want the reserved one", ip)
	}
	e.expectNoWrites(reserved, "10.128.8.8")
	e.delete(free)
	e.delete(reserved)
	if n := e.names(); !slices.Equal(n["addresses"], []string{"mine"}) || len(n) != 1 {
		t.Errorf("left %v, want the user's address only", n)
	}
}

// Services with the backend-share annotation share a backend service,
// which goes with the last of them; the instance groups and the shared
// health check go with the last internal load balancer.
func TestInternalSharedBackendService(t *testing.T) {
	t.Parallel()
	e := setup(t)
	share := func(s *v1.Service) { s.Annotations[loadbalancer.BackendShareAnnotation] = "true" }
	a, b, c := internalService("a", share), internalService("b", share), internalService("c")
	for _, s := range []*v1.Service{a, b, c} {
		e.ensure(s)
	}
	bsA, bsB := lastSegment(e.rule(lbName(a)).GetBackendService()), lastSegment(e.rule(lbName(b)).GetBackendService())
	if bsA != bsB || bsA != "k8s-"+clusterID+"-internal-tcp-nmv1-6eef6648406c333a" {
		t.Errorf("backend services %s and %s, want both the shared one", bsA, bsB)
	}
	e.delete(a)
	if e.backendService(bsA) == nil || len(e.groups()) != 1 {
		t.Errorf("the shared backend service or the instance group went while used: %v", e.names())
	}
	e.delete(b)
	if e.backendService(bsA) != nil || len(e.groups()) != 1 || e.healthCheck(nodesHC) == nil {
		t.Errorf("after the last sharing Service: %v; want the shared backend service gone, the group and the check kept for c", e.names())
	}
	e.delete(c)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

// Instance groups of the same name that another controller uses (GKE's
// ingress controller names its groups alike) are shared and never deleted
// while its backend service uses them.
func TestInternalForeignGroupUserKeepsGroups(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := internalService("db")
	e.ensure(svc)
	ingress := &computepb.BackendService{Name: ptr("k8s-be-30000--" + clusterID), LoadBalancingScheme: ptr("INTERNAL"), Protocol: ptr("TCP"),
		HealthChecks: []string{"projects/" + project + "/global/healthChecks/" + nodesHC},
		Backends:     []*computepb.Backend{{Group: ptr("projects/" + project + "/zones/" + zone + "/instanceGroups/" + igName)}}}
	if err := e.cloud.InsertRegionBackendService(e.ctx, ingress); err != nil {
		t.Fatal(err)
	}
	e.delete(svc)
	if g := e.groups(); len(g[igName+"/"+zone]) != 3 || e.backendService(ingress.GetName()) == nil || e.healthCheck(nodesHC) == nil {
		t.Errorf("groups %v, resources %v; want the group with its members, the other backend service and the check it uses kept", g, e.names())
	}
}

// A Service that drops the internal annotation gets an external load
// balancer, and nothing of the internal one is left; an event says so.
func TestInternalBecomesExternal(t *testing.T) {
	t.Parallel()
	var rec *services
	e := setup(t, withServices(&rec))
	svc := internalService("db")
	internalIP := e.ensure(svc)
	delete(svc.Annotations, loadbalancer.TypeAnnotation)
	ip := e.ensure(svc)
	if ip == internalIP || inSubnet(ip) {
		t.Errorf("IP = %s, want an external one", ip)
	}
	n := e.names()
	if len(n["backendServices"]) != 0 || len(n["healthChecks"]) != 0 || len(n["instanceGroups"]) != 0 || len(n["targetPools"]) != 1 {
		t.Errorf("resources %v, want the external load balancer only", n)
	}
	if ev := rec.eventsOf("InternalLoadBalancerDeleted"); len(ev) != 1 {
		t.Errorf("events %v, want one InternalLoadBalancerDeleted", rec.events)
	}
	if slices.Contains(svc.Finalizers, loadbalancer.ILBFinalizer) || !slices.Contains(svc.Finalizers, loadbalancer.NetLBFinalizer) {
		t.Errorf("finalizers %v", svc.Finalizers)
	}
	e.expectNoWrites(svc, ip)
}

// Node changes touch only the instance groups (and, for a new zone, the
// backend service's groups).
func TestInternalNodeChanges(t *testing.T) {
	t.Parallel()
	e := setup(t, withVMs(4))
	nodes := e.nodes
	e.nodes = nodes[:3]
	svc := internalService("db")
	e.ensure(svc)
	e.fake.ResetCalls()
	if err := e.lb.UpdateLoadBalancer(e.ctx, cluster, svc, nodes[1:]); err != nil {
		t.Fatal(err)
	}
	e.onlyWrites("node change", "instanceGroups.addInstances", "instanceGroups.removeInstances")
	if g := e.groups()[igName+"/"+zone]; !slices.Equal(g, []string{"node-1", "node-2", "node-3"}) {
		t.Errorf("members %v", g)
	}
	if err := e.fake.AddInstance(fakecompute.InstanceSeed{Name: "node-b", Zone: "us-central1-b", Tags: []string{nodeTag}, NoExternalIP: true}); err != nil {
		t.Fatal(err)
	}
	b := node("node-b", false)
	b.Spec.ProviderID = "gce://" + project + "/us-central1-b/node-b"
	e.fake.ResetCalls()
	if err := e.lb.UpdateLoadBalancer(e.ctx, cluster, svc, append(nodes[1:], b)); err != nil {
		t.Fatal(err)
	}
	e.onlyWrites("new zone", "instanceGroups.insert", "instanceGroups.addInstances", "regionBackendServices.patch")
	if bs := e.backendService(lbName(svc)); len(bs.GetBackends()) != 2 {
		t.Errorf("backends %v, want both zones' groups", bs.GetBackends())
	}
}

// An internal load balancer the long-standing provider built is adopted as
// it is: no write.
func TestInternalAdoptsUpstream(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := internalService("db", func(s *v1.Service) { s.Finalizers = []string{loadbalancer.ILBFinalizer} })
	lb := lbName(svc)
	ctx := e.ctx
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// As gce_loadbalancer_internal.go writes them.
	must(e.cloud.InsertInstanceGroup(ctx, zone, &computepb.InstanceGroup{Name: ptr(igName)}))
	var vms []string
	for _, n := range e.nodes {
		vms = append(vms, "https://www.googleapis.com/compute/v1/projects/"+project+"/zones/"+zone+"/instances/"+n.Name)
	}
	must(e.cloud.AddInstancesToInstanceGroup(ctx, zone, igName, vms))
	must(e.cloud.InsertHealthCheck(ctx, &computepb.HealthCheck{Name: ptr(nodesHC), Type: ptr("HTTP"), CheckIntervalSec: ptr(int32(8)),
		TimeoutSec: ptr(int32(1)), HealthyThreshold: ptr(int32(1)), UnhealthyThreshold: ptr(int32(3)),
		HttpHealthCheck: &computepb.HTTPHealthCheck{Port: ptr(int32(10256)), RequestPath: ptr("/healthz")}}))
	must(e.cloud.InsertRegionBackendService(ctx, &computepb.BackendService{Name: ptr(lb), Description: ptr(`{"kubernetes.io/service-name":"default/db"}`),
		Protocol: ptr("TCP"), LoadBalancingScheme: ptr("INTERNAL"), SessionAffinity: ptr("NONE"),
		HealthChecks: []string{"https://www.googleapis.com/compute/v1/projects/" + project + "/global/healthChecks/" + nodesHC},
		Backends:     []*computepb.Backend{{Group: ptr("https://www.googleapis.com/compute/v1/projects/" + project + "/zones/" + zone + "/instanceGroups/" + igName)}}}))
	must(e.cloud.InsertForwardingRule(ctx, &computepb.ForwardingRule{Name: ptr(lb), Description: ptr(`{"kubernetes.io/service-name":"default/db"}`),
		IPProtocol: ptr("TCP"), Ports: []string{"80"}, LoadBalancingScheme: ptr("INTERNAL"), Subnetwork: ptr(subnetURL), Network: ptr(netURL),
		BackendService: ptr("https://www.googleapis.com/compute/v1/projects/" + project + "/regions/" + region + "/backendServices/" + lb)}))
	ip := e.rule(lb).GetIPAddress()
	must(e.cloud.InsertFirewall(ctx, &computepb.Firewall{Name: ptr("k8s-fw-" + lb), Network: ptr(netURL),
		Description:  ptr(`{"kubernetes.io/service-name":"default/db", "kubernetes.io/service-ip":"` + ip + `"}`),
		SourceRanges: []string{"0.0.0.0/0"}, TargetTags: []string{nodeTag}, DestinationRanges: []string{ip},
		Allowed: []*computepb.Allowed{{IPProtocol: ptr("tcp"), Ports: []string{"80"}}}}))
	must(e.cloud.InsertFirewall(ctx, &computepb.Firewall{Name: ptr(nodesHCFW), Network: ptr(netURL), Description: ptr(""),
		SourceRanges: []string{"130.211.0.0/22", "35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"}, TargetTags: []string{nodeTag},
		Allowed: []*computepb.Allowed{{IPProtocol: ptr("tcp"), Ports: []string{"10256"}}}}))
	e.expectNoWrites(svc, ip)
	e.delete(svc)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

// A deletion interrupted half-way leaves a backend service and health
// checks: GetLoadBalancer still reports a load balancer (also without the
// finalizer), and the next deletion finishes the job.
func TestInternalLeftoversAreFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := internalService("db", func(s *v1.Service) {
		s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 31000
	})
	e.ensure(svc)
	lb := lbName(svc)
	if err := e.cloud.DeleteFirewall(e.ctx, "k8s-fw-"+lb); err != nil {
		t.Fatal(err)
	}
	if err := e.cloud.DeleteForwardingRule(e.ctx, lb); err != nil {
		t.Fatal(err)
	}
	svc.Finalizers = nil
	if st, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc); err != nil || !exists {
		t.Fatalf("GetLoadBalancer with the backend service left = %+v, %v, %v; want it to exist", st, exists, err)
	}
	e.delete(svc)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
	if _, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc); err != nil || exists {
		t.Errorf("GetLoadBalancer after the deletion = %v, %v; want none", exists, err)
	}
}

// Nodes labelled node.kubernetes.io/exclude-from-external-load-balancers
// are left out of the instance groups, as of the target pools, and so are
// nodes of a GKE node pool in another subnetwork than gce.conf's, as the
// long-standing provider leaves them out.
func TestInternalExcludedNodes(t *testing.T) {
	t.Parallel()
	e := setup(t, withVMs(4), withOptions(func(o *loadbalancer.Options) { o.Subnetwork = "default" }))
	e.nodes[1].Labels = map[string]string{v1.LabelNodeExcludeBalancers: "true"}
	e.nodes[2].Labels = map[string]string{"cloud.google.com/gke-node-pool-subnet": "other"}
	e.nodes[3].Labels = map[string]string{"cloud.google.com/gke-node-pool-subnet": "default"}
	svc := internalService("db")
	e.ensure(svc)
	if g := e.groups()[igName+"/"+zone]; !slices.Equal(g, []string{"node-0", "node-3"}) {
		t.Errorf("members %v, want the nodes that are not excluded and in the default subnetwork", g)
	}
}

// A gce.conf subnetwork-name that does not exist is an error with nothing
// written (a configuration error, not the Service's).
func TestInternalUnknownConfiguredSubnetwork(t *testing.T) {
	t.Parallel()
	e := setup(t, withOptions(func(o *loadbalancer.Options) { o.Subnetwork = "nope" }))
	e.fake.ResetCalls()
	_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, internalService("db"), e.nodes)
	if err == nil || !strings.Contains(err.Error(), "subnetwork-name") {
		t.Errorf("EnsureLoadBalancer = %v, want an error naming subnetwork-name", err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
}

// spec.loadBalancerIP held by a VM's interface in the subnetwork is
// refused before anything is written: the Service gets the
// InvalidConfiguration condition naming the field and the VM, and nothing
// exists.
func TestInternalUserIPOfAVM(t *testing.T) {
	t.Parallel()
	var rec *services
	e := setup(t, withServices(&rec))
	vm := e.fake.Dump().Instances[0]
	vmIP := vm.NetworkInterfaces[0].NetworkIP
	svc := internalService("db", func(s *v1.Service) { s.Spec.LoadBalancerIP = vmIP })
	e.fake.ResetCalls()
	_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes)
	var input *loadbalancer.InputError
	if !errors.As(err, &input) || input.Field != "spec.loadBalancerIP" || !strings.Contains(err.Error(), "VM "+vm.Name) {
		t.Fatalf("EnsureLoadBalancer with VM %s's IP %s = %v, want an InputError on spec.loadBalancerIP naming the VM", vm.Name, vmIP, err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
	if c := condition(svc); c == nil || c.Reason != loadbalancer.ReasonInvalidConfiguration {
		t.Errorf("condition = %+v", c)
	}
	if n := e.names(); len(n) != 0 {
		t.Errorf("made %v", n)
	}
	e.delete(svc)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

// Internal Services synced at once write what they share once, and
// deleted at once leave nothing.
func TestInternalConcurrentServices(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var svcs []*v1.Service
	for i := range 10 {
		svcs = append(svcs, internalService(fmt.Sprintf("db-%d", i)))
	}
	run := func(fn func(*v1.Service) error) {
		t.Helper()
		errs := make(chan error, len(svcs))
		for _, s := range svcs {
			go func() { errs <- fn(s) }()
		}
		for range svcs {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
	e.fake.ResetCalls()
	run(func(s *v1.Service) error {
		_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, s, e.nodes)
		return err
	})
	w := e.writes()
	if w["instanceGroups.insert"] != 1 || w["instanceGroups.addInstances"] != 1 || w["healthChecks.insert"] != 1 || w["regionBackendServices.insert"] != 10 ||
		w["firewalls.insert"] != 11 {
		t.Errorf("writes %v, want the group, its members, the shared check and its firewall once, a backend service and a firewall per Service", w)
	}
	run(func(s *v1.Service) error { return e.lb.EnsureLoadBalancerDeleted(e.ctx, cluster, s) })
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

// A change from the Local to the Cluster policy that was cut off after the
// backend service moved to the shared check (here: the old check's delete
// fails) leaves the Service's own check and its firewall; the next sync
// deletes them, though the backend service no longer names the check.
func TestInternalInterruptedPolicyChange(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"healthChecks.delete", "firewalls.delete"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			svc := internalService("db", func(s *v1.Service) {
				s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 31000
			})
			lb := lbName(svc)
			e.ensure(svc)
			svc.Spec.ExternalTrafficPolicy, svc.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyCluster, 0
			if err := e.fake.InjectFault(fakecompute.Fault{Method: method, Count: 100, Code: 403, Reason: "forbidden"}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes); err == nil {
				t.Fatalf("EnsureLoadBalancer with %s failing = nil, want its error", method)
			}
			if bs := e.backendService(lb); len(bs.GetHealthChecks()) != 1 || lastSegment(bs.GetHealthChecks()[0]) != nodesHC {
				t.Fatalf("backend service's checks %v, want the shared one already", bs.GetHealthChecks())
			}
			e.fake.ClearFaults()
			e.ensure(svc)
			if e.healthCheck(lb) != nil || e.firewall(lb+"-hc") != nil {
				t.Errorf("the Service's own health check (%v) or its firewall (%v) is left", e.healthCheck(lb) != nil, e.firewall(lb+"-hc") != nil)
			}
			if e.healthCheck(nodesHC) == nil || e.firewall(nodesHCFW) == nil {
				t.Error("the shared health check or its firewall is missing")
			}
			e.fake.ResetCalls()
			e.ensure(svc)
			if w := e.writes(); len(w) != 0 {
				t.Errorf("a converged sync wrote %v", w)
			}
		})
	}
}
