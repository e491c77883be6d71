package integration

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

// Internal passthrough load balancers, against the real apiserver, the
// manager binary and the fake.

const (
	netFinalizer  = netLBFinalizer
	ilbGroup      = "k8s-ig--" + lbClusterID
	ilbNodesHCFW  = nodesHC + "-hc"
	ilbSubnetCIDR = "10.128.0.0/16" // the fake's default subnetwork
	ilbTypeKey    = "networking.gke.io/load-balancer-type"
)

// ilbService is lbService annotated Internal.
func ilbService(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	return lbService(name, append([]func(*corev1.Service){func(s *corev1.Service) {
		s.Annotations = map[string]string{ilbTypeKey: "Internal"}
	}}, mutate...)...)
}

// ilbWant is what a Service asks of its internal load balancer.
type ilbWant struct {
	ip           string   // "" for any IP of the subnetwork
	ports        []string // the rule's; nil with allPorts
	allPorts     bool
	protocol     string   // default TCP
	allowed      []string // the firewall's, "tcp:80"
	sourceRanges []string // default 0.0.0.0/0
	affinity     string   // default NONE
	globalAccess bool
	sharedBS     bool  // the backend service is a shared k8s-<id>-internal-... one
	hcPort       int64 // Local's healthCheckNodePort; 0 for the shared check
	nodes        []string
}

