package loadbalancer

import (
	"errors"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ilbService(mutate ...func(*v1.Service)) *v1.Service {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", UID: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
			Annotations: map[string]string{TypeAnnotation: "Internal"}},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer, Ports: []v1.ServicePort{{Protocol: v1.ProtocolTCP, Port: 80}},
			SessionAffinity: v1.ServiceAffinityNone},
	}
	for _, m := range mutate {
		m(svc)
	}
	return svc
}

func TestParseInternalService(t *testing.T) {
	t.Parallel()
	ports := func(ps ...int32) func(*v1.Service) {
		return func(s *v1.Service) {
			s.Spec.Ports = nil
			for _, p := range ps {
				s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Protocol: v1.ProtocolTCP, Port: p})
			}
		}
	}
	annotate := func(k, v string) func(*v1.Service) { return func(s *v1.Service) { s.Annotations[k] = v } }
	local := func(s *v1.Service) {
		s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 31000
	}
	for _, tc := range []struct {
		name    string
		svc     *v1.Service
		check   func(*internalSpec) bool
		wantErr string // the InputError's field
	}{
		{"defaults", ilbService(), func(sp *internalSpec) bool {
			return sp.protocol == v1.ProtocolTCP && cmp.Equal(sp.ports, []string{"80"}) && !sp.allPorts && sp.affinity == affinityNone &&
				cmp.Equal(sp.sourceRanges, []string{"0.0.0.0/0"}) && !sp.shareBackend && !sp.globalAccess && sp.subnet == "" && !sp.local
		}, ""},
		{"ports sorted", ilbService(ports(443, 80, 8080)), func(sp *internalSpec) bool {
			return cmp.Equal(sp.ports, []string{"80", "443", "8080"}) && !sp.allPorts
		}, ""},
		{"five ports listed", ilbService(ports(1, 2, 3, 4, 5)), func(sp *internalSpec) bool { return len(sp.ports) == 5 && !sp.allPorts }, ""},
		{"six ports: all ports", ilbService(ports(1, 2, 3, 4, 5, 6)), func(sp *internalSpec) bool {
			return sp.allPorts && sp.ports == nil && cmp.Equal(sp.fwPorts[v1.ProtocolTCP], []int32{1, 2, 3, 4, 5, 6})
		}, ""},
		{"UDP", ilbService(func(s *v1.Service) { s.Spec.Ports[0].Protocol = v1.ProtocolUDP }), func(sp *internalSpec) bool {
			return sp.protocol == v1.ProtocolUDP
		}, ""},
		{"affinity", ilbService(func(s *v1.Service) { s.Spec.SessionAffinity = v1.ServiceAffinityClientIP }), func(sp *internalSpec) bool {
			return sp.affinity == affinityClientIP && sp.svcAffinity == v1.ServiceAffinityClientIP
		}, ""},
		{"backend share", ilbService(annotate(BackendShareAnnotation, "true")), func(sp *internalSpec) bool { return sp.shareBackend }, ""},
		{"deprecated backend share", ilbService(annotate("cloud.google.com/load-balancer-backend-share", "true")), func(sp *internalSpec) bool {
			return sp.shareBackend
		}, ""},
		{"backend share is off for Local", ilbService(annotate(BackendShareAnnotation, "true"), local), func(sp *internalSpec) bool {
			return !sp.shareBackend && sp.local && sp.hcPort == 31000
		}, ""},
		{"global access", ilbService(annotate(GlobalAccessAnnotation, "true")), func(sp *internalSpec) bool { return sp.globalAccess }, ""},
		{"global access false", ilbService(annotate(GlobalAccessAnnotation, "false")), func(sp *internalSpec) bool { return !sp.globalAccess }, ""},
		{"subnet", ilbService(annotate(SubnetAnnotation, "ilb-subnet")), func(sp *internalSpec) bool { return sp.subnet == "ilb-subnet" }, ""},
		{"requested IP", ilbService(func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.128.0.9" }), func(sp *internalSpec) bool {
			return sp.requestedIP == "10.128.0.9"
		}, ""},

		{"mixed protocols", ilbService(func(s *v1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Protocol: v1.ProtocolUDP, Port: 53})
		}), nil, "spec.ports[1].protocol"},
		{"SCTP", ilbService(func(s *v1.Service) { s.Spec.Ports[0].Protocol = v1.ProtocolSCTP }), nil, "spec.ports[0].protocol"},
		{"no ports", ilbService(ports()), nil, "spec.ports"},
		{"IPv6 only", ilbService(func(s *v1.Service) { s.Spec.IPFamilies = []v1.IPFamily{v1.IPv6Protocol} }), nil, "spec.ipFamilies"},
		{"bad IP", ilbService(func(s *v1.Service) { s.Spec.LoadBalancerIP = "fd00::1" }), nil, "spec.loadBalancerIP"},
		{"global access typo", ilbService(annotate(GlobalAccessAnnotation, "True")), nil, "metadata.annotations[" + GlobalAccessAnnotation + "]"},
		{"backend share typo", ilbService(annotate(BackendShareAnnotation, "yes")), nil, "metadata.annotations[" + BackendShareAnnotation + "]"},
		{"bad subnet", ilbService(annotate(SubnetAnnotation, "Bad_Subnet")), nil, "metadata.annotations[" + SubnetAnnotation + "]"},
		{"Local without health check port", ilbService(func(s *v1.Service) {
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
		}), nil, "spec.healthCheckNodePort"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sp, err := parseInternalService(tc.svc)
			if tc.wantErr != "" {
				var input *InputError
				if !errors.As(err, &input) || input.Field != tc.wantErr {
					t.Fatalf("parseInternalService = %v, want an InputError on %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(sp) {
				t.Errorf("spec = %+v", sp)
			}
		})
	}
}

