package fakecompute_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

var externalPool = netip.MustParsePrefix("198.18.0.0/15")

// suffix makes resource names unique per client in a shared fake.
func suffix(client string) string {
	if client == "apiv1" {
		return "v1"
	}
	return "old"
}

func TestAddresses(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	if err := e.insertPool(t, "compute/v1", &gce.TargetPool{Name: "pool"}); err != nil {
		t.Fatal(err)
	}
	pool := regionalLink("targetPools", "pool")
	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			name, frName := "addr-"+suffix(client), "fr-"+suffix(client)
			if err := e.insertAddress(t, client, &gce.Address{Name: name, Description: "d"}); err != nil {
				t.Fatalf("insert: %v", err)
			}
			a, err := e.getAddress(t, client, name)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			ip, perr := netip.ParseAddr(a.Address)
			if perr != nil || !externalPool.Contains(ip) {
				t.Errorf("allocated address %q, want one of %s", a.Address, externalPool)
			}
			want := &gce.Address{Kind: "compute#address", Name: name, Description: "d", Address: a.Address,
				Status: "RESERVED", NetworkTier: "PREMIUM", AddressType: "EXTERNAL",
				Region: regionLink, SelfLink: regionalLink("addresses", name)}
			if diff := cmp.Diff(want, a, cmpRoute); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}

			// A forwarding rule on the address makes it IN_USE with the rule as user.
			if err := e.insertFR(t, client, &gce.ForwardingRule{Name: frName, IPAddress: a.Address, IPProtocol: "TCP",
				PortRange: "80-80", Target: pool}); err != nil {
				t.Fatalf("insert forwarding rule: %v", err)
			}
			a, err = e.getAddress(t, client, name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{regionalLink("forwardingRules", frName)}, a.Users); a.Status != "IN_USE" || diff != "" {
				t.Errorf("address in use: status %s, users (-want +got):\n%s", a.Status, diff)
			}
			got, err := e.listAddresses(t, client, "address eq "+a.Address)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if diff := cmp.Diff([]string{name}, got); diff != "" {
				t.Errorf("list by address (-want +got):\n%s", diff)
			}

			if err := e.deleteFR(client, frName); err != nil {
				t.Fatalf("delete forwarding rule: %v", err)
			}
			a, err = e.getAddress(t, client, name)
			if err != nil || a.Status != "RESERVED" || len(a.Users) != 0 {
				t.Errorf("address after its user went = %+v, %v; want RESERVED without users", a, err)
			}
			if err := e.deleteAddress(client, name); err != nil {
				t.Fatalf("delete: %v", err)
			}
			got, err = e.listAddresses(t, client, "address eq "+a.Address)
			if err != nil || len(got) != 0 {
				t.Errorf("list after delete = %v, %v", got, err)
			}
		})
	}

	t.Run("given address", func(t *testing.T) {
		if err := e.insertAddress(t, "apiv1", &gce.Address{Name: "static", Address: "198.18.200.1", NetworkTier: "STANDARD"}); err != nil {
			t.Fatal(err)
		}
		a, err := e.getAddress(t, "compute/v1", "static")
		if err != nil || a.Address != "198.18.200.1" || a.NetworkTier != "STANDARD" {
			t.Errorf("get = %+v, %v", a, err)
		}
		for _, tc := range []struct {
			name string
			addr *gce.Address
			want apiErr
		}{
			{"taken", &gce.Address{Name: "static-2", Address: "198.18.200.1"}, apiErr{400, "invalid"}},
			{"outside the pool", &gce.Address{Name: "static-3", Address: "8.8.8.8"}, apiErr{400, "invalid"}},
			{"not an IP", &gce.Address{Name: "static-4", Address: "nope"}, apiErr{400, "invalid"}},
			{"bad tier", &gce.Address{Name: "static-5", NetworkTier: "GOLD"}, apiErr{400, "invalid"}},
			{"duplicate name", &gce.Address{Name: "static"}, apiErr{409, "alreadyExists"}},
		} {
			for _, client := range clientNames {
				t.Run(tc.name+"/"+client, func(t *testing.T) {
					if got := errOf(t, client, e.insertAddress(t, client, tc.addr)); got != tc.want {
						t.Errorf("insert = %v, want %v", got, tc.want)
					}
				})
			}
		}
	})

	t.Run("ephemeral IP promoted to static", func(t *testing.T) {
		if err := e.insertFR(t, "compute/v1", &gce.ForwardingRule{Name: "fr-eph", Target: pool}); err != nil {
			t.Fatal(err)
		}
		fr, err := e.getFR(t, "compute/v1", "fr-eph")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.insertAddress(t, "apiv1", &gce.Address{Name: "promoted", Address: fr.IPAddress}); err != nil {
			t.Fatalf("reserve the ephemeral IP: %v", err)
		}
		a, err := e.getAddress(t, "apiv1", "promoted")
		if err != nil || a.Status != "IN_USE" || len(a.Users) != 1 {
			t.Errorf("promoted address = %+v, %v; want IN_USE by fr-eph", a, err)
		}
	})
}