// ilbCheck returns the load balancer's IP and "" when the fake holds what
// want says, else what differs.
func ilbCheck(d *fakecompute.Dump, svc *corev1.Service, want ilbWant) (string, string) {
	lb := lbNameOf(svc)
	key := svc.Namespace + "/" + svc.Name
	var why []string
	bad := func(format string, args ...any) { why = append(why, fmt.Sprintf(format, args...)) }
	var rule *compute.ForwardingRule
	for _, r := range d.ForwardingRules {
		switch {
		case r.Name == lb:
			rule = r
		case strings.HasPrefix(r.Name, lb):
			bad("forwarding rule %s, want %s only", r.Name, lb)
		}
	}
	if rule == nil {
		return "", "no forwarding rule " + lb
	}
	ip := rule.IPAddress
	protocol := cmpOr(want.protocol, "TCP")
	if a, err := netip.ParseAddr(ip); err != nil || !netip.MustParsePrefix(ilbSubnetCIDR).Contains(a) {
		bad("rule IP %s is not of the subnetwork", ip)
	}
	if want.ip != "" && ip != want.ip {
		bad("rule IP %s, want %s", ip, want.ip)
	}
	if rule.LoadBalancingScheme != "INTERNAL" || rule.IPProtocol != protocol || lastSegment(rule.Subnetwork) != "default" ||
		!slices.Equal(sorted(rule.Ports), sorted(want.ports)) || rule.AllPorts != want.allPorts || rule.AllowGlobalAccess != want.globalAccess ||
		!strings.Contains(rule.Description, `"`+key+`"`) {
		bad("rule: scheme %s protocol %s subnet %s ports %v allPorts %v globalAccess %v description %s", rule.LoadBalancingScheme, rule.IPProtocol,
			lastSegment(rule.Subnetwork), rule.Ports, rule.AllPorts, rule.AllowGlobalAccess, rule.Description)
	}
	bsName := lastSegment(rule.BackendService)
	if want.sharedBS != strings.HasPrefix(bsName, "k8s-"+lbClusterID+"-internal-"+strings.ToLower(protocol)+"-nmv1-") || (!want.sharedBS && bsName != lb) {
		bad("rule's backend service %s (shared %v)", bsName, want.sharedBS)
	}
	hcName := nodesHC
	hcPort := int64(10256)
	if want.hcPort != 0 {
		hcName, hcPort = lb, want.hcPort
	}
	var bs *compute.BackendService
	for _, b := range d.BackendServices {
		if b.Name == bsName {
			bs = b
		}
	}
	zonesWanted := map[string][]string{}
	for _, n := range want.nodes {
		i := 0
		fmt.Sscanf(n, "node-%d", &i)
		z := zones[i%len(zones)]
		zonesWanted[z] = append(zonesWanted[z], n)
	}
	switch {
	case bs == nil:
		bad("no backend service %s", bsName)
	default:
		var groups []string
		for _, b := range bs.Backends {
			groups = append(groups, lastSegment(b.Group)+"@"+gceZone(b.Group))
		}
		var wantGroups []string
		for z := range zonesWanted {
			wantGroups = append(wantGroups, ilbGroup+"@"+z)
		}
		if bs.Protocol != protocol || bs.SessionAffinity != cmpOr(want.affinity, "NONE") || len(bs.HealthChecks) != 1 ||
			lastSegment(bs.HealthChecks[0]) != hcName || !slices.Equal(sorted(groups), sorted(wantGroups)) {
			bad("backend service: protocol %s affinity %s health checks %v groups %v; want %s %s [%s] %v", bs.Protocol, bs.SessionAffinity,
				bs.HealthChecks, groups, protocol, cmpOr(want.affinity, "NONE"), hcName, wantGroups)
		}
	}
	for z, nodes := range zonesWanted {
		link := ""
		for _, g := range d.InstanceGroups {
			if g.Name == ilbGroup && lastSegment(g.Zone) == z {
				link = g.SelfLink
			}
		}
		var members []string
		for _, m := range d.InstanceGroupMembers[link] {
			members = append(members, lastSegment(m))
		}
		if link == "" || !slices.Equal(sorted(members), sorted(nodes)) {
			bad("instance group %s in %s: members %v, want %v", ilbGroup, z, members, nodes)
		}
	}
	var hc *compute.HealthCheck
	for _, h := range d.HealthChecks {
		if h.Name == hcName {
			hc = h
		}
	}
	if hc == nil || hc.HttpHealthCheck == nil || hc.HttpHealthCheck.Port != hcPort || hc.HttpHealthCheck.RequestPath != "/healthz" {
		bad("health check %s = %+v, want port %d /healthz", hcName, hc, hcPort)
	}
	var fw, hcFW *compute.Firewall
	for _, f := range d.Firewalls {
		switch f.Name {
		case "k8s-fw-" + lb:
			fw = f
		case hcName + "-hc":
			hcFW = f
		}
	}
	allowed := want.allowed
	if allowed == nil {
		allowed = []string{"tcp:80"}
	}
	if fw == nil || !slices.Equal(allowedOf(fw), allowed) || !slices.Equal(sorted(fw.SourceRanges), sorted(cmpOrSlice(want.sourceRanges, []string{"0.0.0.0/0"}))) ||
		len(fw.DestinationRanges) != 1 || strings.TrimSuffix(fw.DestinationRanges[0], "/32") != ip || !slices.Equal(fw.TargetTags, []string{lbNodeTag}) {
		bad("firewall k8s-fw-%s = %+v", lb, fw)
	}
	if hcFW == nil || !slices.Equal(allowedOf(hcFW), []string{fmt.Sprintf("tcp:%d", hcPort)}) || !slices.Equal(sorted(hcFW.SourceRanges), sorted(proberRanges)) {
		bad("health check firewall %s-hc = %+v", hcName, hcFW)
	}
	return ip, strings.Join(why, "; ")
}

