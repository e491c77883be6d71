package loadbalancer_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	compute "google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

func TestEnsureCreates(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web")
	ip := e.ensure(svc)
	lb := lbName(svc)

	d := e.fake.Dump()
	// The address was reserved while the rule was made, then released: the
	// IP lives on as the rule's, and no static address quota is held.
	if len(d.Addresses) != 0 {
		t.Errorf("addresses = %+v, want none left reserved", d.Addresses)
	}
	if n := e.writes()["addresses.insert"]; n != 1 {
		t.Errorf("addresses.insert = %d, want 1 (the IP is reserved while the rules are built)", n)
	}
	if len(d.ForwardingRules) != 1 {
		t.Fatalf("forwarding rules = %d, want 1", len(d.ForwardingRules))
	}
	fr := d.ForwardingRules[0]
	if fr.Name != lb || fr.IPAddress != ip || fr.IPProtocol != "TCP" || fr.PortRange != "80-80" || fr.NetworkTier != "PREMIUM" ||
		!strings.HasSuffix(fr.Target, "/regions/us-central1/targetPools/"+lb) {
		t.Errorf("forwarding rule = %+v", fr)
	}
	if len(d.TargetPools) != 1 {
		t.Fatalf("target pools = %d, want 1", len(d.TargetPools))
	}
	tp := d.TargetPools[0]
	if tp.Name != lb || len(tp.Instances) != 3 || tp.SessionAffinity != "NONE" ||
		len(tp.HealthChecks) != 1 || !strings.HasSuffix(tp.HealthChecks[0], "/httpHealthChecks/"+nodesHC) {
		t.Errorf("target pool = %+v", tp)
	}
	if len(d.HTTPHealthChecks) != 1 {
		t.Fatalf("health checks = %d, want 1", len(d.HTTPHealthChecks))
	}
	hc := d.HTTPHealthChecks[0]
	if hc.Name != nodesHC || hc.Port != 10256 || hc.RequestPath != "/healthz" || hc.CheckIntervalSec != 8 || hc.TimeoutSec != 1 ||
		hc.HealthyThreshold != 1 || hc.UnhealthyThreshold != 3 {
		t.Errorf("health check = %+v", hc)
	}
	fws := firewalls(d)
	want := map[string]*compute.Firewall{
		"k8s-fw-" + lb: {Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}, SourceRanges: []string{"0.0.0.0/0"},
			DestinationRanges: []string{ip}, TargetTags: []string{nodeTag}},
		nodesHFW: {Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"10256"}}},
			SourceRanges: []string{"130.211.0.0/22", "209.85.152.0/22", "209.85.204.0/22", "35.191.0.0/16"}, TargetTags: []string{nodeTag}},
	}
	if diff := cmp.Diff(want, fws); diff != "" {
		t.Errorf("firewalls (-want +got):\n%s", diff)
	}

	st, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc)
	if err != nil || !exists || len(st.Ingress) != 1 || st.Ingress[0].IP != ip {
		t.Errorf("GetLoadBalancer = %+v, %v, %v; want %s", st, exists, err, ip)
	}
	if got := e.lb.GetLoadBalancerName(e.ctx, cluster, svc); got != lb {
		t.Errorf("GetLoadBalancerName = %s, want %s", got, lb)
	}
	e.expectNoWrites(svc, ip)
}

// firewalls returns the fields of each firewall that decide what it admits.
func firewalls(d *fakecompute.Dump) map[string]*compute.Firewall {
	out := map[string]*compute.Firewall{}
	for _, f := range d.Firewalls {
		out[f.Name] = &compute.Firewall{Allowed: f.Allowed, SourceRanges: f.SourceRanges, DestinationRanges: f.DestinationRanges, TargetTags: f.TargetTags}
	}
	return out
}

