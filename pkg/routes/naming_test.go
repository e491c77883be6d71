package routes

import (
	"net/netip"
	"testing"
)

// TestRouteNameGolden pins route names: changing them would orphan every
// existing cluster's routes.
func TestRouteNameGolden(t *testing.T) {
	t.Parallel()
	const uid = "3f1c2e6a-9b7d-4c2a-8e11-0a1b2c3d4e5f"
	tests := []struct {
		name, cluster, cidr, want string
	}{
		{"ipv4", "kubernetes", "10.244.1.0/24", "kubernetes-3f1c2e6a-9b7d-4c2a-8e11-0a1b2c3d4e5f"},
		{"ipv6", "kubernetes", "fd00:10:244:1::/64", "kubernetes-3f1c2e6a9b7d4c2a8e110a1b2c3d4e5f-v6"},
		{"long cluster name truncated", "a-very-long-cluster-name-that-goes-on", "10.0.0.0/24",
			"a-very-long-cluster-name-t-3f1c2e6a-9b7d-4c2a-8e11-0a1b2c3d4e5f"},
		{"long cluster ipv6", "a-very-long-cluster-name-that-goes-on", "fd00::/64",
			"a-very-long-cluster-name-t-3f1c2e6a9b7d4c2a8e110a1b2c3d4e5f-v6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := routeName(tc.cluster, uid, netip.MustParsePrefix(tc.cidr))
			if got != tc.want {
				t.Errorf("routeName = %q, want %q", got, tc.want)
			}
			if len(got) > 63 {
				t.Errorf("routeName %q is %d characters, GCE allows 63", got, len(got))
			}
		})
	}
}
