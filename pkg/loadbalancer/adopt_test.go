package loadbalancer_test

import (
	"fmt"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

func pbAddress(name, tier string) *computepb.Address {
	return &computepb.Address{Name: &name, NetworkTier: &tier, AddressType: ptr("EXTERNAL")}
}

func pbFirewall(name, description, proto string, ports ...string) *computepb.Firewall {
	return &computepb.Firewall{Name: &name, Description: &description, Network: ptr(netURL), TargetTags: []string{nodeTag},
		Allowed: []*computepb.Allowed{{IPProtocol: &proto, Ports: ports}}}
}

var legacyProberRanges = []string{"130.211.0.0/22", "35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"}

// legacy builds a load balancer the way the long-standing Kubernetes GCE
// provider leaves it: no address (the IP is the rule's, ephemeral), node
// links in its partial form, its names and descriptions.
func legacy(t *testing.T, e *env, svc *v1.Service, hcFirewallDestination bool) string {
	t.Helper()
	ctx := e.ctx
	lb := lbName(svc)
	key := svc.Namespace + "/" + svc.Name
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	hcName, hcPort := nodesHC, int64(10256)
	if svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
		hcName, hcPort = lb, int64(svc.Spec.HealthCheckNodePort)
	}
	must(e.cloud.InsertHTTPHealthCheck(ctx, &gce.HTTPHealthCheck{Name: hcName, Description: fmt.Sprintf(`{"kubernetes.io/service-name":"%s"}`, hcName),
		Port: hcPort, RequestPath: "/healthz", CheckIntervalSec: 8, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3}))
	hc, err := e.cloud.GetHTTPHealthCheck(ctx, hcName)
	must(err)
	var members []string
	for _, n := range e.nodes {
		members = append(members, "zones/"+zone+"/instances/"+n.Name)
	}
	must(e.cloud.InsertTargetPool(ctx, &computepb.TargetPool{Name: &lb, Description: ptr(fmt.Sprintf(`{"kubernetes.io/service-name":"%s"}`, key)),
		Instances: members, SessionAffinity: ptr("NONE"), HealthChecks: []string{hc.SelfLink}}))
	must(e.cloud.InsertForwardingRule(ctx, &computepb.ForwardingRule{Name: &lb, Description: ptr(fmt.Sprintf(`{"kubernetes.io/service-name":"%s"}`, key)),
		IPProtocol: ptr("TCP"), PortRange: ptr("80-80"), NetworkTier: ptr("PREMIUM"),
		Target: ptr("https://www.googleapis.com/compute/v1/projects/" + project + "/regions/" + region + "/targetPools/" + lb)}))
	rules, err := e.cloud.ListForwardingRules(ctx, `name eq "`+lb+`"`)
	must(err)
	ip := rules[0].GetIPAddress()
	fwDesc := fmt.Sprintf(`{"kubernetes.io/service-name":"%s", "kubernetes.io/service-ip":"%s"}`, key, ip)
	fw := pbFirewall("k8s-fw-"+lb, fwDesc, "tcp", "80")
	fw.SourceRanges, fw.DestinationRanges = []string{"0.0.0.0/0"}, []string{ip}
	must(e.cloud.InsertFirewall(ctx, fw))
	if hcName == nodesHC {
		hcfw := pbFirewall(nodesHFW, fmt.Sprintf(`{"kubernetes.io/cluster-id":"%s"}`, clusterID), "tcp", "10256")
		hcfw.SourceRanges = legacyProberRanges
		if hcFirewallDestination {
			hcfw.DestinationRanges = []string{ip}
		}
		must(e.cloud.InsertFirewall(ctx, hcfw))
	} else {
		hcfw := pbFirewall("k8s-"+lb+"-http-hc", fwDesc, "tcp", fmt.Sprint(hcPort))
		hcfw.SourceRanges, hcfw.DestinationRanges = legacyProberRanges, []string{ip}
		must(e.cloud.InsertFirewall(ctx, hcfw))
	}
	return ip
}

// TestAdoption: load balancers of the long-standing provider are taken over
// as they are.
func TestAdoption(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		svc           func() *v1.Service
		hcDestination bool
		wantWrites    map[string]int
	}{
		{name: "cluster traffic", svc: func() *v1.Service { return service("web") }},
		{name: "local traffic", svc: func() *v1.Service {
			return service("web", func(s *v1.Service) {
				s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 30500
			})
		}},
		// Newer versions limit the shared health check firewall to the first
		// service's IP, which starves every other service's probes: widened.
		{name: "shared health check firewall limited to one IP", svc: func() *v1.Service { return service("web") }, hcDestination: true,
			wantWrites: map[string]int{"firewalls.update": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			svc := tc.svc()
			ip := legacy(t, e, svc, tc.hcDestination)
			before := e.fake.Dump()
			e.fake.ResetCalls()
			if got := e.ensure(svc); got != ip {
				t.Fatalf("IP = %s, want the adopted %s", got, ip)
			}
			if diff := cmp.Diff(tc.wantWrites, e.writes(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			if len(tc.wantWrites) == 0 {
				if diff := cmp.Diff(before, e.fake.Dump()); diff != "" {
					t.Errorf("adoption changed resources (-before +after):\n%s", diff)
				}
			}
			e.expectNoWrites(svc, ip)

			// A change that needs a new rule keeps the adopted IP: it is made
			// static first, and released again once the new rule holds it.
			svc.Spec.Ports[0].Port = 8080
			e.fake.ResetCalls()
			if got := e.ensure(svc); got != ip {
				t.Fatalf("IP after a port change = %s, want %s", got, ip)
			}
			d := e.fake.Dump()
			if w := e.writes(); w["addresses.insert"] != 1 || w["addresses.delete"] != 1 {
				t.Errorf("writes = %v, want the IP reserved (addresses.insert) and released (addresses.delete) once", w)
			}
			if len(d.Addresses) != 0 {
				t.Errorf("addresses = %+v, want none left reserved", d.Addresses)
			}
			if fr := rule(d, lbName(svc)); fr == nil || fr.PortRange != "8080-8080" || fr.IPAddress != ip {
				t.Errorf("rule = %+v", fr)
			}
			e.expectNoWrites(svc, ip)
		})
	}
}

func TestGetLoadBalancerFindsHalfMadeOnes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web")
	if _, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc); err != nil || exists {
		t.Fatalf("GetLoadBalancer before anything = %v, %v", exists, err)
	}
	if err := e.cloud.InsertFirewall(e.ctx, pbFirewall("k8s-fw-"+lbName(svc), `{"kubernetes.io/service-name":"default/web", "kubernetes.io/service-ip":"1.2.3.4"}`, "tcp", "80")); err != nil {
		t.Fatal(err)
	}
	if _, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc); err != nil || !exists {
		t.Errorf("GetLoadBalancer with only the firewall = %v, %v; want it to exist", exists, err)
	}
	e.delete(svc)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}