// TestEnsureConverges changes one Service step by step: each change
// converges, keeps the IP (but for the tier, which GCE ties to the
// address), leaves nothing unused behind, and a second Ensure writes nothing.
func TestEnsureConverges(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web")
	ip := e.ensure(svc)
	lb := lbName(svc)
	user := reserve(t, e, "user-ip", "PREMIUM")

	for _, step := range []struct {
		name   string
		change func(*v1.Service)
		newIP  string // "" keeps the IP, "new" wants another one
		check  func(t *testing.T, d *fakecompute.Dump)
	}{
		{name: "ports", change: func(s *v1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: "https", Protocol: v1.ProtocolTCP, Port: 443})
		}, check: func(t *testing.T, d *fakecompute.Dump) {
			if fr := rule(d, lb); fr == nil || fr.PortRange != "80-443" {
				t.Errorf("rule = %+v, want port range 80-443", fr)
			}
			if fw := firewalls(d)["k8s-fw-"+lb]; !slices.Equal(fw.Allowed[0].Ports, []string{"80", "443"}) {
				t.Errorf("firewall ports = %v", fw.Allowed[0].Ports)
			}
		}},
		{name: "UDP added", change: func(s *v1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: "dns", Protocol: v1.ProtocolUDP, Port: 53})
		}, check: func(t *testing.T, d *fakecompute.Dump) {
			if fr := rule(d, lb+"-udp"); fr == nil || fr.IPProtocol != "UDP" || fr.PortRange != "53-53" || fr.IPAddress != ip {
				t.Errorf("UDP rule = %+v", fr)
			}
			if len(firewalls(d)["k8s-fw-"+lb].Allowed) != 2 {
				t.Errorf("firewall allowed = %+v, want tcp and udp", firewalls(d)["k8s-fw-"+lb].Allowed)
			}
		}},
		{name: "TCP removed", change: func(s *v1.Service) {
			s.Spec.Ports = []v1.ServicePort{{Name: "dns", Protocol: v1.ProtocolUDP, Port: 53}}
		}, check: func(t *testing.T, d *fakecompute.Dump) {
			if len(d.ForwardingRules) != 1 || rule(d, lb+"-udp") == nil {
				t.Errorf("rules = %v, want only the UDP rule", names(d.ForwardingRules))
			}
		}},
		{name: "TCP back", change: func(s *v1.Service) {
			s.Spec.Ports = []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80}, {Name: "dns", Protocol: v1.ProtocolUDP, Port: 53}}
		}, check: func(t *testing.T, d *fakecompute.Dump) {
			if fr := rule(d, lb); fr == nil || fr.IPProtocol != "TCP" {
				t.Errorf("rules = %v, want TCP on %s", names(d.ForwardingRules), lb)
			}
		}},
		{name: "client IP affinity", change: func(s *v1.Service) { s.Spec.SessionAffinity = v1.ServiceAffinityClientIP },
			check: func(t *testing.T, d *fakecompute.Dump) {
				if len(d.TargetPools) != 1 || d.TargetPools[0].Name != lb+"-alt" || d.TargetPools[0].SessionAffinity != "CLIENT_IP" {
					t.Errorf("pools = %+v, want only %s-alt with CLIENT_IP", d.TargetPools, lb)
				}
				for _, fr := range d.ForwardingRules {
					if !strings.HasSuffix(fr.Target, "/"+lb+"-alt") {
						t.Errorf("rule %s targets %s", fr.Name, fr.Target)
					}
				}
			}},
		{name: "affinity back", change: func(s *v1.Service) { s.Spec.SessionAffinity = v1.ServiceAffinityNone },
			check: func(t *testing.T, d *fakecompute.Dump) {
				if len(d.TargetPools) != 1 || d.TargetPools[0].Name != lb || d.TargetPools[0].SessionAffinity != "NONE" {
					t.Errorf("pools = %+v, want only %s with NONE", d.TargetPools, lb)
				}
			}},
		{name: "local traffic", change: func(s *v1.Service) {
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 31999
		}, check: func(t *testing.T, d *fakecompute.Dump) {
			if hcs := names(d.HTTPHealthChecks); !slices.Equal(hcs, []string{lb}) {
				t.Errorf("health checks = %v, want only %s (the shared one is unused)", hcs, lb)
			}
			if d.HTTPHealthChecks[0].Port != 31999 || !strings.HasSuffix(d.TargetPools[0].HealthChecks[0], "/"+lb) {
				t.Errorf("health check %+v, pool checks %v", d.HTTPHealthChecks[0], d.TargetPools[0].HealthChecks)
			}
			fws := firewalls(d)
			if fw := fws["k8s-"+lb+"-http-hc"]; fw == nil || fw.Allowed[0].Ports[0] != "31999" || fw.DestinationRanges[0] != ip {
				t.Errorf("local health check firewall = %+v", fw)
			}
			if fws[nodesHFW] != nil {
				t.Errorf("shared health check firewall left behind")
			}
		}},
		{name: "health check port", change: func(s *v1.Service) { s.Spec.HealthCheckNodePort = 31998 },
			check: func(t *testing.T, d *fakecompute.Dump) {
				if d.HTTPHealthChecks[0].Port != 31998 || firewalls(d)["k8s-"+lb+"-http-hc"].Allowed[0].Ports[0] != "31998" {
					t.Errorf("health check port not updated: %+v", d.HTTPHealthChecks[0])
				}
			}},
		{name: "cluster traffic", change: func(s *v1.Service) {
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster
			s.Spec.HealthCheckNodePort = 0
		}, check: func(t *testing.T, d *fakecompute.Dump) {
			if hcs := names(d.HTTPHealthChecks); !slices.Equal(hcs, []string{nodesHC}) {
				t.Errorf("health checks = %v, want only %s", hcs, nodesHC)
			}
			fws := firewalls(d)
			if fws["k8s-"+lb+"-http-hc"] != nil || fws[nodesHFW] == nil {
				t.Errorf("firewalls = %v", names(d.Firewalls))
			}
		}},
		{name: "source ranges", change: func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} },
			check: func(t *testing.T, d *fakecompute.Dump) {
				if got := firewalls(d)["k8s-fw-"+lb].SourceRanges; !slices.Equal(got, []string{"10.0.0.0/8"}) {
					t.Errorf("source ranges = %v", got)
				}
			}},
		{name: "source ranges annotation", change: func(s *v1.Service) {
			s.Spec.LoadBalancerSourceRanges = nil
			s.Annotations = map[string]string{loadbalancer.SourceRangesAnnotation: "192.168.0.0/16,172.16.0.0/12"}
		}, check: func(t *testing.T, d *fakecompute.Dump) {
			if got := firewalls(d)["k8s-fw-"+lb].SourceRanges; !slices.Equal(got, []string{"172.16.0.0/12", "192.168.0.0/16"}) {
				t.Errorf("source ranges = %v", got)
			}
		}},
		{name: "user's static address", change: func(s *v1.Service) { s.Spec.LoadBalancerIP = user }, newIP: user,
			check: func(t *testing.T, d *fakecompute.Dump) {
				if as := names(d.Addresses); !slices.Equal(as, []string{"user-ip"}) {
					t.Errorf("addresses = %v, want only user-ip (the service's own released)", as)
				}
			}},
		{name: "loadBalancerIP cleared keeps the working IP", change: func(s *v1.Service) { s.Spec.LoadBalancerIP = "" }, newIP: user},
		{name: "standard tier", change: func(s *v1.Service) {
			s.Annotations[loadbalancer.NetworkTierAnnotation] = "Standard"
		}, newIP: "new", check: func(t *testing.T, d *fakecompute.Dump) {
			a := address(d, lb)
			if a == nil || a.NetworkTier != "STANDARD" {
				t.Fatalf("addresses = %+v, want %s in STANDARD", d.Addresses, lb)
			}
			for _, fr := range d.ForwardingRules {
				if fr.NetworkTier != "STANDARD" || fr.IPAddress != a.Address {
					t.Errorf("rule %s: tier %s IP %s", fr.Name, fr.NetworkTier, fr.IPAddress)
				}
			}
			if address(d, "user-ip") == nil {
				t.Error("the user's address was released")
			}
		}},
		{name: "premium tier", change: func(s *v1.Service) {
			s.Annotations[loadbalancer.NetworkTierAnnotation] = "Premium"
		}, newIP: "new", check: func(t *testing.T, d *fakecompute.Dump) {
			if a := address(d, lb); a == nil || a.NetworkTier != "PREMIUM" || len(d.Addresses) != 2 {
				t.Errorf("addresses = %+v", d.Addresses)
			}
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.change(svc)
			got := e.ensure(svc)
			switch step.newIP {
			case "":
				if got != ip {
					t.Fatalf("IP changed from %s to %s", ip, got)
				}
			case "new":
				if got == ip {
					t.Fatalf("IP stayed %s", got)
				}
			default:
				if got != step.newIP {
					t.Fatalf("IP = %s, want %s", got, step.newIP)
				}
			}
			ip = got
			d := e.fake.Dump()
			for _, fr := range d.ForwardingRules {
				if fr.IPAddress != ip {
					t.Errorf("rule %s has IP %s, want %s", fr.Name, fr.IPAddress, ip)
				}
			}
			if fw := firewalls(d)["k8s-fw-"+lb]; fw == nil || !slices.Equal(fw.DestinationRanges, []string{ip}) {
				t.Errorf("service firewall = %+v, want destination %s", fw, ip)
			}
			if step.check != nil {
				step.check(t, d)
			}
			e.expectNoWrites(svc, ip)
		})
	}
}