func gceZone(link string) string {
	_, rest, _ := strings.Cut(link, "/zones/")
	z, _, _ := strings.Cut(rest, "/")
	return z
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cmpOrSlice(s, def []string) []string {
	if len(s) == 0 {
		return def
	}
	return s
}

// waitILB waits until the Service's internal load balancer is what want
// says and its status shows the rule's IP, which it returns.
func waitILB(t *testing.T, env *harness.Env, svc *corev1.Service, want ilbWant) string {
	t.Helper()
	var ip string
	eventually(t, lbConvergeTime, "internal load balancer of "+svc.Name, func(ctx context.Context) (bool, string) {
		var why string
		if ip, why = ilbCheck(env.Fake.Dump(), svc, want); why != "" {
			return false, why
		}
		cur, err := env.Admin.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return ingressIP(cur) == ip, fmt.Sprintf("ingress IP %q, want %s", ingressIP(cur), ip)
	})
	return ip
}

// allLBResources is lbResources plus what internal load balancers use.
func allLBResources(d *fakecompute.Dump) []string {
	out := lbResources(d)
	for _, h := range d.HealthChecks {
		out = append(out, "health check (healthChecks) "+h.Name)
	}
	for _, b := range d.BackendServices {
		out = append(out, "backend service "+b.Name)
	}
	for _, g := range d.InstanceGroups {
		out = append(out, "instance group "+g.Name+" in "+lastSegment(g.Zone))
	}
	return out
}

func waitNoResourcesAtAll(t *testing.T, env *harness.Env, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "no load balancer resources", func(context.Context) (bool, string) {
		left := allLBResources(env.Fake.Dump())
		return len(left) == 0, fmt.Sprintf("left: %v", left)
	})
}

// externalOf lists what the fake holds of the Service's external load
// balancer.
func externalOf(d *fakecompute.Dump, svc *corev1.Service) []string {
	lb := lbNameOf(svc)
	var out []string
	for _, p := range d.TargetPools {
		if strings.HasPrefix(p.Name, lb) {
			out = append(out, "target pool "+p.Name)
		}
	}
	for _, h := range d.HTTPHealthChecks {
		if h.Name == lb {
			out = append(out, "HTTP health check "+h.Name)
		}
	}
	for _, a := range d.Addresses {
		if a.Name == lb && a.AddressType != "INTERNAL" {
			out = append(out, "address "+a.Name)
		}
	}
	for _, r := range d.ForwardingRules {
		if strings.HasPrefix(r.Name, lb) && r.LoadBalancingScheme != "INTERNAL" {
			out = append(out, "forwarding rule "+r.Name)
		}
	}
	return out
}

// internalOf lists what the fake holds of the Service's internal load
// balancer under its own names.
func internalOf(d *fakecompute.Dump, svc *corev1.Service) []string {
	lb := lbNameOf(svc)
	var out []string
	for _, b := range d.BackendServices {
		if b.Name == lb {
			out = append(out, "backend service "+b.Name)
		}
	}
	for _, h := range d.HealthChecks {
		if h.Name == lb {
			out = append(out, "health check "+h.Name)
		}
	}
	for _, r := range d.ForwardingRules {
		if r.Name == lb && r.LoadBalancingScheme == "INTERNAL" {
			out = append(out, "forwarding rule "+r.Name)
		}
	}
	for _, f := range d.Firewalls {
		if f.Name == lb+"-hc" {
			out = append(out, "firewall "+f.Name)
		}
	}
	return out
}

func waitFinalizers(t *testing.T, env *harness.Env, name string, want, not []string) {
	t.Helper()
	eventually(t, lbConvergeTime, fmt.Sprintf("finalizers %v and not %v on %s", want, not, name), func(ctx context.Context) (bool, string) {
		cur := getService(t, env, name)
		for _, f := range want {
			if !slices.Contains(cur.Finalizers, f) {
				return false, fmt.Sprintf("finalizers %v", cur.Finalizers)
			}
		}
		for _, f := range not {
			if slices.Contains(cur.Finalizers, f) {
				return false, fmt.Sprintf("finalizers %v", cur.Finalizers)
			}
		}
		return true, ""
	})
}

