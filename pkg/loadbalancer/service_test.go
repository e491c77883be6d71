package loadbalancer

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testService(mutate func(*v1.Service)) *v1.Service {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "11111111-2222-4333-8444-555555555555"},
		Spec: v1.ServiceSpec{
			Type:  v1.ServiceTypeLoadBalancer,
			Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80}},
		},
	}
	if mutate != nil {
		mutate(svc)
	}
	return svc
}

func TestParseService(t *testing.T) {
	t.Parallel()
	base := spec{key: "ns/web", lbName: "a1111111122224333844455555555555", ports: map[v1.Protocol][]int32{v1.ProtocolTCP: {80}},
		protocols: []v1.Protocol{v1.ProtocolTCP}, sourceRanges: []string{"0.0.0.0/0"}, tier: tierPremium, affinity: affinityNone}
	with := func(f func(*spec)) *spec {
		s := base
		s.ports = map[v1.Protocol][]int32{}
		for k, v := range base.ports {
			s.ports[k] = v
		}
		f(&s)
		return &s
	}
	for _, tc := range []struct {
		name      string
		mutate    func(*v1.Service)
		want      *spec
		wantField string // of the InputError
	}{
		{name: "defaults", want: &base},
		{name: "tcp and udp, sorted and deduplicated", mutate: func(s *v1.Service) {
			s.Spec.Ports = []v1.ServicePort{{Protocol: v1.ProtocolUDP, Port: 53}, {Protocol: v1.ProtocolTCP, Port: 443}, {Protocol: v1.ProtocolTCP, Port: 53}, {Port: 80}}
		}, want: with(func(s *spec) {
			s.ports = map[v1.Protocol][]int32{v1.ProtocolTCP: {53, 80, 443}, v1.ProtocolUDP: {53}}
			s.protocols = []v1.Protocol{v1.ProtocolTCP, v1.ProtocolUDP}
		})},
		{name: "source ranges from the field win over the annotation", mutate: func(s *v1.Service) {
			s.Spec.LoadBalancerSourceRanges = []string{" 10.0.0.1/8", "192.168.0.0/16", "10.0.0.0/8"}
			s.Annotations = map[string]string{SourceRangesAnnotation: "1.2.3.4/32"}
		}, want: with(func(s *spec) { s.sourceRanges = []string{"10.0.0.0/8", "192.168.0.0/16"} })},
		{name: "source ranges from the annotation", mutate: func(s *v1.Service) {
			s.Annotations = map[string]string{SourceRangesAnnotation: "1.2.3.4/32, 5.6.0.0/16"}
		}, want: with(func(s *spec) { s.sourceRanges = []string{"1.2.3.4/32", "5.6.0.0/16"} })},
		{name: "standard tier, any case", mutate: func(s *v1.Service) {
			s.Annotations = map[string]string{NetworkTierAnnotation: "Standard"}
		}, want: with(func(s *spec) { s.tier, s.tierExplicit = tierStandard, true })},
		{name: "client IP affinity, local traffic, requested IP", mutate: func(s *v1.Service) {
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 31000
			s.Spec.LoadBalancerIP = "203.0.113.9"
		}, want: with(func(s *spec) {
			s.affinity, s.local, s.hcPort, s.requestedIP = affinityClientIP, true, 31000, "203.0.113.9"
		})},
		{name: "no ports", mutate: func(s *v1.Service) { s.Spec.Ports = nil }, wantField: "spec.ports"},
		{name: "SCTP", mutate: func(s *v1.Service) { s.Spec.Ports[0].Protocol = v1.ProtocolSCTP }, wantField: "spec.ports[0].protocol"},
		{name: "malformed IP", mutate: func(s *v1.Service) { s.Spec.LoadBalancerIP = "203.0.113" }, wantField: "spec.loadBalancerIP"},
		{name: "IPv6 IP", mutate: func(s *v1.Service) { s.Spec.LoadBalancerIP = "2001:db8::1" }, wantField: "spec.loadBalancerIP"},
		{name: "bad source range", mutate: func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/33"} },
			wantField: "spec.loadBalancerSourceRanges"},
		{name: "bad annotation range", mutate: func(s *v1.Service) {
			s.Annotations = map[string]string{SourceRangesAnnotation: "10.0.0.0/8,everyone"}
		}, wantField: "metadata.annotations[" + SourceRangesAnnotation + "]"},
		{name: "IPv6 source range", mutate: func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"2001:db8::/32"} },
			wantField: "spec.loadBalancerSourceRanges"},
		{name: "unknown tier", mutate: func(s *v1.Service) { s.Annotations = map[string]string{NetworkTierAnnotation: "Gold"} },
			wantField: "metadata.annotations[" + NetworkTierAnnotation + "]"},
		{name: "IPv6 only", mutate: func(s *v1.Service) { s.Spec.IPFamilies = []v1.IPFamily{v1.IPv6Protocol} }, wantField: "spec.ipFamilies"},
		{name: "local without health check port", mutate: func(s *v1.Service) {
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
		}, wantField: "spec.healthCheckNodePort"},
		{name: "more separate ports than a firewall holds", mutate: func(s *v1.Service) {
			s.Spec.Ports = nil
			for i := range 101 {
				s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Protocol: v1.ProtocolTCP, Port: int32(1000 + 2*i)})
			}
		}, wantField: "spec.ports"},
		{name: "many consecutive ports are one range", mutate: func(s *v1.Service) {
			s.Spec.Ports = nil
			for i := range 150 {
				s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Protocol: v1.ProtocolTCP, Port: int32(1000 + i)})
			}
		}, want: with(func(s *spec) {
			s.ports = map[v1.Protocol][]int32{}
			for i := range 150 {
				s.ports[v1.ProtocolTCP] = append(s.ports[v1.ProtocolTCP], int32(1000+i))
			}
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseService(testService(tc.mutate))
			if tc.wantField != "" {
				var ie *InputError
				if !errors.As(err, &ie) || ie.Field != tc.wantField {
					t.Fatalf("err = %v, want an InputError for %s", err, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(spec{})); diff != "" {
				t.Errorf("parseService (-want +got):\n%s", diff)
			}
		})
	}
}