func reserve(t *testing.T, e *env, name, tier string) string {
	t.Helper()
	if err := e.cloud.InsertAddress(e.ctx, pbAddress(name, tier)); err != nil {
		t.Fatal(err)
	}
	a, err := e.cloud.GetAddress(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return a.GetAddress()
}

func rule(d *fakecompute.Dump, name string) *compute.ForwardingRule {
	for _, fr := range d.ForwardingRules {
		if fr.Name == name {
			return fr
		}
	}
	return nil
}

func address(d *fakecompute.Dump, name string) *compute.Address {
	for _, a := range d.Addresses {
		if a.Name == name {
			return a
		}
	}
	return nil
}

type named interface {
	*compute.ForwardingRule | *compute.HttpHealthCheck | *compute.Firewall | *compute.Address | *compute.TargetPool
}

func names[T named](items []T) []string {
	var out []string
	for _, it := range items {
		switch v := any(it).(type) {
		case *compute.ForwardingRule:
			out = append(out, v.Name)
		case *compute.HttpHealthCheck:
			out = append(out, v.Name)
		case *compute.Firewall:
			out = append(out, v.Name)
		case *compute.Address:
			out = append(out, v.Name)
		case *compute.TargetPool:
			out = append(out, v.Name)
		}
	}
	slices.Sort(out)
	return out
}

// TestNodeChangeTouchesOnlyMembership: a node set change costs target pool
// membership calls and nothing else, through Update and through Ensure.
func TestNodeChangeTouchesOnlyMembership(t *testing.T) {
	t.Parallel()
	e := setup(t, withVMs(6))
	all := e.nodes
	e.nodes = all[:3]
	svc := service("web")
	ip := e.ensure(svc)

	excluded := node("node-5", true)
	excluded.Labels = map[string]string{v1.LabelNodeExcludeBalancers: "true"}
	e.fake.ResetCalls()
	if err := e.lb.UpdateLoadBalancer(e.ctx, cluster, svc, []*v1.Node{all[1], all[2], all[3], all[4], excluded}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"targetPools.addInstance": 1, "targetPools.removeInstance": 1}
	if diff := cmp.Diff(want, e.writes()); diff != "" {
		t.Errorf("writes of UpdateLoadBalancer (-want +got):\n%s", diff)
	}
	members := memberNames(e.fake.Dump().TargetPools[0])
	if !slices.Equal(members, []string{"node-1", "node-2", "node-3", "node-4"}) {
		t.Errorf("pool members = %v", members)
	}

	e.fake.ResetCalls()
	e.nodes = []*v1.Node{all[0], all[1]}
	if got := e.ensure(svc); got != ip {
		t.Errorf("IP changed to %s", got)
	}
	if diff := cmp.Diff(want, e.writes()); diff != "" {
		t.Errorf("writes of EnsureLoadBalancer after a node change (-want +got):\n%s", diff)
	}
	e.expectNoWrites(svc, ip)
}

func memberNames(tp *compute.TargetPool) []string {
	var out []string
	for _, inst := range tp.Instances {
		out = append(out, inst[strings.LastIndexByte(inst, '/')+1:])
	}
	slices.Sort(out)
	return out
}

// TestLargePoolInBatches: a pool is created with at most 200 VMs and grown
// and shrunk by at most 1000 per call.
func TestLargePoolInBatches(t *testing.T) {
	t.Parallel()
	e := setup(t, withVMs(2300))
	svc := service("big")
	e.ensure(svc)
	if n := len(e.fake.Dump().TargetPools[0].Instances); n != 2300 {
		t.Fatalf("pool has %d instances, want 2300", n)
	}
	w := e.writes()
	if w["targetPools.insert"] != 1 || w["targetPools.addInstance"] != 3 {
		t.Errorf("writes = %v, want 1 insert (200 VMs) and 3 addInstance calls (1000+1000+100)", w)
	}
	e.fake.ResetCalls()
	if err := e.lb.UpdateLoadBalancer(e.ctx, cluster, svc, e.nodes[:1000]); err != nil {
		t.Fatal(err)
	}
	if w := e.writes(); w["targetPools.removeInstance"] != 2 || len(w) != 1 {
		t.Errorf("writes = %v, want 2 removeInstance calls", w)
	}
	if n := len(e.fake.Dump().TargetPools[0].Instances); n != 1000 {
		t.Errorf("pool has %d instances, want 1000", n)
	}
}

// TestBadInputChangesNothing: each bad Service is a clear error and leaves
// the working load balancer exactly as it was, without a single write.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web")
	ip := e.ensure(svc)
	other := service("other")
	otherIP := e.ensure(other)
	unreserved := "198.18.200.200"
	before := e.fake.Dump()

	for _, tc := range []struct {
		name   string
		change func(*v1.Service)
		field  string // of the InputError
		says   string
	}{
		{"malformed IP", func(s *v1.Service) { s.Spec.LoadBalancerIP = "198.18.0" }, "spec.loadBalancerIP", "not an IPv4 address"},
		{"IP not reserved", func(s *v1.Service) { s.Spec.LoadBalancerIP = unreserved }, "spec.loadBalancerIP", "not a static external address"},
		{"IP of another service", func(s *v1.Service) { s.Spec.LoadBalancerIP = otherIP }, "spec.loadBalancerIP", "default/other"},
		{"bad source range", func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/40"} }, "spec.loadBalancerSourceRanges", "not a CIDR"},
		{"SCTP", func(s *v1.Service) { s.Spec.Ports[0].Protocol = v1.ProtocolSCTP }, "spec.ports[0].protocol", "only TCP and UDP"},
		{"unknown tier", func(s *v1.Service) { s.Annotations = map[string]string{loadbalancer.NetworkTierAnnotation: "Fast"} },
			"metadata.annotations[" + loadbalancer.NetworkTierAnnotation + "]", "Standard or Premium"},
		{"too many port ranges", func(s *v1.Service) {
			for i := range 120 {
				s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Protocol: v1.ProtocolTCP, Port: int32(2000 + 2*i)})
			}
		}, "spec.ports", "at most 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := svc.DeepCopy()
			tc.change(bad)
			e.fake.ResetCalls()
			_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, bad, e.nodes)
			var ie *loadbalancer.InputError
			if !errors.As(err, &ie) || ie.Field != tc.field || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want an InputError on %s saying %q", err, tc.field, tc.says)
			}
			if w := e.writes(); len(w) != 0 {
				t.Errorf("bad input wrote %v", w)
			}
		})
	}
	if diff := cmp.Diff(before, e.fake.Dump()); diff != "" {
		t.Errorf("resources changed (-before +after):\n%s", diff)
	}
	e.expectNoWrites(svc, ip)
}