func TestForwardingRules(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	for _, p := range []string{"pool-a", "pool-b"} {
		if err := e.insertPool(t, "compute/v1", &gce.TargetPool{Name: p}); err != nil {
			t.Fatal(err)
		}
	}
	poolA, poolB := regionalLink("targetPools", "pool-a"), regionalLink("targetPools", "pool-b")
	if err := e.insertAddress(t, "compute/v1", &gce.Address{Name: "lb-ip", Address: "198.18.100.1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.insertFR(t, "compute/v1", &gce.ForwardingRule{Name: "web-tcp", IPAddress: "198.18.100.1", IPProtocol: "TCP",
		Ports: []string{"80", "443"}, Target: poolA}); err != nil {
		t.Fatalf("insert web-tcp: %v", err)
	}

	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			name := "fr-" + suffix(client)
			if err := e.insertFR(t, client, &gce.ForwardingRule{Name: name, IPProtocol: "UDP", PortRange: "53", Target: poolA,
				Description: `{"kubernetes.io/service-name":"ns/svc"}`}); err != nil {
				t.Fatalf("insert: %v", err)
			}
			fr, err := e.getFR(t, client, name)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			ip, perr := netip.ParseAddr(fr.IPAddress)
			if perr != nil || !externalPool.Contains(ip) {
				t.Errorf("ephemeral IP %q, want one of %s", fr.IPAddress, externalPool)
			}
			want := &gce.ForwardingRule{Kind: "compute#forwardingRule", Name: name, IPAddress: fr.IPAddress,
				IPProtocol: "UDP", PortRange: "53", Target: poolA, Description: `{"kubernetes.io/service-name":"ns/svc"}`,
				NetworkTier: "PREMIUM", LoadBalancingScheme: "EXTERNAL", Region: fr.Region, Fingerprint: fr.Fingerprint,
				SelfLink: regionalLink("forwardingRules", name)}
			if diff := cmp.Diff(want, fr, cmpRoute); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}
			if err := e.setTarget(client, name, poolB); err != nil {
				t.Fatalf("setTarget: %v", err)
			}
			if fr, err := e.getFR(t, client, name); err != nil || fr.Target != poolB {
				t.Errorf("after setTarget target = %v, %v; want %s", fr.Target, err, poolB)
			}
			err = e.setTarget(client, name, regionalLink("targetPools", "nope"))
			if got, want := errOf(t, client, err), (apiErr{404, "notFound"}); got != want {
				t.Errorf("setTarget to a missing pool = %v, want %v", got, want)
			}
			if got := e.listFRs(t, client); !slices.Contains(got, name) || !slices.Contains(got, "web-tcp") {
				t.Errorf("list = %v, want %s and web-tcp in it", got, name)
			}
		})
	}

	for _, tc := range []struct {
		name string
		fr   *gce.ForwardingRule
		want apiErr
	}{
		{"portRange and ports", &gce.ForwardingRule{Name: "x-both", PortRange: "80", Ports: []string{"80"}, Target: poolA}, apiErr{400, "invalid"}},
		{"six ports", &gce.ForwardingRule{Name: "x-six", Ports: []string{"1", "2", "3", "4", "5", "6"}, Target: poolA}, apiErr{400, "invalid"}},
		{"port range in ports", &gce.ForwardingRule{Name: "x-range", Ports: []string{"80-90"}, Target: poolA}, apiErr{400, "invalid"}},
		{"bad port range", &gce.ForwardingRule{Name: "x-badrange", PortRange: "90-80", Target: poolA}, apiErr{400, "invalid"}},
		{"missing target", &gce.ForwardingRule{Name: "x-missing", Target: regionalLink("targetPools", "nope")}, apiErr{404, "notFound"}},
		{"no target", &gce.ForwardingRule{Name: "x-none"}, apiErr{400, "required"}},
		{"bad protocol", &gce.ForwardingRule{Name: "x-proto", IPProtocol: "QUIC", Target: poolA}, apiErr{400, "invalid"}},
		{"unreserved IP", &gce.ForwardingRule{Name: "x-unreserved", IPAddress: "198.18.150.1", Target: poolA}, apiErr{400, "invalid"}},
		{"same IP and protocol, overlapping port", &gce.ForwardingRule{Name: "x-overlap", IPAddress: "198.18.100.1", IPProtocol: "TCP",
			PortRange: "400-450", Target: poolA}, apiErr{400, "invalid"}},
		{"same IP and protocol, all ports", &gce.ForwardingRule{Name: "x-all", IPAddress: "198.18.100.1", IPProtocol: "TCP", Target: poolA}, apiErr{400, "invalid"}},
		{"tier differs from the address", &gce.ForwardingRule{Name: "x-tier", IPAddress: "198.18.100.1", IPProtocol: "UDP",
			NetworkTier: "STANDARD", Target: poolA}, apiErr{400, "invalid"}},
		{"duplicate name", &gce.ForwardingRule{Name: "web-tcp", Target: poolA}, apiErr{409, "alreadyExists"}},
	} {
		for _, client := range clientNames {
			t.Run(tc.name+"/"+client, func(t *testing.T) {
				if got := errOf(t, client, e.insertFR(t, client, tc.fr)); got != tc.want {
					t.Errorf("insert = %v, want %v", got, tc.want)
				}
			})
		}
	}

	t.Run("TCP and UDP on one static IP", func(t *testing.T) {
		for i, client := range clientNames {
			fr := &gce.ForwardingRule{Name: "dns-" + suffix(client), IPAddress: "198.18.100.1", Target: poolA}
			fr.IPProtocol = []string{"UDP", "TCP"}[i]
			if fr.IPProtocol == "TCP" {
				fr.PortRange = "53" // TCP 80 and 443 are taken by web-tcp
			} else {
				fr.Ports = []string{"80", "443"}
			}
			if err := e.insertFR(t, client, fr); err != nil {
				t.Errorf("insert %s %s: %v", fr.Name, fr.IPProtocol, err)
			}
		}
		a, err := e.getAddress(t, "apiv1", "lb-ip")
		if err != nil {
			t.Fatal(err)
		}
		wantUsers := []string{regionalLink("forwardingRules", "dns-old"), regionalLink("forwardingRules", "dns-v1"),
			regionalLink("forwardingRules", "web-tcp")}
		if diff := cmp.Diff(wantUsers, a.Users, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
	})
}

