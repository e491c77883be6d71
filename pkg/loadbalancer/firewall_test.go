package loadbalancer

import (
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	v1 "k8s.io/api/core/v1"
)

const testNetwork = "https://www.googleapis.com/compute/v1/projects/p/global/networks/default"

func TestFirewallAllowed(t *testing.T) {
	t.Parallel()
	got := firewallAllowed(map[v1.Protocol][]int32{v1.ProtocolTCP: {80, 81, 82, 443, 8080}, v1.ProtocolUDP: {53}})
	want := []*computepb.Allowed{
		{IPProtocol: ptr("tcp"), Ports: []string{"80-82", "443", "8080"}},
		{IPProtocol: ptr("udp"), Ports: []string{"53"}},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("firewallAllowed (-want +got):\n%s", diff)
	}
}

func TestFirewallNeedsUpdate(t *testing.T) {
	t.Parallel()
	sp := &spec{key: "ns/web", lbName: "aweb", ports: map[v1.Protocol][]int32{v1.ProtocolTCP: {80, 81}},
		sourceRanges: []string{"10.0.0.0/8", "192.168.0.0/16"}}
	want := serviceFirewall(sp, "203.0.113.7", testNetwork, []string{"node", "pool"})
	change := func(f func(fw *computepb.Firewall)) *computepb.Firewall {
		fw := proto.Clone(want).(*computepb.Firewall)
		f(fw)
		return fw
	}
	for _, tc := range []struct {
		name string
		have *computepb.Firewall
		want bool
	}{
		{"identical", want, false},
		{"same in other forms", change(func(fw *computepb.Firewall) {
			fw.Network = ptr("projects/p/global/networks/default")
			fw.Direction = nil
			fw.Allowed = []*computepb.Allowed{{IPProtocol: ptr("TCP"), Ports: []string{"81", "80"}}}
			fw.SourceRanges = []string{"192.168.0.0/16", "10.1.2.3/8"}
			fw.TargetTags = []string{"pool", "node", "pool"}
			fw.DestinationRanges = []string{"203.0.113.7"}
		}), false},
		{"priority unset is GCE's default", change(func(fw *computepb.Firewall) { fw.Priority = nil }), false},
		{"priority drifted", change(func(fw *computepb.Firewall) { fw.Priority = ptr(int32(900)) }), true},
		{"description", change(func(fw *computepb.Firewall) { fw.Description = ptr(firewallDescription("ns/web", "203.0.113.8")) }), true},
		{"port added", change(func(fw *computepb.Firewall) { fw.Allowed[0].Ports = []string{"80"} }), true},
		{"all ports", change(func(fw *computepb.Firewall) { fw.Allowed[0].Ports = nil }), true},
		{"protocol", change(func(fw *computepb.Firewall) { fw.Allowed[0].IPProtocol = ptr("udp") }), true},
		{"source range", change(func(fw *computepb.Firewall) { fw.SourceRanges = []string{"0.0.0.0/0"} }), true},
		{"target tags", change(func(fw *computepb.Firewall) { fw.TargetTags = []string{"node"} }), true},
		{"destination", change(func(fw *computepb.Firewall) { fw.DestinationRanges = nil }), true},
		{"network", change(func(fw *computepb.Firewall) { fw.Network = ptr("projects/p/global/networks/other") }), true},
		{"disabled", change(func(fw *computepb.Firewall) { fw.Disabled = ptr(true) }), true},
		{"source tags widen it", change(func(fw *computepb.Firewall) { fw.SourceTags = []string{"bastion"} }), true},
		{"egress", change(func(fw *computepb.Firewall) { fw.Direction = ptr("EGRESS") }), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := firewallNeedsUpdate(want, tc.have); got != tc.want {
				t.Errorf("firewallNeedsUpdate = %v, want %v", got, tc.want)
			}
		})
	}
}

// A health check firewall of the long-standing provider that names a
// destination serves only that load balancer's probes; the shared one must
// serve all.
func TestNodesHealthCheckFirewallNeedsUpdate(t *testing.T) {
	t.Parallel()
	want := nodesHealthCheckFirewall("c1", testNetwork, []string{"node"}, defaultProberRanges)
	have := proto.Clone(want).(*computepb.Firewall)
	if firewallNeedsUpdate(want, have) {
		t.Error("identical shared firewall needs an update")
	}
	have.DestinationRanges = []string{"203.0.113.7"}
	if !firewallNeedsUpdate(want, have) {
		t.Error("shared firewall limited to one IP needs no update")
	}
}