// TestNotOwnedIsNeverTouched: a resource with one of the service's names
// that fails the ownership check stops Ensure before any write and survives
// the deletion.
func TestNotOwnedIsNeverTouched(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web")
	lb := lbName(svc)
	foreign := pbFirewall("k8s-fw-"+lb, "made by hand", "tcp", "22")
	if err := e.cloud.InsertFirewall(e.ctx, foreign); err != nil {
		t.Fatal(err)
	}
	e.fake.ResetCalls()
	_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes)
	if err == nil || !strings.Contains(err.Error(), "k8s-fw-"+lb) || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("err = %v, want one naming the foreign firewall", err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("Ensure wrote %v despite the ownership conflict", w)
	}
	e.delete(svc)
	if fws := names(e.fake.Dump().Firewalls); !slices.Equal(fws, []string{"k8s-fw-" + lb}) {
		t.Errorf("firewalls = %v, want the foreign one kept", fws)
	}
}

func TestForeignClassIsLeftAlone(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web", func(s *v1.Service) { s.Spec.LoadBalancerClass = ptr("example.com/other") })
	if _, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes); err != cloudprovider.ImplementedElsewhere {
		t.Errorf("EnsureLoadBalancer err = %v, want ImplementedElsewhere", err)
	}
	if err := e.lb.UpdateLoadBalancer(e.ctx, cluster, svc, e.nodes); err != cloudprovider.ImplementedElsewhere {
		t.Errorf("UpdateLoadBalancer err = %v, want ImplementedElsewhere", err)
	}
	if calls := e.fake.Calls(); len(calls) != 0 {
		t.Errorf("calls = %v, want none", calls)
	}
}