func TestInternalRuleNeedsUpdate(t *testing.T) {
	t.Parallel()
	sp, err := parseInternalService(ilbService())
	if err != nil {
		t.Fatal(err)
	}
	const bs, subnet, network = "https://www.googleapis.com/compute/v1/projects/p/regions/r/backendServices/a", "https://www.googleapis.com/compute/v1/projects/p/regions/r/subnetworks/s", "n"
	want := desiredInternalRule(sp, "10.0.0.5", bs, subnet, network)
	have := func(mutate func(*computepb.ForwardingRule)) *computepb.ForwardingRule {
		fr := desiredInternalRule(sp, "10.0.0.5", "https://compute.googleapis.com/compute/v1/projects/p/regions/r/backendServices/a", subnet, network)
		if mutate != nil {
			mutate(fr)
		}
		return fr
	}
	for _, tc := range []struct {
		name            string
		want            *computepb.ForwardingRule
		have            *computepb.ForwardingRule
		recreate, patch bool
	}{
		{"same (links compare by path)", want, have(nil), false, false},
		{"GCE picks the IP: any IP matches", desiredInternalRule(sp, "", bs, subnet, network), have(nil), false, false},
		{"other IP", want, have(func(f *computepb.ForwardingRule) { f.IPAddress = ptr("10.0.0.6") }), true, false},
		{"ports in another order", want, have(func(f *computepb.ForwardingRule) { f.Ports = []string{"80"} }), false, false},
		{"other ports", want, have(func(f *computepb.ForwardingRule) { f.Ports = []string{"80", "443"} }), true, false},
		{"all ports", want, have(func(f *computepb.ForwardingRule) { f.Ports, f.AllPorts = nil, ptr(true) }), true, false},
		{"protocol", want, have(func(f *computepb.ForwardingRule) { f.IPProtocol = ptr("UDP") }), true, false},
		{"backend service", want, have(func(f *computepb.ForwardingRule) { f.BackendService = ptr(bs + "x") }), true, false},
		{"subnetwork", want, have(func(f *computepb.ForwardingRule) { f.Subnetwork = ptr(subnet + "x") }), true, false},
		{"global access on", want, have(func(f *computepb.ForwardingRule) { f.AllowGlobalAccess = ptr(true) }), false, true},
		{"global access and ports", want, have(func(f *computepb.ForwardingRule) { f.AllowGlobalAccess, f.Ports = ptr(true), []string{"81"} }), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recreate, patch := internalRuleNeedsUpdate(tc.want, tc.have)
			if recreate != tc.recreate || patch != tc.patch {
				t.Errorf("internalRuleNeedsUpdate = %v, %v; want %v, %v", recreate, patch, tc.recreate, tc.patch)
			}
		})
	}
}

