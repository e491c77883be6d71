package loadbalancer_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
)

const (
	// subnetCIDR is the fake's default subnetwork range.
	subnetCIDR = "10.128.0.0/16"
	subnetURL  = "https://www.googleapis.com/compute/v1/projects/" + project + "/regions/" + region + "/subnetworks/default"
	igName     = "k8s-ig--" + clusterID
	nodesHCFW  = nodesHC + "-hc" // the internal load balancers' shared health check firewall
)

func inSubnet(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && netip.MustParsePrefix(subnetCIDR).Contains(a)
}

// internalService returns service(name) annotated Internal.
func internalService(name string, mutate ...func(*v1.Service)) *v1.Service {
	return service(name, append([]func(*v1.Service){func(s *v1.Service) {
		s.Annotations = map[string]string{loadbalancer.TypeAnnotation: "Internal"}
	}}, mutate...)...)
}

// get reads one resource, nil when it does not exist.
func get[T any](t *testing.T, fn func() (*T, error)) *T {
	t.Helper()
	v, err := fn()
	if gce.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *env) rule(name string) *computepb.ForwardingRule {
	return get(e.t, func() (*computepb.ForwardingRule, error) { return e.cloud.GetForwardingRule(e.ctx, name) })
}

func (e *env) backendService(name string) *computepb.BackendService {
	return get(e.t, func() (*computepb.BackendService, error) { return e.cloud.GetRegionBackendService(e.ctx, name) })
}

func (e *env) healthCheck(name string) *computepb.HealthCheck {
	return get(e.t, func() (*computepb.HealthCheck, error) { return e.cloud.GetHealthCheck(e.ctx, name) })
}

func (e *env) firewall(name string) *computepb.Firewall {
	return get(e.t, func() (*computepb.Firewall, error) { return e.cloud.GetFirewall(e.ctx, name) })
}

// groups returns the members' names of the cluster's instance group by zone.
func (e *env) groups() map[string][]string {
	e.t.Helper()
	list, err := e.cloud.ListInstanceGroups(e.ctx, `name eq ".*"`)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, ig := range list {
		zone := ig.GetZone()[strings.LastIndexByte(ig.GetZone(), '/')+1:]
		members, err := e.cloud.ListInstanceGroupInstances(e.ctx, zone, ig.GetName())
		if err != nil {
			e.t.Fatal(err)
		}
		names := []string{}
		for _, m := range members {
			names = append(names, m[strings.LastIndexByte(m, '/')+1:])
		}
		slices.Sort(names)
		out[ig.GetName()+"/"+zone] = names
	}
	return out
}

// expectInternalOnly checks that the Service has an internal load balancer
// on ip and nothing of an external one.
func (e *env) expectInternalOnly(svc *v1.Service, ip string) {
	e.t.Helper()
	lb := lbName(svc)
	d := e.fake.Dump()
	for _, tp := range d.TargetPools {
		if strings.HasPrefix(tp.Name, lb) {
			e.t.Errorf("target pool %s exists, want none", tp.Name)
		}
	}
	for _, hc := range d.HTTPHealthChecks {
		if hc.Name == lb {
			e.t.Errorf("HTTP health check %s exists, want none", hc.Name)
		}
	}
	for _, a := range d.Addresses {
		if a.Name == lb && a.AddressType != "INTERNAL" {
			e.t.Errorf("address %s is %s, want no external address", a.Name, a.AddressType)
		}
	}
	for _, fr := range d.ForwardingRules {
		if strings.HasPrefix(fr.Name, lb) && (fr.Name != lb || fr.LoadBalancingScheme != "INTERNAL" || fr.IPAddress != ip) {
			e.t.Errorf("forwarding rule %s: scheme %s, IP %s; want only %s, INTERNAL, on %s", fr.Name, fr.LoadBalancingScheme, fr.IPAddress, lb, ip)
		}
	}
	if fw := e.firewall("k8s-fw-" + lb); fw == nil || !slices.Equal(fw.GetDestinationRanges(), []string{ip}) && !slices.Equal(fw.GetDestinationRanges(), []string{ip + "/32"}) {
		e.t.Errorf("firewall k8s-fw-%s = %v, want one to %s", lb, fw, ip)
	}
}

