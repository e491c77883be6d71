package fakecompute_test

import (
	"net/netip"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

var subnetRange = netip.MustParsePrefix("10.128.0.0/16")

func (e *env) patchFR(t testing.TB, client, name string, fr *gce.ForwardingRule) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.fwdRules.Patch(e.ctx, &computepb.PatchForwardingRuleRequest{Project: project, Region: region,
			ForwardingRule: name, ForwardingRuleResource: toV1(t, fr, &computepb.ForwardingRule{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.ForwardingRules.Patch(project, region, name, fr).Context(e.ctx).Do())
}

// ilbBackendService makes a TCP backend service of scheme INTERNAL over
// the zone-a instance group of ilbBackend.
func (e *env) ilbBackendService(t testing.TB, name, protocol string) {
	t.Helper()
	if err := e.insertBS(t, "compute/v1", &gce.BackendService{Name: name, LoadBalancingScheme: "INTERNAL", Protocol: protocol,
		HealthChecks: []string{globalLink("healthChecks", "k8s-cluster-node")},
		Backends:     []*gce.Backend{{Group: igLink(zoneA, "k8s-ig--cluster")}}}); err != nil {
		t.Fatal(err)
	}
}

// TestInternalForwardingRules checks the INTERNAL forwarding rules of
// internal passthrough load balancers: the backend service they forward
// to, the subnetwork their IP comes from, ports or all ports, global
// access, and GCE's errors for an IP outside the subnetwork or in use.
func TestInternalForwardingRules(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "a-1")
	e.ilbBackend(t, "k8s-cluster-node", map[string][]string{zoneA: {"a-1"}})
	e.ilbBackendService(t, "bs", "TCP")
	e.ilbBackendService(t, "bs-udp", "UDP")
	if err := e.insertPool(t, "compute/v1", &gce.TargetPool{Name: "pool"}); err != nil {
		t.Fatal(err)
	}
	pool := regionalLink("targetPools", "pool")
	subnet := regionalLink("subnetworks", network)
	bs := regionalLink("backendServices", "bs")
	vm, err := e.old.Instances.Get(project, zoneA, "a-1").Context(e.ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	vmIP := vm.NetworkInterfaces[0].NetworkIP

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
			if got, want := errOf(t, client, e.deleteBS(client, "bs")), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
				t.Errorf("delete of the backend service a rule uses = %v, want %v", got, want)
			}

			// Global access is patched in place; the fingerprint changes with it.
			if err := e.patchFR(t, client, name, &gce.ForwardingRule{AllowGlobalAccess: true, Fingerprint: fr.Fingerprint}); err != nil {
				t.Fatalf("patch allowGlobalAccess: %v", err)
			}
			patched, _ := e.getFR(t, client, name)
			if !patched.AllowGlobalAccess || patched.Fingerprint == fr.Fingerprint || patched.IPAddress != fr.IPAddress {
				t.Errorf("after patch: %+v", patched)
			}
			if got := errOf(t, client, e.patchFR(t, client, name, &gce.ForwardingRule{AllowGlobalAccess: true, Fingerprint: fr.Fingerprint})); got != (apiErr{412, "conditionNotMet"}) {
				t.Errorf("patch with a stale fingerprint = %v, want 412 conditionNotMet", got)
			}
			if got := errOf(t, client, e.patchFR(t, client, name, &gce.ForwardingRule{Ports: []string{"81"}})); got != (apiErr{400, "invalid"}) {
				t.Errorf("patch of the ports = %v, want 400 invalid", got)
			}

			// An INTERNAL address: in its subnetwork, GCE_ENDPOINT; the rule makes it IN_USE, and then it cannot be deleted.
			addr := "ilb-ip-" + suffix(client)
			if err := e.insertAddress(t, client, &gce.Address{Name: addr, AddressType: "INTERNAL"}); err != nil {
				t.Fatal(err)
			}
			a, err := e.getAddress(t, client, addr)
			if err != nil {
				t.Fatal(err)
			}
			if a.Subnetwork != subnet || a.Purpose != "GCE_ENDPOINT" || a.Status != "RESERVED" || !subnetRange.Contains(netip.MustParseAddr(a.Address)) {
				t.Errorf("INTERNAL address = %+v", a)
			}
			withAddr := "ilb-static-" + suffix(client)
			if err := e.insertFR(t, client, &gce.ForwardingRule{Name: withAddr, LoadBalancingScheme: "INTERNAL", IPAddress: a.Address,
				AllPorts: true, Subnetwork: subnet, BackendService: bs}); err != nil {
				t.Fatalf("insert on the INTERNAL address: %v", err)
			}
			a, err = e.getAddress(t, client, addr)
			if err != nil || a.Status != "IN_USE" || !cmp.Equal(a.Users, []string{regionalLink("forwardingRules", withAddr)}) {
				t.Errorf("address = %+v, %v; want IN_USE by %s", a, err, withAddr)
			}
			if got, want := errOf(t, client, e.deleteAddress(client, addr)), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
				t.Errorf("delete of an INTERNAL address in use = %v, want %v", got, want)
			}
			// A second rule on an address a rule uses (GCE_ENDPOINT): the operation fails with 409.
			second := &gce.ForwardingRule{Name: "ilb-second-" + suffix(client), LoadBalancingScheme: "INTERNAL", IPProtocol: "UDP",
				IPAddress: a.Address, Ports: []string{"53"}, Subnetwork: subnet, BackendService: regionalLink("backendServices", "bs-udp")}
			if got := opErrOf(t, e.insertFR(t, client, second)); got != (apiErr{409, "IP_IN_USE_BY_ANOTHER_RESOURCE"}) {
				t.Errorf("second rule on a used GCE_ENDPOINT address = %v, want 409 IP_IN_USE_BY_ANOTHER_RESOURCE", got)
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
			if got := opErrOf(t, e.insertFR(t, client, &again)); got != (apiErr{409, "IP_IN_USE_BY_ANOTHER_RESOURCE"}) {
				t.Errorf("second rule on the chosen IP = %v, want 409 IP_IN_USE_BY_ANOTHER_RESOURCE", got)
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
		e.ilbBackend(t, "k8s-cluster-node", map[string][]string{zoneA: nil})
		e.ilbBackendService(t, "bs", "TCP")
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

	if err := e.insertBS(t, "compute/v1", &gce.BackendService{Name: "bs-ext", LoadBalancingScheme: "EXTERNAL", Protocol: "TCP",
		Backends: []*gce.Backend{{Group: igLink(zoneA, "k8s-ig--cluster")}}}); err != nil {
		t.Fatal(err)
	}
	sixPorts := []string{"1", "2", "3", "4", "5", "6"}
	for _, tc := range []struct {
		name string
		fr   *gce.ForwardingRule
		want apiErr
	}{
		{"unknown scheme", &gce.ForwardingRule{Name: "x-scheme", LoadBalancingScheme: "MAGIC", Target: pool}, apiErr{400, "invalid"}},
		{"no backend service", &gce.ForwardingRule{Name: "x-nobs", LoadBalancingScheme: "INTERNAL", Subnetwork: subnet, Ports: []string{"80"}}, apiErr{400, "required"}},
		{"missing backend service", &gce.ForwardingRule{Name: "x-bs404", LoadBalancingScheme: "INTERNAL", Subnetwork: subnet, Ports: []string{"80"},
			BackendService: regionalLink("backendServices", "nope")}, apiErr{404, "notFound"}},
		{"EXTERNAL backend service", &gce.ForwardingRule{Name: "x-bsext", LoadBalancingScheme: "INTERNAL", Subnetwork: subnet, Ports: []string{"80"},
			BackendService: regionalLink("backendServices", "bs-ext")}, apiErr{400, "invalid"}},
		{"protocol of another backend service", &gce.ForwardingRule{Name: "x-proto", LoadBalancingScheme: "INTERNAL", Subnetwork: subnet,
			IPProtocol: "UDP", Ports: []string{"53"}, BackendService: bs}, apiErr{400, "invalid"}},
		{"no subnetwork", &gce.ForwardingRule{Name: "x-nosub", LoadBalancingScheme: "INTERNAL", BackendService: bs, Ports: []string{"80"}}, apiErr{400, "required"}},
		{"missing subnetwork", &gce.ForwardingRule{Name: "x-badsub", LoadBalancingScheme: "INTERNAL", BackendService: bs, Ports: []string{"80"},
			Subnetwork: regionalLink("subnetworks", "nope")}, apiErr{404, "notFound"}},
		{"target pool", &gce.ForwardingRule{Name: "x-target", LoadBalancingScheme: "INTERNAL", BackendService: bs, Subnetwork: subnet,
			Ports: []string{"80"}, Target: pool}, apiErr{400, "invalid"}},
		{"bad backend service link", &gce.ForwardingRule{Name: "x-bslink", LoadBalancingScheme: "INTERNAL", BackendService: "bs",
			Subnetwork: subnet, Ports: []string{"80"}}, apiErr{400, "invalid"}},
		{"standard tier", &gce.ForwardingRule{Name: "x-tier", LoadBalancingScheme: "INTERNAL", BackendService: bs, Subnetwork: subnet,
			Ports: []string{"80"}, NetworkTier: "STANDARD"}, apiErr{400, "invalid"}},
		{"IP outside the subnetwork", &gce.ForwardingRule{Name: "x-ip", LoadBalancingScheme: "INTERNAL", BackendService: bs,
			Subnetwork: subnet, Ports: []string{"80"}, IPAddress: "198.18.50.50"}, apiErr{400, "invalid"}},
		{"other network", &gce.ForwardingRule{Name: "x-net", LoadBalancingScheme: "INTERNAL", BackendService: bs,
			Subnetwork: subnet, Ports: []string{"80"}, Network: globalLink("networks", "nope")}, apiErr{404, "notFound"}},
		{"six ports", &gce.ForwardingRule{Name: "x-six", LoadBalancingScheme: "INTERNAL", BackendService: bs, Subnetwork: subnet,
			Ports: sixPorts}, apiErr{400, "invalid"}},
		{"no ports", &gce.ForwardingRule{Name: "x-noports", LoadBalancingScheme: "INTERNAL", BackendService: bs, Subnetwork: subnet}, apiErr{400, "invalid"}},
		{"ports and all ports", &gce.ForwardingRule{Name: "x-allports", LoadBalancingScheme: "INTERNAL", BackendService: bs, Subnetwork: subnet,
			Ports: []string{"80"}, AllPorts: true}, apiErr{400, "invalid"}},
		{"port range", &gce.ForwardingRule{Name: "x-range", LoadBalancingScheme: "INTERNAL", BackendService: bs, Subnetwork: subnet,
			PortRange: "80-81"}, apiErr{400, "invalid"}},
		{"global access on EXTERNAL", &gce.ForwardingRule{Name: "x-ga", Target: pool, AllowGlobalAccess: true}, apiErr{400, "invalid"}},
	} {
		for _, client := range clientNames {
			t.Run(tc.name+"/"+client, func(t *testing.T) {
				if got := errOf(t, client, e.insertFR(t, client, tc.fr)); got != tc.want {
					t.Errorf("insert = %v, want %v", got, tc.want)
				}
			})
		}
	}

	t.Run("backend service under a rule", func(t *testing.T) {
		for _, client := range clientNames {
			cur, err := e.getBS(t, client, "bs")
			if err != nil {
				t.Fatal(err)
			}
			if got := errOf(t, client, e.modifyBS(t, client, "bs", true, &gce.BackendService{Protocol: "UDP", Fingerprint: cur.Fingerprint})); got != (apiErr{400, "invalid"}) {
				t.Errorf("%s: protocol change under a forwarding rule = %v, want 400 invalid", client, got)
			}
			if err := e.modifyBS(t, client, "bs", true, &gce.BackendService{SessionAffinity: "CLIENT_IP", Fingerprint: cur.Fingerprint}); err != nil {
				t.Errorf("%s: affinity change under a forwarding rule: %v", client, err)
			}
		}
	})

	t.Run("IP of a VM", func(t *testing.T) {
		for _, client := range clientNames {
			err := e.insertFR(t, client, &gce.ForwardingRule{Name: "x-vm-" + suffix(client), LoadBalancingScheme: "INTERNAL", BackendService: bs,
				Subnetwork: subnet, Ports: []string{"80"}, IPAddress: vmIP})
			if got := opErrOf(t, err); got != (apiErr{409, "IP_IN_USE_BY_ANOTHER_RESOURCE"}) {
				t.Errorf("%s: rule on a VM's IP = %v, want 409 IP_IN_USE_BY_ANOTHER_RESOURCE", client, got)
			}
		}
		if c := e.srv.Calls()["forwardingRules.insert"]; c["ok"] == 0 {
			t.Errorf("calls = %v", c)
		}
	})

	t.Run("addresses", func(t *testing.T) {
		for _, client := range clientNames {
			for _, tc := range []struct {
				what string
				a    *gce.Address
				want apiErr
				op   bool
			}{
				{"outside the subnetwork", &gce.Address{Name: "x-out-" + suffix(client), AddressType: "INTERNAL", Address: "10.200.0.5"}, apiErr{400, "invalid"}, false},
				{"a VM's IP", &gce.Address{Name: "x-vm-" + suffix(client), AddressType: "INTERNAL", Address: vmIP}, apiErr{409, "IP_IN_USE_BY_ANOTHER_RESOURCE"}, true},
				{"missing subnetwork", &gce.Address{Name: "x-sub-" + suffix(client), AddressType: "INTERNAL",
					Subnetwork: regionalLink("subnetworks", "nope")}, apiErr{404, "notFound"}, false},
				{"unknown purpose", &gce.Address{Name: "x-purpose-" + suffix(client), AddressType: "INTERNAL", Purpose: "VPC_PEERING"}, apiErr{400, "invalid"}, false},
				{"EXTERNAL with a subnetwork", &gce.Address{Name: "x-ext-" + suffix(client), Subnetwork: subnet}, apiErr{400, "invalid"}, false},
			} {
				err := e.insertAddress(t, client, tc.a)
				got := apiErr{}
				if tc.op {
					got = opErrOf(t, err)
				} else {
					got = errOf(t, client, err)
				}
				if got != tc.want {
					t.Errorf("%s: %s = %v, want %v", client, tc.what, got, tc.want)
				}
			}
		}
		if l, _ := e.listAddresses(t, "compute/v1", "name eq x-.*"); len(l) != 0 {
			t.Errorf("refused inserts left addresses %v", l)
		}
	})

	t.Run("shared VIP", func(t *testing.T) {
		if err := e.insertAddress(t, "apiv1", &gce.Address{Name: "vip", AddressType: "INTERNAL", Purpose: "SHARED_LOADBALANCER_VIP"}); err != nil {
			t.Fatal(err)
		}
		a, _ := e.getAddress(t, "apiv1", "vip")
		for i, p := range []struct{ proto, bs string }{{"TCP", "bs"}, {"UDP", "bs-udp"}} {
			if err := e.insertFR(t, "apiv1", &gce.ForwardingRule{Name: "vip-" + strings.ToLower(p.proto), LoadBalancingScheme: "INTERNAL", IPProtocol: p.proto,
				IPAddress: a.Address, Ports: []string{"53"}, Subnetwork: subnet, BackendService: regionalLink("backendServices", p.bs)}); err != nil {
				t.Errorf("rule %d on a shared VIP: %v", i, err)
			}
		}
		if a, _ := e.getAddress(t, "compute/v1", "vip"); len(a.Users) != 2 {
			t.Errorf("shared VIP users = %v, want 2", a.Users)
		}
	})
}