func TestTargetPools(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "n1", "n2", "n3")
	n1, n2, n3 := instanceLink(zoneA, "n1"), instanceLink(zoneA, "n2"), instanceLink(zoneA, "n3")
	for _, hc := range []string{"hc-1", "hc-2"} {
		if err := e.insertHealthCheck(&gce.HttpHealthCheck{Name: hc, Port: 10256, RequestPath: "/healthz"}); err != nil {
			t.Fatal(err)
		}
	}
	hc1, hc2 := globalLink("httpHealthChecks", "hc-1"), globalLink("httpHealthChecks", "hc-2")

	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			name := "pool-" + suffix(client)
			if err := e.insertPool(t, client, &gce.TargetPool{Name: name, Instances: []string{n1, "zones/" + zoneA + "/instances/n2"},
				HealthChecks: []string{hc1}, SessionAffinity: "CLIENT_IP"}); err != nil {
				t.Fatalf("insert: %v", err)
			}
			tp, err := e.getPool(t, client, name)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			want := &gce.TargetPool{Kind: "compute#targetPool", Name: name, Instances: []string{n1, n2}, HealthChecks: []string{hc1},
				SessionAffinity: "CLIENT_IP", Region: tp.Region, SelfLink: regionalLink("targetPools", name)}
			if diff := cmp.Diff(want, tp, cmpRoute); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}

			steps := []struct {
				name          string
				do            func() error
				wantInstances []string
				wantHCs       []string
			}{
				{"addInstance", func() error { return e.addInstances(client, name, n3, n1) }, []string{n1, n2, n3}, []string{hc1}},
				{"removeInstance", func() error { return e.removeInstances(client, name, n1, n2) }, []string{n3}, []string{hc1}},
				{"removeHealthCheck", func() error { return e.removeHealthCheck(client, name, hc1) }, []string{n3}, nil},
				{"addHealthCheck", func() error { return e.addHealthCheck(client, name, hc2) }, []string{n3}, []string{hc2}},
			}
			for _, s := range steps {
				if err := s.do(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				tp, err := e.getPool(t, client, name)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(s.wantInstances, tp.Instances, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("instances after %s (-want +got):\n%s", s.name, diff)
				}
				if diff := cmp.Diff(s.wantHCs, tp.HealthChecks, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("health checks after %s (-want +got):\n%s", s.name, diff)
				}
			}

			for _, tc := range []struct {
				name string
				err  error
				want apiErr
			}{
				{"addInstance of a missing VM", e.addInstances(client, name, instanceLink(zoneA, "ghost")), apiErr{404, "notFound"}},
				{"addInstance to a missing pool", e.addInstances(client, "nope", n1), apiErr{404, "notFound"}},
				{"second health check", e.addHealthCheck(client, name, hc1), apiErr{400, "invalid"}},
				{"missing health check", e.addHealthCheck(client, name, globalLink("httpHealthChecks", "nope")), apiErr{404, "notFound"}},
			} {
				if got := errOf(t, client, tc.err); got != tc.want {
					t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
				}
			}

			// A pool a forwarding rule uses cannot go; a health check a pool uses cannot either.
			if err := e.insertFR(t, client, &gce.ForwardingRule{Name: "fr-" + suffix(client), Target: regionalLink("targetPools", name)}); err != nil {
				t.Fatal(err)
			}
			if got, want := errOf(t, client, e.deletePool(client, name)), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
				t.Errorf("delete of a pool in use = %v, want %v", got, want)
			}
			if err := e.deleteFR(client, "fr-"+suffix(client)); err != nil {
				t.Fatal(err)
			}
			if err := e.deletePool(client, name); err != nil {
				t.Errorf("delete of an unused pool: %v", err)
			}
			if _, err := e.getPool(t, client, name); errOf(t, client, err) != (apiErr{404, "notFound"}) {
				t.Errorf("get after delete = %v, want notFound", err)
			}
		})
	}

	t.Run("health check in use", func(t *testing.T) {
		if err := e.insertPool(t, "apiv1", &gce.TargetPool{Name: "pool-hc", HealthChecks: []string{hc1}}); err != nil {
			t.Fatal(err)
		}
		err := e.doOld(e.old.HttpHealthChecks.Delete(project, "hc-1").Context(e.ctx).Do())
		if got, want := oldErr(t, err), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
			t.Errorf("delete of a health check in use = %v, want %v", got, want)
		}
		if got := e.listPools(t, "apiv1"); !cmp.Equal(got, []string{"pool-hc"}) {
			t.Errorf("pools = %v, want [pool-hc]", got)
		}
	})

	for _, tc := range []struct {
		name string
		tp   *gce.TargetPool
		want apiErr
	}{
		{"bad affinity", &gce.TargetPool{Name: "x-aff", SessionAffinity: "COOKIE"}, apiErr{400, "invalid"}},
		{"missing instance", &gce.TargetPool{Name: "x-vm", Instances: []string{instanceLink(zoneA, "ghost")}}, apiErr{404, "notFound"}},
		{"two health checks", &gce.TargetPool{Name: "x-hcs", HealthChecks: []string{hc1, hc2}}, apiErr{400, "invalid"}},
		{"bad name", &gce.TargetPool{Name: "9pool"}, apiErr{400, "invalid"}},
	} {
		for _, client := range clientNames {
			t.Run(tc.name+"/"+client, func(t *testing.T) {
				if got := errOf(t, client, e.insertPool(t, client, tc.tp)); got != tc.want {
					t.Errorf("insert = %v, want %v", got, tc.want)
				}
			})
		}
	}
}

