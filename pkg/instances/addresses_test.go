package instances_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestNodeAddressesIPv6 checks the addresses of dual-stack VMs against what
// the long-standing GCE provider reports: the interface's IPv6 address as an
// InternalIP (its internal ipv6Address, else the external IPv6 of an
// EXTERNAL interface, which is the address the VM itself holds), IPv4
// addresses first.
func TestNodeAddressesIPv6(t *testing.T) {
	t.Parallel()
	in, srv := setup(t, time.Minute)
	for _, tc := range []struct {
		name string
		seed fakecompute.InstanceSeed
		want []v1.NodeAddress
	}{
		{
			name: "internal IPv6",
			seed: fakecompute.InstanceSeed{Name: "vm-int", Zone: "us-central1-a", InternalIP: "10.128.0.2", ExternalIP: "198.18.0.2",
				InternalIPv6: "fd20::1:0:2:0:0"},
			want: []v1.NodeAddress{
				{Type: v1.NodeInternalIP, Address: "10.128.0.2"},
				{Type: v1.NodeExternalIP, Address: "198.18.0.2"},
				{Type: v1.NodeInternalIP, Address: "fd20::1:0:2:0:0"},
				{Type: v1.NodeHostName, Address: "vm-int.us-central1-a.c.fake-project.internal"},
			},
		},
		{
			name: "external IPv6",
			seed: fakecompute.InstanceSeed{Name: "vm-ext", Zone: "us-central1-a", InternalIP: "10.128.0.3", NoExternalIP: true,
				ExternalIPv6: "2600:1900:4000:1:0:3::"},
			want: []v1.NodeAddress{
				{Type: v1.NodeInternalIP, Address: "10.128.0.3"},
				{Type: v1.NodeInternalIP, Address: "2600:1900:4000:1:0:3::"},
				{Type: v1.NodeHostName, Address: "vm-ext.us-central1-a.c.fake-project.internal"},
			},
		},
		{
			name: "IPv4 only",
			seed: fakecompute.InstanceSeed{Name: "vm-v4", Zone: "us-central1-a", InternalIP: "10.128.0.4", NoExternalIP: true},
			want: []v1.NodeAddress{
				{Type: v1.NodeInternalIP, Address: "10.128.0.4"},
				{Type: v1.NodeHostName, Address: "vm-v4.us-central1-a.c.fake-project.internal"},
			},
		},
	} {
		if err := srv.AddInstance(tc.seed); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		t.Run(tc.name, func(t *testing.T) {
			md, err := in.InstanceMetadata(context.Background(), node(tc.seed.Name, ""))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, md.NodeAddresses); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
		})
	}
}