func TestBackendServiceNeedsUpdate(t *testing.T) {
	t.Parallel()
	sp, err := parseInternalService(ilbService())
	if err != nil {
		t.Fatal(err)
	}
	groups := []string{"https://www.googleapis.com/compute/v1/projects/p/zones/z-a/instanceGroups/g", "https://www.googleapis.com/compute/v1/projects/p/zones/z-b/instanceGroups/g"}
	want := desiredBackendService("a", sp, groups, "https://www.googleapis.com/compute/v1/projects/p/global/healthChecks/h")
	have := func(mutate func(*computepb.BackendService)) *computepb.BackendService {
		bs := desiredBackendService("a", sp, []string{groups[1], groups[0]}, "https://compute.googleapis.com/compute/v1/projects/p/global/healthChecks/h")
		for _, b := range bs.Backends {
			b.BalancingMode = ptr("CONNECTION") // GCE's, kept
		}
		if mutate != nil {
			mutate(bs)
		}
		return bs
	}
	for _, tc := range []struct {
		name string
		have *computepb.BackendService
		want bool
	}{
		{"same (groups in any order, GCE's balancing mode)", have(nil), false},
		{"affinity unset is NONE", have(func(b *computepb.BackendService) { b.SessionAffinity = nil }), false},
		{"affinity", have(func(b *computepb.BackendService) { b.SessionAffinity = ptr("CLIENT_IP") }), true},
		{"protocol", have(func(b *computepb.BackendService) { b.Protocol = ptr("UDP") }), true},
		{"description", have(func(b *computepb.BackendService) { b.Description = ptr("") }), true},
		{"health check", have(func(b *computepb.BackendService) { b.HealthChecks = []string{"projects/p/global/healthChecks/x"} }), true},
		{"a zone less", have(func(b *computepb.BackendService) { b.Backends = b.Backends[:1] }), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := backendServiceNeedsUpdate(want, tc.have); got != tc.want {
				t.Errorf("backendServiceNeedsUpdate = %v, want %v", got, tc.want)
			}
		})
	}
	// A patch keeps the settings of the groups that stay.
	patch := backendServicePatch(want, have(func(b *computepb.BackendService) { b.Backends = b.Backends[:1]; b.Fingerprint = ptr("f") }))
	if len(patch.GetBackends()) != 2 || patch.GetFingerprint() != "f" {
		t.Fatalf("patch = %v", patch)
	}
	for _, b := range patch.GetBackends() {
		if (b.GetGroup() == groups[1]) != (b.GetBalancingMode() == "CONNECTION") {
			t.Errorf("backend %v: the kept group keeps its balancing mode, the new one takes GCE's default", b)
		}
	}
}

func TestInternalHealthCheckNeedsUpdate(t *testing.T) {
	t.Parallel()
	sp, err := parseInternalService(ilbService())
	if err != nil {
		t.Fatal(err)
	}
	want := desiredInternalHealthCheck(sp, "c")
	for _, tc := range []struct {
		name   string
		mutate func(*computepb.HealthCheck)
		want   bool
	}{
		{"same", func(*computepb.HealthCheck) {}, false},
		{"slower is kept", func(h *computepb.HealthCheck) {
			h.CheckIntervalSec, h.UnhealthyThreshold = ptr(int32(30)), ptr(int32(5))
		}, false},
		{"faster", func(h *computepb.HealthCheck) { h.CheckIntervalSec = ptr(int32(2)) }, true},
		{"port", func(h *computepb.HealthCheck) {
			h.HttpHealthCheck = &computepb.HTTPHealthCheck{Port: ptr(int32(10257)), RequestPath: ptr("/healthz")}
		}, true},
		{"path", func(h *computepb.HealthCheck) {
			h.HttpHealthCheck = &computepb.HTTPHealthCheck{Port: ptr(int32(10256)), RequestPath: ptr("/")}
		}, true},
		{"not HTTP", func(h *computepb.HealthCheck) { h.Type, h.HttpHealthCheck = ptr("TCP"), nil }, true},
		{"description", func(h *computepb.HealthCheck) { h.Description = ptr("x") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			have := desiredInternalHealthCheck(sp, "c")
			tc.mutate(have)
			if got := internalHealthCheckNeedsUpdate(want, have); got != tc.want {
				t.Errorf("internalHealthCheckNeedsUpdate = %v, want %v", got, tc.want)
			}
		})
	}
	merged := mergeInternalHealthCheck(want, &computepb.HealthCheck{CheckIntervalSec: ptr(int32(2)), TimeoutSec: ptr(int32(5)), UnhealthyThreshold: ptr(int32(10))})
	if merged.GetCheckIntervalSec() != 8 || merged.GetTimeoutSec() != 5 || merged.GetUnhealthyThreshold() != 10 || merged.GetHealthyThreshold() != 1 {
		t.Errorf("merged = %v, want the slower of each value", merged)
	}
}

