package fakecompute_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestReleaseExternalAddressInUse checks what GCE does when an EXTERNAL
// address that forwarding rules use is deleted: the reservation goes, the
// rules keep the IP as an ephemeral IP, nothing else gets the IP until the
// last rule holding it is gone, and the IP can be promoted to a static
// address again. The external pool is tiny so that any reuse of the IP shows.
func TestReleaseExternalAddressInUse(t *testing.T) {
	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			// 198.18.0.1-.15: 15 IPs.
			e := newEnv(t, fakecompute.Config{ExternalCIDR: "198.18.0.0/28"})
			if err := e.insertPool(t, client, &gce.TargetPool{Name: "pool"}); err != nil {
				t.Fatal(err)
			}
			pool := regionalLink("targetPools", "pool")
			if err := e.insertAddress(t, client, &gce.Address{Name: "lb"}); err != nil {
				t.Fatal(err)
			}
			a, err := e.getAddress(t, client, "lb")
			if err != nil {
				t.Fatal(err)
			}
			ip := a.Address
			for _, fr := range []*gce.ForwardingRule{
				{Name: "tcp", IPAddress: ip, IPProtocol: "TCP", PortRange: "80", Target: pool},
				{Name: "udp", IPAddress: ip, IPProtocol: "UDP", PortRange: "53", Target: pool},
			} {
				if err := e.insertFR(t, client, fr); err != nil {
					t.Fatalf("insert %s: %v", fr.Name, err)
				}
			}
			rules := []string{regionalLink("forwardingRules", "tcp"), regionalLink("forwardingRules", "udp")}

			if err := e.deleteAddress(client, "lb"); err != nil {
				t.Fatalf("delete of an EXTERNAL address in use: %v, want success", err)
			}
			if _, err := e.getAddress(t, client, "lb"); errOf(t, client, err) != (apiErr{404, "notFound"}) {
				t.Errorf("get after release = %v, want notFound", err)
			}
			for _, name := range []string{"tcp", "udp"} {
				fr, err := e.getFR(t, client, name)
				if err != nil || fr.IPAddress != ip {
					t.Errorf("rule %s after release: IP %v, %v; want %s", name, fr.IPAddress, err, ip)
				}
			}

			// Promotion: an address inserted with the rules' IP takes them as users.
			if err := e.insertAddress(t, client, &gce.Address{Name: "promoted", Address: ip}); err != nil {
				t.Fatalf("promote the released IP: %v", err)
			}
			p, err := e.getAddress(t, client, "promoted")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rules, p.Users); p.Status != "IN_USE" || diff != "" {
				t.Errorf("promoted address: status %s, users (-want +got):\n%s", p.Status, diff)
			}
			if err := e.deleteAddress(client, "promoted"); err != nil {
				t.Fatalf("release the promoted address: %v", err)
			}

			// Every other IP of the pool can be reserved, the rules' IP cannot.
			var got []string
			for i := 0; ; i++ {
				name := fmt.Sprintf("fill-%d", i)
				err := e.insertAddress(t, client, &gce.Address{Name: name})
				if err != nil {
					if got := errOf(t, client, err); got != (apiErr{403, "ipSpaceExhausted"}) {
						t.Fatalf("insert %s = %v, want 403 ipSpaceExhausted once the pool is used up", name, got)
					}
					break
				}
				a, err := e.getAddress(t, client, name)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, a.Address)
				if i > 20 {
					t.Fatalf("more addresses than the pool holds: %v", got)
				}
			}
			if len(got) != 14 || slices.Contains(got, ip) {
				t.Errorf("reserved %v (%d); want the 14 IPs other than the rules' %s", got, len(got), ip)
			}
			err = e.insertFR(t, client, &gce.ForwardingRule{Name: "ephemeral", Target: pool})
			if got := errOf(t, client, err); got != (apiErr{403, "ipSpaceExhausted"}) {
				t.Errorf("ephemeral rule with the pool used up = %v, want 403 ipSpaceExhausted", got)
			}

			// The IP is free only once the last rule holding it is gone.
			steps := []struct {
				deleteRule string
				want       apiErr
			}{
				{"tcp", apiErr{403, "ipSpaceExhausted"}},
				{"udp", apiErr{}},
			}
			for _, s := range steps {
				if err := e.deleteFR(client, s.deleteRule); err != nil {
					t.Fatalf("delete rule %s: %v", s.deleteRule, err)
				}
				name := "after-" + s.deleteRule
				if got := errOf(t, client, e.insertAddress(t, client, &gce.Address{Name: name})); got != s.want {
					t.Fatalf("insert after deleting rule %s = %v, want %v", s.deleteRule, got, s.want)
				}
			}
			if a, err := e.getAddress(t, client, "after-udp"); err != nil || a.Address != ip {
				t.Errorf("address after the last rule went = %v, %v; want the freed IP %s", a.Address, err, ip)
			}
		})
	}
}