// TestTargetPoolInstancesPerCall checks the per-call bound on instances that
// makes callers create and grow large pools in batches.
func TestTargetPoolInstancesPerCall(t *testing.T) {
	e := newEnv(t, fakecompute.Config{MaxInstancesPerCall: 2})
	e.seedVMs(t, zoneA, "n1", "n2", "n3")
	n1, n2, n3 := instanceLink(zoneA, "n1"), instanceLink(zoneA, "n2"), instanceLink(zoneA, "n3")
	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			name := "pool-" + suffix(client)
			err := e.insertPool(t, client, &gce.TargetPool{Name: name, Instances: []string{n1, n2, n3}})
			if got, want := errOf(t, client, err), (apiErr{400, "invalid"}); got != want {
				t.Errorf("insert with 3 instances = %v, want %v", got, want)
			}
			if err := e.insertPool(t, client, &gce.TargetPool{Name: name, Instances: []string{n1, n2}}); err != nil {
				t.Fatal(err)
			}
			if got, want := errOf(t, client, e.addInstances(client, name, n1, n2, n3)), (apiErr{400, "invalid"}); got != want {
				t.Errorf("addInstance of 3 = %v, want %v", got, want)
			}
			if err := e.addInstances(client, name, n3); err != nil {
				t.Errorf("addInstance of 1: %v", err)
			}
			if tp, err := e.getPool(t, client, name); err != nil || len(tp.Instances) != 3 {
				t.Errorf("pool = %+v, %v; want 3 instances", tp, err)
			}
		})
	}
}