func TestInstanceGroupsNeedUpdate(t *testing.T) {
	t.Parallel()
	vm := func(zone, name string) string {
		return "https://www.googleapis.com/compute/v1/projects/p/zones/" + zone + "/instances/" + name
	}
	want := hostsByZone([]string{vm("z-a", "n1"), vm("z-b", "n2"), vm("z-a", "n0")})
	if diff := cmp.Diff(map[string][]string{"z-a": {vm("z-a", "n0"), vm("z-a", "n1")}, "z-b": {vm("z-b", "n2")}}, want); diff != "" {
		t.Errorf("hostsByZone (-want +got):\n%s", diff)
	}
	have := map[string][]string{
		"z-a": {"projects/p/zones/z-a/instances/n1", "projects/p/zones/z-a/instances/gone"},
		"z-c": {"projects/p/zones/z-c/instances/old"},
	}
	add, remove := instanceGroupsNeedUpdate(want, have)
	if diff := cmp.Diff(map[string][]string{"z-a": {vm("z-a", "n0")}, "z-b": {vm("z-b", "n2")}}, add); diff != "" {
		t.Errorf("add (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"z-a": {"projects/p/zones/z-a/instances/gone"}, "z-c": {"projects/p/zones/z-c/instances/old"}}, remove); diff != "" {
		t.Errorf("remove (-want +got):\n%s", diff)
	}
}

func TestMakeInternalPlan(t *testing.T) {
	t.Parallel()
	b := New(nil, Options{Project: "p", Region: "r", NetworkURL: "https://www.googleapis.com/compute/v1/projects/p/global/networks/n"})
	subnet := &computepb.Subnetwork{Name: ptr("s"), IpCidrRange: ptr("10.0.0.0/24"), SelfLink: ptr("https://www.googleapis.com/compute/v1/projects/p/regions/r/subnetworks/s")}
	spOf := func(mutate ...func(*v1.Service)) *internalSpec {
		sp, err := parseInternalService(ilbService(mutate...))
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	rule := func(sp *internalSpec, ip string) *computepb.ForwardingRule {
		fr := desiredInternalRule(sp, ip, backendServiceURL("p", "r", sp.lbName), subnet.GetSelfLink(), "n")
		fr.SelfLink = ptr("https://www.googleapis.com/compute/v1/projects/p/regions/r/forwardingRules/" + sp.lbName)
		return fr
	}
	base := spOf()
	for _, tc := range []struct {
		name    string
		sp      *internalSpec
		obs     *observedInternal
		want    internalPlan // compared: ip, userOwned, recreate, patchRule, hold, staleBS, staleHC, bsName
		wantErr bool
	}{
		{name: "new: GCE picks the IP", sp: base, obs: &observedInternal{},
			want: internalPlan{bsName: base.lbName}},
		{name: "converged", sp: base, obs: &observedInternal{rule: rule(base, "10.0.0.5")},
			want: internalPlan{ip: "10.0.0.5", bsName: base.lbName}},
		{name: "ports change: recreated on the held IP", sp: spOf(func(s *v1.Service) { s.Spec.Ports[0].Port = 81 }),
			obs:  &observedInternal{rule: rule(base, "10.0.0.5")},
			want: internalPlan{ip: "10.0.0.5", bsName: base.lbName, recreate: true, hold: true}},
		{name: "ports change with the address held already", sp: spOf(func(s *v1.Service) { s.Spec.Ports[0].Port = 81 }),
			obs: &observedInternal{rule: rule(base, "10.0.0.5"),
				address: &computepb.Address{Name: ptr(base.lbName), Address: ptr("10.0.0.5"), AddressType: ptr("INTERNAL"), Subnetwork: subnet.SelfLink}},
			want: internalPlan{ip: "10.0.0.5", bsName: base.lbName, recreate: true}},
		{name: "global access: patched", sp: spOf(func(s *v1.Service) { s.Annotations[GlobalAccessAnnotation] = "true" }),
			obs:  &observedInternal{rule: rule(base, "10.0.0.5")},
			want: internalPlan{ip: "10.0.0.5", bsName: base.lbName, patchRule: true}},
		{name: "user IP in the subnetwork", sp: spOf(func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.0.0.9" }),
			obs:  &observedInternal{},
			want: internalPlan{ip: "10.0.0.9", bsName: base.lbName}},
		{name: "user's reserved address", sp: spOf(func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.0.0.9" }),
			obs:  &observedInternal{requested: &computepb.Address{Name: ptr("mine"), Address: ptr("10.0.0.9"), AddressType: ptr("INTERNAL")}},
			want: internalPlan{ip: "10.0.0.9", bsName: base.lbName, userOwned: true}},
		{name: "user IP replaces the rule's: recreated, nothing held", sp: spOf(func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.0.0.9" }),
			obs:  &observedInternal{rule: rule(base, "10.0.0.5")},
			want: internalPlan{ip: "10.0.0.9", bsName: base.lbName, recreate: true}},
		{name: "user IP replaces a held one: the Service's address is released", sp: spOf(func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.0.0.9" }),
			obs: &observedInternal{rule: rule(base, "10.0.0.5"),
				address: &computepb.Address{Name: ptr(base.lbName), Address: ptr("10.0.0.5"), AddressType: ptr("INTERNAL"), Subnetwork: subnet.SelfLink}},
			want: internalPlan{ip: "10.0.0.9", bsName: base.lbName, recreate: true, releaseStale: true}},
		{name: "another subnetwork: a new rule with an IP of it, the old address released",
			sp: spOf(func(s *v1.Service) { s.Annotations[SubnetAnnotation] = "s" }),
			obs: &observedInternal{rule: func() *computepb.ForwardingRule {
				fr := rule(base, "10.9.0.5")
				fr.Subnetwork = ptr("https://www.googleapis.com/compute/v1/projects/p/regions/r/subnetworks/old")
				return fr
			}(), address: &computepb.Address{Name: ptr(base.lbName), Address: ptr("10.9.0.5"), AddressType: ptr("INTERNAL"),
				Subnetwork: ptr("https://www.googleapis.com/compute/v1/projects/p/regions/r/subnetworks/old")}},
			want: internalPlan{bsName: base.lbName, recreate: true, releaseStale: true}},
		{name: "user IP outside the subnetwork", sp: spOf(func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.1.0.9" }),
			obs: &observedInternal{}, wantErr: true},
		{name: "user IP held by another rule", sp: spOf(func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.0.0.9" }),
			obs:     &observedInternal{requestedHolders: []*computepb.ForwardingRule{{Name: ptr("x"), IPAddress: ptr("10.0.0.9"), SelfLink: ptr("x")}}},
			wantErr: true},
		{name: "user IP held by an external address", sp: spOf(func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.0.0.9" }),
			obs:     &observedInternal{requested: &computepb.Address{Name: ptr("ext"), Address: ptr("10.0.0.9"), AddressType: ptr("EXTERNAL")}},
			wantErr: true},
		{name: "backend share: the rule moves, its own backend service goes",
			sp:  spOf(func(s *v1.Service) { s.Annotations[BackendShareAnnotation] = "true" }),
			obs: &observedInternal{rule: rule(base, "10.0.0.5"), ruleBS: &computepb.BackendService{Name: ptr(base.lbName)}},
			want: internalPlan{ip: "10.0.0.5", bsName: backendServiceName(base.lbName, "c", true, []v1.Protocol{v1.ProtocolTCP}, v1.ServiceAffinityNone),
				recreate: true, hold: true, staleBS: base.lbName}},
		{name: "Local: the shared health check goes when unused",
			sp: spOf(func(s *v1.Service) {
				s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 31000
			}),
			obs: &observedInternal{rule: rule(base, "10.0.0.5"),
				bs: &computepb.BackendService{Name: ptr(base.lbName), HealthChecks: []string{internalHealthCheckURL("p", nodesHealthCheckName("c"))}}},
			want: internalPlan{ip: "10.0.0.5", bsName: base.lbName, staleHC: nodesHealthCheckName("c")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.obs.subnet = subnet
			p, err := b.makeInternalPlan(tc.sp, "c", tc.obs)
			if tc.wantErr {
				var input *InputError
				if !errors.As(err, &input) {
					t.Fatalf("makeInternalPlan = %v, want an InputError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			opts := cmp.Options{cmp.AllowUnexported(internalPlan{}), cmpopts.IgnoreFields(internalPlan{}, "svc", "sp", "clusterID", "hosts", "tags", "obs", "subnetURL", "hc", "rule")}
			if diff := cmp.Diff(tc.want, *p, opts); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}