// TestILBCreateAndDelete: an internal Service gets the long-standing
// provider's internal load balancer (instance groups per zone, backend
// service, health check, rule in the subnetwork, firewalls), its IP in the
// status, the finalizer; deleting it leaves nothing.
func TestILBCreateAndDelete(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{Latency: 20 * time.Millisecond}, 3)
	svc := createService(t, env, ilbService("db"))
	all := []string{"node-0", "node-1", "node-2"}
	ip := waitILB(t, env, svc, ilbWant{ports: []string{"80"}, nodes: all})
	waitCondition(t, env, "db", metav1.ConditionTrue, "Synced", ip)
	waitFinalizers(t, env, "db", []string{ilbFinalizer}, []string{netFinalizer})
	if ext := externalOf(env.Fake.Dump(), svc); len(ext) != 0 {
		t.Errorf("external resources of an internal Service: %v", ext)
	}
	deleteService(t, env, "db")
	waitServiceGone(t, env, lbConvergeTime, "db")
	waitNoResourcesAtAll(t, env, lbConvergeTime)
}

// TestILBChanges: each change converges in place with the IP kept.
func TestILBChanges(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 2)
	svc := createService(t, env, ilbService("db"))
	nodes := []string{"node-0", "node-1"}
	want := ilbWant{ports: []string{"80"}, nodes: nodes}
	ip := waitILB(t, env, svc, want)
	want.ip = ip
	for _, step := range []struct {
		name   string
		change func(*corev1.Service)
		want   func(*ilbWant)
	}{
		{"second port", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "tls", Protocol: corev1.ProtocolTCP, Port: 443})
		}, func(w *ilbWant) { w.ports, w.allowed = []string{"80", "443"}, []string{"tcp:80,443"} }},
		{"affinity", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP },
			func(w *ilbWant) { w.affinity = "CLIENT_IP" }},
		{"source ranges", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} },
			func(w *ilbWant) { w.sourceRanges = []string{"10.0.0.0/8"} }},
		{"global access", func(s *corev1.Service) {
			s.Annotations["networking.gke.io/internal-load-balancer-allow-global-access"] = "true"
		}, func(w *ilbWant) { w.globalAccess = true }},
		{"explicit default subnet", func(s *corev1.Service) {
			s.Annotations["networking.gke.io/internal-load-balancer-subnet"] = "default"
		}, func(*ilbWant) {}},
		{"Local traffic", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			func(w *ilbWant) { w.hcPort = int64(getService(t, env, "db").Spec.HealthCheckNodePort) }},
		{"Cluster traffic and a shared backend service", func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			s.Annotations["alpha.cloud.google.com/load-balancer-backend-share"] = "true"
		}, func(w *ilbWant) { w.hcPort, w.sharedBS = 0, true }},
	} {
		t.Run(step.name, func(t *testing.T) {
			updateService(t, env, "db", step.change)
			step.want(&want)
			waitILB(t, env, svc, want)
			waitCondition(t, env, "db", metav1.ConditionTrue, "Synced", ip)
		})
	}
	// The Service's own backend service and the Local phase's health check
	// are deleted by writes of their own: waited for, not read once.
	eventually(t, lbConvergeTime, "only the shared backend service and health check left", func(context.Context) (bool, string) {
		d := env.Fake.Dump()
		var why []string
		if n := len(d.BackendServices); n != 1 {
			why = append(why, fmt.Sprintf("backend services %v, want the shared one only", allLBResources(d)))
		}
		for _, h := range d.HealthChecks {
			if h.Name != nodesHC {
				why = append(why, "health check "+h.Name+" left by the Local phase")
			}
		}
		return len(why) == 0, strings.Join(why, "; ")
	})
	deleteService(t, env, "db")
	waitServiceGone(t, env, lbConvergeTime, "db")
	waitNoResourcesAtAll(t, env, lbConvergeTime)
}