// TestNodeTagsFromVMs: without node-tags, each VM's longest tag that
// prefixes its name is targeted; a VM without one is an error.
func TestNodeTagsFromVMs(t *testing.T) {
	t.Parallel()
	e := setup(t, withOptions(func(o *loadbalancer.Options) { o.NodeTags = nil }), withSeeds(func(i int) fakecompute.InstanceSeed {
		return fakecompute.InstanceSeed{Name: []string{"gke-pool-a-1", "gke-pool-b-1", "plain"}[i], Zone: zone,
			Tags: [][]string{{"gke", "gke-pool-a", "http-server"}, {"gke-pool-b"}, {"http-server"}}[i], NoExternalIP: true}
	}))
	// Nodes without provider IDs are found by name.
	e.nodes = []*v1.Node{node("gke-pool-a-1", false), node("gke-pool-b-1", false)}
	svc := service("web")
	e.ensure(svc)
	d := e.fake.Dump()
	if got := firewalls(d)["k8s-fw-"+lbName(svc)].TargetTags; !slices.Equal(got, []string{"gke-pool-a", "gke-pool-b"}) {
		t.Errorf("target tags = %v", got)
	}
	if got := memberNames(d.TargetPools[0]); !slices.Equal(got, []string{"gke-pool-a-1", "gke-pool-b-1"}) {
		t.Errorf("members = %v", got)
	}
	e.nodes = append(e.nodes, node("plain", false))
	e.fake.ResetCalls()
	_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, service("other"), e.nodes)
	if err == nil || !strings.Contains(err.Error(), "plain") || !strings.Contains(err.Error(), "node-tags") {
		t.Errorf("err = %v, want one naming VM plain and node-tags", err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("wrote %v", w)
	}
}
