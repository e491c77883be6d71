package loadbalancer

import (
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	v1 "k8s.io/api/core/v1"
)

func TestForwardingRuleNeedsUpdate(t *testing.T) {
	t.Parallel()
	sp := &spec{key: "ns/web", ports: map[v1.Protocol][]int32{v1.ProtocolTCP: {80, 443}}}
	pool := targetPoolURL("p", "us-central1", "aweb")
	want := desiredForwardingRule("aweb", sp, v1.ProtocolTCP, "203.0.113.7", tierPremium, pool)
	change := func(f func(*computepb.ForwardingRule)) *computepb.ForwardingRule {
		fr := proto.Clone(want).(*computepb.ForwardingRule)
		f(fr)
		return fr
	}
	for _, tc := range []struct {
		name               string
		have               *computepb.ForwardingRule
		recreate, retarget bool
	}{
		{"identical", want, false, false},
		{"defaults left out", change(func(fr *computepb.ForwardingRule) { fr.NetworkTier, fr.LoadBalancingScheme = nil, nil }), false, false},
		{"other pool", change(func(fr *computepb.ForwardingRule) { fr.Target = ptr(targetPoolURL("p", "us-central1", "aweb-alt")) }), false, true},
		{"ports", change(func(fr *computepb.ForwardingRule) { fr.PortRange = ptr("80-80") }), true, false},
		{"port list", change(func(fr *computepb.ForwardingRule) { fr.PortRange, fr.Ports = nil, []string{"80", "443"} }), true, false},
		{"protocol", change(func(fr *computepb.ForwardingRule) { fr.IPProtocol = ptr("UDP") }), true, false},
		{"IP", change(func(fr *computepb.ForwardingRule) { fr.IPAddress = ptr("203.0.113.8") }), true, false},
		{"tier", change(func(fr *computepb.ForwardingRule) { fr.NetworkTier = ptr(tierStandard) }), true, false},
		{"IP and pool", change(func(fr *computepb.ForwardingRule) {
			fr.IPAddress, fr.Target = ptr("203.0.113.8"), ptr(targetPoolURL("p", "us-central1", "aweb-alt"))
		}), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recreate, retarget := forwardingRuleNeedsUpdate(want, tc.have)
			if recreate != tc.recreate || retarget != tc.retarget {
				t.Errorf("forwardingRuleNeedsUpdate = (%v, %v), want (%v, %v)", recreate, retarget, tc.recreate, tc.retarget)
			}
		})
	}
}

func TestAssignRuleNames(t *testing.T) {
	t.Parallel()
	const lb = "aweb"
	tcp, udp := v1.ProtocolTCP, v1.ProtocolUDP
	for _, tc := range []struct {
		name string
		want []v1.Protocol
		have map[string]string
		out  map[v1.Protocol]string
	}{
		{"new TCP", []v1.Protocol{tcp}, nil, map[v1.Protocol]string{tcp: lb}},
		{"new UDP", []v1.Protocol{udp}, nil, map[v1.Protocol]string{udp: lb}},
		{"new both", []v1.Protocol{tcp, udp}, nil, map[v1.Protocol]string{tcp: lb, udp: lb + "-udp"}},
		{"UDP added to a UDP service keeps its rule", []v1.Protocol{tcp, udp}, map[string]string{lb: "UDP"},
			map[v1.Protocol]string{udp: lb, tcp: lb + "-tcp"}},
		{"TCP dropped: UDP stays on its suffixed rule", []v1.Protocol{udp}, map[string]string{lb: "TCP", lb + "-udp": "UDP"},
			map[v1.Protocol]string{udp: lb + "-udp"}},
		{"protocol switched", []v1.Protocol{udp}, map[string]string{lb: "TCP"}, map[v1.Protocol]string{udp: lb}},
		{"TCP back next to a suffixed UDP rule", []v1.Protocol{tcp, udp}, map[string]string{lb + "-udp": "UDP"},
			map[v1.Protocol]string{tcp: lb, udp: lb + "-udp"}},
		{"suffixed rule with the wrong protocol", []v1.Protocol{tcp, udp}, map[string]string{lb: "TCP", lb + "-udp": "TCP"},
			map[v1.Protocol]string{tcp: lb, udp: lb + "-udp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.out, assignRuleNames(lb, tc.want, tc.have)); diff != "" {
				t.Errorf("assignRuleNames (-want +got):\n%s", diff)
			}
		})
	}
}