// TestILBSwitchKinds: external to internal and back; each time nothing of
// the old kind is left, the finalizers follow, and an event says so.
func TestILBSwitchKinds(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 1)
	svc := createService(t, env, lbService("db"))
	extWant := lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0"}}
	extIP := waitLB(t, env, svc, extWant)
	waitFinalizer(t, env, "db", netFinalizer)

	updateService(t, env, "db", func(s *corev1.Service) { s.Annotations = map[string]string{ilbTypeKey: "Internal"} })
	ip := waitILB(t, env, svc, ilbWant{ports: []string{"80"}, nodes: []string{"node-0"}})
	if ip == extIP {
		t.Fatalf("internal IP %s is the external one", ip)
	}
	waitCondition(t, env, "db", metav1.ConditionTrue, "Synced", ip)
	eventually(t, lbConvergeTime, "no external load balancer", func(context.Context) (bool, string) {
		left := externalOf(env.Fake.Dump(), svc)
		return len(left) == 0, fmt.Sprintf("left %v", left)
	})
	waitFinalizers(t, env, "db", []string{ilbFinalizer}, []string{netFinalizer})
	eventually(t, lbConvergeTime, "ExternalLoadBalancerDeleted event", func(ctx context.Context) (bool, string) {
		n, err := eventCount(ctx, env, "db", "ExternalLoadBalancerDeleted")
		return err == nil && n > 0, fmt.Sprintf("%d events, %v", n, err)
	})

	updateService(t, env, "db", func(s *corev1.Service) { delete(s.Annotations, ilbTypeKey) })
	extIP = waitLB(t, env, svc, extWant)
	waitCondition(t, env, "db", metav1.ConditionTrue, "Synced", extIP)
	eventually(t, lbConvergeTime, "no internal load balancer", func(context.Context) (bool, string) {
		d := env.Fake.Dump()
		left := internalOf(d, svc)
		for _, x := range allLBResources(d) {
			if strings.Contains(x, "backend service") || strings.Contains(x, "instance group") || strings.Contains(x, "(healthChecks)") {
				left = append(left, x)
			}
		}
		return len(left) == 0, fmt.Sprintf("left %v", left)
	})
	waitFinalizers(t, env, "db", []string{netFinalizer}, []string{ilbFinalizer})
	eventually(t, lbConvergeTime, "InternalLoadBalancerDeleted event", func(ctx context.Context) (bool, string) {
		n, err := eventCount(ctx, env, "db", "InternalLoadBalancerDeleted")
		return err == nil && n > 0, fmt.Sprintf("%d events, %v", n, err)
	})
	deleteService(t, env, "db")
	waitServiceGone(t, env, lbConvergeTime, "db")
	waitNoResourcesAtAll(t, env, lbConvergeTime)
}

// TestILBUserIPAndBadInput: a user's IP of the subnetwork is the rule's;
// bad input writes nothing, keeps the load balancer and its IP, and says
// what is wrong.
func TestILBUserIPAndBadInput(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 1)
	const userIP = "10.128.9.9"
	svc := createService(t, env, ilbService("db", func(s *corev1.Service) { s.Spec.LoadBalancerIP = userIP }))
	want := ilbWant{ip: userIP, ports: []string{"80"}, nodes: []string{"node-0"}}
	waitILB(t, env, svc, want)
	other := createService(t, env, ilbService("other"))
	otherIP := waitILB(t, env, other, ilbWant{ports: []string{"80"}, nodes: []string{"node-0"}})
	waitCondition(t, env, "db", metav1.ConditionTrue, "Synced", userIP)
	for _, tc := range []struct {
		name         string
		change, undo func(*corev1.Service)
		field, value string
	}{
		{"IP outside the subnetwork", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "10.200.0.1" },
			func(s *corev1.Service) { s.Spec.LoadBalancerIP = userIP }, "spec.loadBalancerIP", "10.200.0.1"},
		{"IP of another load balancer", func(s *corev1.Service) { s.Spec.LoadBalancerIP = otherIP },
			func(s *corev1.Service) { s.Spec.LoadBalancerIP = userIP }, "spec.loadBalancerIP", otherIP},
		{"unknown subnetwork", func(s *corev1.Service) { s.Annotations["networking.gke.io/internal-load-balancer-subnet"] = "nope" },
			func(s *corev1.Service) { delete(s.Annotations, "networking.gke.io/internal-load-balancer-subnet") },
			"metadata.annotations[networking.gke.io/internal-load-balancer-subnet]", "nope"},
		{"mixed protocols", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53})
		}, func(s *corev1.Service) { s.Spec.Ports = s.Spec.Ports[:1] }, "spec.ports[1].protocol", "UDP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.Fake.ResetCalls()
			updateService(t, env, "db", tc.change)
			quoted := fmt.Sprintf("%q", tc.value)
			waitEvent(t, env, "db", "SyncLoadBalancerFailed", tc.field+" "+quoted)
			waitCondition(t, env, "db", metav1.ConditionFalse, "InvalidConfiguration", tc.field, quoted)
			if w := writes(env); len(w) != 0 {
				t.Errorf("bad input wrote %v", w)
			}
			if got := ingressIP(getService(t, env, "db")); got != userIP {
				t.Errorf("ingress IP %q, want %s kept", got, userIP)
			}
			updateService(t, env, "db", tc.undo)
			waitCondition(t, env, "db", metav1.ConditionTrue, "Synced", userIP)
		})
	}
	waitILB(t, env, svc, want)
}