// A new internal Service gets the long-standing provider's shape: the
// cluster's instance group of the nodes, the shared health check and its
// firewall, a backend service, a rule in the subnetwork, its firewall; a
// second sync writes nothing.
func TestInternalCreates(t *testing.T) {
	t.Parallel()
	var rec *services
	e := setup(t, withServices(&rec))
	svc := internalService("db", func(s *v1.Service) {
		s.Spec.Ports = []v1.ServicePort{{Protocol: v1.ProtocolTCP, Port: 5432}, {Protocol: v1.ProtocolTCP, Port: 5433}}
	})
	ip := e.ensure(svc)
	if !inSubnet(ip) {
		t.Fatalf("IP = %s, want one of %s", ip, subnetCIDR)
	}
	lb := lbName(svc)
	fr := e.rule(lb)
	if fr.GetLoadBalancingScheme() != "INTERNAL" || fr.GetIPProtocol() != "TCP" || !slices.Equal(fr.GetPorts(), []string{"5432", "5433"}) ||
		lastSegment(fr.GetBackendService()) != lb || lastSegment(fr.GetSubnetwork()) != "default" || fr.GetAllowGlobalAccess() ||
		fr.GetDescription() != `{"kubernetes.io/service-name":"default/db"}` {
		t.Errorf("forwarding rule = %v", fr)
	}
	bs := e.backendService(lb)
	if bs.GetProtocol() != "TCP" || bs.GetLoadBalancingScheme() != "INTERNAL" || bs.GetSessionAffinity() != "NONE" ||
		len(bs.GetHealthChecks()) != 1 || lastSegment(bs.GetHealthChecks()[0]) != nodesHC ||
		len(bs.GetBackends()) != 1 || !strings.HasSuffix(bs.GetBackends()[0].GetGroup(), "/zones/"+zone+"/instanceGroups/"+igName) ||
		bs.GetDescription() != `{"kubernetes.io/service-name":"default/db"}` {
		t.Errorf("backend service = %v", bs)
	}
	if g := e.groups(); !slices.Equal(g[igName+"/"+zone], []string{"node-0", "node-1", "node-2"}) || len(g) != 1 {
		t.Errorf("instance groups = %v, want %s in %s with the three nodes", g, igName, zone)
	}
	hc := e.healthCheck(nodesHC)
	if hc.GetHttpHealthCheck().GetPort() != 10256 || hc.GetHttpHealthCheck().GetRequestPath() != "/healthz" || hc.GetDescription() != "" ||
		hc.GetCheckIntervalSec() != 8 || hc.GetTimeoutSec() != 1 || hc.GetHealthyThreshold() != 1 || hc.GetUnhealthyThreshold() != 3 {
		t.Errorf("health check = %v", hc)
	}
	fw := e.firewall("k8s-fw-" + lb)
	if fw.GetDescription() != `{"kubernetes.io/service-name":"default/db", "kubernetes.io/service-ip":"`+ip+`"}` ||
		!slices.Equal(fw.GetSourceRanges(), []string{"0.0.0.0/0"}) || !slices.Equal(fw.GetTargetTags(), []string{nodeTag}) ||
		len(fw.GetAllowed()) != 1 || fw.GetAllowed()[0].GetIPProtocol() != "tcp" || !slices.Equal(fw.GetAllowed()[0].GetPorts(), []string{"5432-5433"}) {
		t.Errorf("firewall = %v", fw)
	}
	hcfw := e.firewall(nodesHCFW)
	if hcfw.GetDescription() != "" || len(hcfw.GetAllowed()) != 1 || !slices.Equal(hcfw.GetAllowed()[0].GetPorts(), []string{"10256"}) ||
		len(hcfw.GetSourceRanges()) != 4 || len(hcfw.GetDestinationRanges()) != 0 {
		t.Errorf("health check firewall = %v", hcfw)
	}
	if !slices.Contains(svc.Finalizers, loadbalancer.ILBFinalizer) {
		t.Errorf("finalizers = %v, want %s", svc.Finalizers, loadbalancer.ILBFinalizer)
	}
	if st, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc); err != nil || !exists || len(st.Ingress) != 1 || st.Ingress[0].IP != ip {
		t.Errorf("GetLoadBalancer = %+v, %v, %v; want %s", st, exists, err, ip)
	}
	e.expectNoWrites(svc, ip)
	e.fake.ResetCalls()
	if err := e.lb.UpdateLoadBalancer(e.ctx, cluster, svc, e.nodes); err != nil {
		t.Fatal(err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("UpdateLoadBalancer with the same nodes wrote %v", w)
	}
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// Bad input is refused before anything is written, with the field named
// in the condition.
func TestInternalBadInput(t *testing.T) {
	t.Parallel()
	var rec *services
	e := setup(t, withServices(&rec))
	other := internalService("other")
	otherIP := e.ensure(other)
	for _, tc := range []struct {
		name, field string
		mutate      func(*v1.Service)
	}{
		{"IP outside the subnetwork", "spec.loadBalancerIP", func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.200.0.5" }},
		{"IP of another load balancer", "spec.loadBalancerIP", func(s *v1.Service) { s.Spec.LoadBalancerIP = otherIP }},
		{"not an IP", "spec.loadBalancerIP", func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.128.0" }},
		{"unknown subnetwork", "metadata.annotations[" + loadbalancer.SubnetAnnotation + "]", func(s *v1.Service) {
			s.Annotations[loadbalancer.SubnetAnnotation] = "nope"
		}},
		{"mixed protocols", "spec.ports[1].protocol", func(s *v1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: "dns", Protocol: v1.ProtocolUDP, Port: 53})
		}},
		{"SCTP", "spec.ports[0].protocol", func(s *v1.Service) { s.Spec.Ports[0].Protocol = v1.ProtocolSCTP }},
		{"global access typo", "metadata.annotations[" + loadbalancer.GlobalAccessAnnotation + "]", func(s *v1.Service) {
			s.Annotations[loadbalancer.GlobalAccessAnnotation] = "yes"
		}},
		{"bad source range", "spec.loadBalancerSourceRanges", func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/33"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := internalService("bad", tc.mutate)
			e.fake.ResetCalls()
			_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes)
			var input *loadbalancer.InputError
			if !errors.As(err, &input) || input.Field != tc.field {
				t.Fatalf("EnsureLoadBalancer = %v, want an InputError on %s", err, tc.field)
			}
			if w := e.writes(); len(w) != 0 {
				t.Errorf("writes = %v, want none", w)
			}
			if c := condition(svc); c == nil || c.Status != metav1.ConditionFalse || c.Reason != loadbalancer.ReasonInvalidConfiguration {
				t.Errorf("condition = %+v, want False/%s", c, loadbalancer.ReasonInvalidConfiguration)
			}
		})
	}
}
