package fakecompute_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

var subnetRange = netip.MustParsePrefix("10.128.0.0/16")

// TestInternalForwardingRules checks that the fake keeps an INTERNAL
// forwarding rule as GCE returns it, with an IP of its subnetwork, so that
// tests can build the state an internal load balancer leaves. Backend
// services are not modelled: the rule's backendService link is only
// canonicalised.
func TestInternalForwardingRules(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	if err := e.insertPool(t, "compute/v1", &gce.TargetPool{Name: "pool"}); err != nil {
		t.Fatal(err)
	}
	pool := regionalLink("targetPools", "pool")
	subnet := regionalLink("subnetworks", network)
	bs := regionalLink("backendServices", "bs")

	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			name := "ilb-" + suffix(client)
			in := &gce.ForwardingRule{Name: name, LoadBalancingScheme: "INTERNAL", IPProtocol: "TCP", Ports: []string{"80"},
				Subnetwork:     "regions/" + region + "/subnetworks/" + network,
				BackendService: "projects/" + project + "/regions/" + region + "/backendServices/bs",
				Description:    `{"kubernetes.io/service-name":"default/internal"}`}
			if err := e.insertFR(t, client, in); err != nil {
				t.Fatalf("insert: %v", err)
			}
			fr, err := e.getFR(t, client, name)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if ip, err := netip.ParseAddr(fr.IPAddress); err != nil || !subnetRange.Contains(ip) {
				t.Errorf("IP %q, want one of the subnetwork's %s", fr.IPAddress, subnetRange)
			}
			want := &gce.ForwardingRule{Kind: "compute#forwardingRule", Name: name, IPAddress: fr.IPAddress, IPProtocol: "TCP",
				Ports: []string{"80"}, LoadBalancingScheme: "INTERNAL", Subnetwork: subnet, Network: networkLink,
				BackendService: bs, Description: in.Description, NetworkTier: "PREMIUM", Region: regionLink,
				Fingerprint: fr.Fingerprint, SelfLink: regionalLink("forwardingRules", name)}
			if diff := cmp.Diff(want, fr, cmpRoute); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}

			if got, want := errOf(t, client, e.setTarget(client, name, pool)), (apiErr{400, "invalid"}); got != want {
				t.Errorf("setTarget on an INTERNAL rule = %v, want %v", got, want)
			}

			// An INTERNAL address: the rule makes it IN_USE, and then it cannot be deleted.
			addr := "ilb-ip-" + suffix(client)
			if err := e.insertAddress(t, client, &gce.Address{Name: addr, AddressType: "INTERNAL"}); err != nil {
				t.Fatal(err)
			}
			a, err := e.getAddress(t, client, addr)
			if err != nil {
				t.Fatal(err)
			}
			withAddr := "ilb-static-" + suffix(client)
			if err := e.insertFR(t, client, &gce.ForwardingRule{Name: withAddr, LoadBalancingScheme: "INTERNAL", IPAddress: a.Address,
				Ports: []string{"80"}, Subnetwork: subnet, BackendService: bs}); err != nil {
				t.Fatalf("insert on the INTERNAL address: %v", err)
			}
			a, err = e.getAddress(t, client, addr)
			if err != nil || a.Status != "IN_USE" || !cmp.Equal(a.Users, []string{regionalLink("forwardingRules", withAddr)}) {
				t.Errorf("address = %+v, %v; want IN_USE by %s", a, err, withAddr)
			}
			if got, want := errOf(t, client, e.deleteAddress(client, addr)), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
				t.Errorf("delete of an INTERNAL address in use = %v, want %v", got, want)
			}

			// An unreserved IP of the subnetwork may be given; it is taken until the rule goes.
			chosen := "10.128.200." + map[string]string{"apiv1": "1", "compute/v1": "2"}[client]
			first := &gce.ForwardingRule{Name: "ilb-chosen-" + suffix(client), LoadBalancingScheme: "INTERNAL", IPAddress: chosen,
				Ports: []string{"80"}, Subnetwork: subnet, BackendService: bs}
			if err := e.insertFR(t, client, first); err != nil {
				t.Fatalf("insert with a chosen IP: %v", err)
			}
			again := *first
			again.Name = "ilb-again-" + suffix(client)
			again.Ports = []string{"81"}
			if got, want := errOf(t, client, e.insertFR(t, client, &again)), (apiErr{400, "invalid"}); got != want {
				t.Errorf("second rule on the chosen IP = %v, want %v", got, want)
			}
			if err := e.deleteFR(client, first.Name); err != nil {
				t.Fatal(err)
			}
			if err := e.insertFR(t, client, &again); err != nil {
				t.Errorf("rule on the IP after its holder went: %v", err)
			}
		})
	}

	t.Run("external pool untouched", func(t *testing.T) {
		e := newEnv(t, fakecompute.Config{})
		if err := e.insertFR(t, "apiv1", &gce.ForwardingRule{Name: "ilb", LoadBalancingScheme: "INTERNAL", Ports: []string{"80"},
			Subnetwork: subnet, BackendService: bs}); err != nil {
			t.Fatal(err)
		}
		if err := e.insertAddress(t, "compute/v1", &gce.Address{Name: "ext"}); err != nil {
			t.Fatal(err)
		}
		// The external pool hands out its IPs in order: the first is still free.
		if a, err := e.getAddress(t, "compute/v1", "ext"); err != nil || a.Address != "198.18.0.1" {
			t.Errorf("first external address = %v, %v; want 198.18.0.1", a.Address, err)
		}
	})

	for _, tc := range []struct {
		name string
		fr   *gce.ForwardingRule
		want apiErr
	}{
		{"unknown scheme", &gce.ForwardingRule{Name: "x-scheme", LoadBalancingScheme: "MAGIC", Target: pool}, apiErr{400, "invalid"}},
		{"no backend service", &gce.ForwardingRule{Name: "x-nobs", LoadBalancingScheme: "INTERNAL", Subnetwork: subnet}, apiErr{400, "required"}},
		{"no subnetwork", &gce.ForwardingRule{Name: "x-nosub", LoadBalancingScheme: "INTERNAL", BackendService: bs}, apiErr{400, "required"}},
		{"missing subnetwork", &gce.ForwardingRule{Name: "x-badsub", LoadBalancingScheme: "INTERNAL", BackendService: bs,
			Subnetwork: regionalLink("subnetworks", "nope")}, apiErr{404, "notFound"}},
		{"target pool", &gce.ForwardingRule{Name: "x-target", LoadBalancingScheme: "INTERNAL", BackendService: bs, Subnetwork: subnet,
			Target: pool}, apiErr{400, "invalid"}},
		{"bad backend service link", &gce.ForwardingRule{Name: "x-bslink", LoadBalancingScheme: "INTERNAL", BackendService: "bs",
			Subnetwork: subnet}, apiErr{400, "invalid"}},
		{"standard tier", &gce.ForwardingRule{Name: "x-tier", LoadBalancingScheme: "INTERNAL", BackendService: bs, Subnetwork: subnet,
			NetworkTier: "STANDARD"}, apiErr{400, "invalid"}},
		{"IP outside the subnetwork", &gce.ForwardingRule{Name: "x-ip", LoadBalancingScheme: "INTERNAL", BackendService: bs,
			Subnetwork: subnet, IPAddress: "198.18.50.50"}, apiErr{400, "invalid"}},
		{"other network", &gce.ForwardingRule{Name: "x-net", LoadBalancingScheme: "INTERNAL", BackendService: bs,
			Subnetwork: subnet, Network: globalLink("networks", "nope")}, apiErr{404, "notFound"}},
	} {
		for _, client := range clientNames {
			t.Run(tc.name+"/"+client, func(t *testing.T) {
				if got := errOf(t, client, e.insertFR(t, client, tc.fr)); got != tc.want {
					t.Errorf("insert = %v, want %v", got, tc.want)
				}
			})
		}
	}
}