// TestILBDeletedWhileManagerDown: the finalizers keep an internal Service
// deleted while no manager ran until the next manager removes its load
// balancer.
func TestILBDeletedWhileManagerDown(t *testing.T) {
	env, m := startLB(t, fakecompute.Config{}, 2)
	svc := createService(t, env, ilbService("db"))
	waitILB(t, env, svc, ilbWant{ports: []string{"80"}, nodes: []string{"node-0", "node-1"}})
	waitFinalizer(t, env, "db", ilbFinalizer)
	m.Stop()
	deleteService(t, env, "db")
	if cur := getService(t, env, "db"); cur.DeletionTimestamp == nil {
		t.Fatal("the Service went while no manager ran")
	}
	startManager(t, env, "m2", lbArgs...)
	waitServiceGone(t, env, lbConvergeTime, "db")
	waitNoResourcesAtAll(t, env, lbConvergeTime)
}

// TestILBRestartCausesNoWrites: a new manager that finds every internal
// load balancer in place writes nothing, to GCE or to the Services.
func TestILBRestartCausesNoWrites(t *testing.T) {
	env, m := startLB(t, fakecompute.Config{}, 3)
	nodes := []string{"node-0", "node-1", "node-2"}
	svcs := []*corev1.Service{
		createService(t, env, ilbService("plain")),
		createService(t, env, ilbService("local", func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		})),
		createService(t, env, ilbService("shared", func(s *corev1.Service) {
			s.Annotations["alpha.cloud.google.com/load-balancer-backend-share"] = "true"
			s.Annotations["networking.gke.io/internal-load-balancer-allow-global-access"] = "true"
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Protocol: corev1.ProtocolTCP, Port: 1}, {Name: "b", Protocol: corev1.ProtocolTCP, Port: 2},
				{Name: "c", Protocol: corev1.ProtocolTCP, Port: 3}, {Name: "d", Protocol: corev1.ProtocolTCP, Port: 4},
				{Name: "e", Protocol: corev1.ProtocolTCP, Port: 5}, {Name: "f", Protocol: corev1.ProtocolTCP, Port: 6}}
		})),
	}
	wants := []ilbWant{
		{ports: []string{"80"}, nodes: nodes},
		{ports: []string{"80"}, nodes: nodes, hcPort: int64(svcs[1].Spec.HealthCheckNodePort)},
		{allPorts: true, nodes: nodes, sharedBS: true, globalAccess: true, allowed: []string{"tcp:1-6"}},
	}
	for i, svc := range svcs {
		waitILB(t, env, svc, wants[i])
		waitCondition(t, env, svc.Name, metav1.ConditionTrue, "Synced")
	}
	m.Stop()
	versions := map[string]string{}
	ensured := map[string]int32{}
	for _, svc := range svcs {
		versions[svc.Name] = getService(t, env, svc.Name).ResourceVersion
		n, err := eventCount(t.Context(), env, svc.Name, "EnsuredLoadBalancer")
		if err != nil {
			t.Fatal(err)
		}
		ensured[svc.Name] = n
	}
	env.Fake.ResetCalls()
	startManager(t, env, "m2", lbArgs...)
	eventually(t, lbConvergeTime, "every Service ensured by the restarted manager", func(ctx context.Context) (bool, string) {
		for _, svc := range svcs {
			n, err := eventCount(ctx, env, svc.Name, "EnsuredLoadBalancer")
			if err != nil {
				return false, err.Error()
			}
			if n <= ensured[svc.Name] {
				return false, svc.Name + " not ensured yet"
			}
		}
		return true, ""
	})
	if w := writes(env); len(w) != 0 {
		t.Errorf("restart wrote to GCE: %v", w)
	}
	for _, svc := range svcs {
		if rv := getService(t, env, svc.Name).ResourceVersion; rv != versions[svc.Name] {
			t.Errorf("restart wrote Service %s: resourceVersion %s, was %s", svc.Name, rv, versions[svc.Name])
		}
	}
}

// TestILBConvergeUnderFaults: with failing calls, failed operations and a
// write rate limit, 20 internal Services converge, and deleting them
// leaves nothing behind.
func TestILBConvergeUnderFaults(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{Latency: 30 * time.Millisecond}, 3)
	for _, f := range []fakecompute.Fault{
		{Method: "*", Fraction: 0.05, Count: 20, Mode: fakecompute.FaultError, Code: 503, Reason: "backendError"},
		{Method: "instanceGroups.addInstances", Fraction: 0.5, Count: 2, Mode: fakecompute.FaultOperation, Code: 500, Reason: "internalError"},
		{Method: "regionBackendServices.insert", Fraction: 0.3, Count: 4, Mode: fakecompute.FaultOperation, Code: 500, Reason: "internalError"},
		{Method: "forwardingRules.insert", Fraction: 0.3, Count: 5, Mode: fakecompute.FaultError, Code: 503, Reason: "backendError"},
		{Method: "healthChecks.insert", Count: 1, Mode: fakecompute.FaultDrop},
		{Method: "firewalls.insert", Count: 2, Mode: fakecompute.FaultDrop},
		{Method: "forwardingRules.delete", Fraction: 0.3, Count: 4, Mode: fakecompute.FaultOperation, Code: 500, Reason: "internalError"},
		{Method: "regionBackendServices.delete", Fraction: 0.3, Count: 4, Mode: fakecompute.FaultError, Code: 503, Reason: "backendError"},
		{Method: "regionOperations.wait", Fraction: 0.1, Count: 5, Mode: fakecompute.FaultError, Code: 503},
	} {
		if err := env.Fake.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	env.Fake.SetWriteRateLimit(15, 10)
	const n = 20
	nodes := []string{"node-0", "node-1", "node-2"}
	var svcs []*corev1.Service
	var names []string
	start := time.Now()
	for i := range n {
		svc := createService(t, env, ilbService(fmt.Sprintf("db-%02d", i)))
		svcs = append(svcs, svc)
		names = append(names, svc.Name)
	}
	eventually(t, 3*time.Minute, fmt.Sprintf("%d internal load balancers", n), func(ctx context.Context) (bool, string) {
		d := env.Fake.Dump()
		var why []string
		for _, svc := range svcs {
			ip, w := ilbCheck(d, svc, ilbWant{ports: []string{"80"}, nodes: nodes})
			if w == "" {
				if cur, err := env.Admin.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{}); err != nil || ingressIP(cur) != ip {
					w = "status has no IP yet"
				}
			}
			if w != "" {
				why = append(why, svc.Name+": "+w)
			}
		}
		return len(why) == 0, fmt.Sprintf("%d not ready; %s", len(why), strings.Join(why[:min(len(why), 3)], "; "))
	})
	t.Logf("%d internal load balancers converged in %s; calls %v", n, time.Since(start).Round(time.Millisecond), failures(env))
	start = time.Now()
	for _, name := range names {
		deleteService(t, env, name)
	}
	waitServiceGone(t, env, 3*time.Minute, names...)
	waitNoResourcesAtAll(t, env, lbConvergeTime)
	t.Logf("deleted in %s", time.Since(start).Round(time.Millisecond))
}

// TestILBSharedBackendService: Services with the backend-share annotation
// share one backend service named as upstream names it; it stays while one
// of them uses it and goes with the last.
func TestILBSharedBackendService(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 2)
	share := func(s *corev1.Service) { s.Annotations["alpha.cloud.google.com/load-balancer-backend-share"] = "true" }
	a := createService(t, env, ilbService("a", share))
	b := createService(t, env, ilbService("b", share, func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: "db", Protocol: corev1.ProtocolTCP, Port: 5432}}
	}))
	nodes := []string{"node-0", "node-1"}
	waitILB(t, env, a, ilbWant{ports: []string{"80"}, nodes: nodes, sharedBS: true})
	waitILB(t, env, b, ilbWant{ports: []string{"5432"}, nodes: nodes, sharedBS: true, allowed: []string{"tcp:5432"}})
	// SHA-1("None")[:16]: the API server defaults sessionAffinity to None.
	const shared = "k8s-" + lbClusterID + "-internal-tcp-nmv1-6eef6648406c333a"
	d := env.Fake.Dump()
	if len(d.BackendServices) != 1 || d.BackendServices[0].Name != shared {
		t.Fatalf("backend services %v, want %s only", allLBResources(d), shared)
	}
	deleteService(t, env, "a")
	waitServiceGone(t, env, lbConvergeTime, "a")
	waitILB(t, env, b, ilbWant{ports: []string{"5432"}, nodes: nodes, sharedBS: true, allowed: []string{"tcp:5432"}})
	deleteService(t, env, "b")
	waitServiceGone(t, env, lbConvergeTime, "b")
	waitNoResourcesAtAll(t, env, lbConvergeTime)
}

// TestILBNodeChanges: nodes that join, are excluded or go change only the
// instance groups' members.
func TestILBNodeChanges(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 3, lbSeed("node-3", zones[0]))
	svc := createService(t, env, ilbService("db"))
	three, four := []string{"node-0", "node-1", "node-2"}, []string{"node-0", "node-1", "node-2", "node-3"}
	ip := waitILB(t, env, svc, ilbWant{ports: []string{"80"}, nodes: three})
	step := func(name string, change func(ctx context.Context) error, nodes []string, wantWrites map[string]int) {
		t.Run(name, func(t *testing.T) {
			env.Fake.ResetCalls()
			if err := change(t.Context()); err != nil {
				t.Fatal(err)
			}
			waitILB(t, env, svc, ilbWant{ip: ip, ports: []string{"80"}, nodes: nodes})
			eventually(t, lbConvergeTime, "membership writes only", func(context.Context) (bool, string) {
				w := writes(env)
				return cmpWrites(w, wantWrites), fmt.Sprintf("writes %v, want %v", w, wantWrites)
			})
		})
	}
	step("a new node", func(context.Context) error {
		createNode(t, env, "node-3")
		waitInitialised(t, env, "node-3")
		return nil
	}, four, map[string]int{"instanceGroups.addInstances": 1})
	step("an excluded node", func(ctx context.Context) error {
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"true"}}}`, corev1.LabelNodeExcludeBalancers)
		_, err := env.Admin.CoreV1().Nodes().Patch(ctx, "node-3", "application/merge-patch+json", []byte(patch), metav1.PatchOptions{})
		return err
	}, three, map[string]int{"instanceGroups.removeInstances": 1})
}

// cmpWrites reports whether got has exactly want's methods and counts.
func cmpWrites(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for m, n := range want {
		if got[m] != n {
			return false
		}
	}
	return true
}
