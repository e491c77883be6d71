package fakecompute_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// The upstream fixtures live in shared/, a sibling of the clone.
const (
	fixtureDir     = "../../../shared/fixtures/upstream/"
	fixtureProject = "fixture-project"
	sharedNodeHC   = "k8s-6fae00c0892040ff-node"
)

// readFixture decodes a state-*.json fixture strictly into a Dump and
// returns it with its raw bytes.
func readFixture(t testing.TB, name string) (*fakecompute.Dump, []byte) {
	t.Helper()
	raw, err := os.ReadFile(fixtureDir + name)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var d fakecompute.Dump
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return &d, raw
}

// fixtureEnv is a running fake for the fixture's project with both clients.
func fixtureEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, fakecompute.Config{Project: fixtureProject, Zones: []string{zoneA, zoneB, zoneC}})
}

// ruleFor returns the forwarding rule the upstream provider made for a Service.
func ruleFor(t testing.TB, d *fakecompute.Dump, service string) *gce.ForwardingRule {
	t.Helper()
	for _, fr := range d.ForwardingRules {
		if fr.Description == `{"kubernetes.io/service-name":"default/`+service+`"}` {
			return fr
		}
	}
	t.Fatalf("no forwarding rule for Service %s in the fixture", service)
	return nil
}

// heldIPs returns every IP a dump's instances, addresses and rules hold.
func heldIPs(d *fakecompute.Dump) []string {
	var out []string
	for _, in := range d.Instances {
		for _, n := range in.NetworkInterfaces {
			out = append(out, n.NetworkIP)
			for _, ac := range n.AccessConfigs {
				out = append(out, ac.NatIP)
			}
		}
	}
	for _, a := range d.Addresses {
		out = append(out, a.Address)
	}
	for _, fr := range d.ForwardingRules {
		out = append(out, fr.IPAddress)
	}
	return out
}

func idsOf[T any](items []*T, id func(*T) uint64) []uint64 {
	out := []uint64{0}
	for _, x := range items {
		out = append(out, id(x))
	}
	return out
}

// TestLoadUpstreamFixture loads the state the long-standing provider made
// and checks that the fake holds it exactly and enforces its references.
func TestLoadUpstreamFixture(t *testing.T) {
	want, _ := readFixture(t, "state-created.json")
	e := fixtureEnv(t)
	if err := e.srv.Load(want); err != nil {
		t.Fatalf("Load: %v", err)
	}
	// Nothing needs to be ignored: Load keeps every field as given.
	if diff := cmp.Diff(want, e.srv.Dump()); diff != "" {
		t.Fatalf("dump after load (-want +got):\n%s", diff)
	}
	var maxID uint64
	for _, ids := range [][]uint64{
		idsOf(want.Instances, func(x *gce.Instance) uint64 { return x.Id }),
		idsOf(want.Routes, func(x *gce.Route) uint64 { return x.Id }),
		idsOf(want.Addresses, func(x *gce.Address) uint64 { return x.Id }),
		idsOf(want.ForwardingRules, func(x *gce.ForwardingRule) uint64 { return x.Id }),
		idsOf(want.TargetPools, func(x *gce.TargetPool) uint64 { return x.Id }),
		idsOf(want.Firewalls, func(x *gce.Firewall) uint64 { return x.Id }),
		idsOf(want.HTTPHealthChecks, func(x *gce.HttpHealthCheck) uint64 { return x.Id }),
	} {
		maxID = max(maxID, slices.Max(ids))
	}

	const p, r = fixtureProject, region
	services := map[string]string{"compute/v1": "dns", "apiv1": "sticky"}
	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			fr := ruleFor(t, want, services[client])
			pool := lastSegment(fr.Target)
			deleteFR := func() error {
				if client == "apiv1" {
					op, err := e.v1.fwdRules.Delete(e.ctx, &computepb.DeleteForwardingRuleRequest{Project: p, Region: r, ForwardingRule: fr.Name})
					return e.doV1(op, err)
				}
				return e.doOld(e.old.ForwardingRules.Delete(p, r, fr.Name).Context(e.ctx).Do())
			}
			deletePool := func() error {
				if client == "apiv1" {
					op, err := e.v1.targetPools.Delete(e.ctx, &computepb.DeleteTargetPoolRequest{Project: p, Region: r, TargetPool: pool})
					return e.doV1(op, err)
				}
				return e.doOld(e.old.TargetPools.Delete(p, r, pool).Context(e.ctx).Do())
			}
			insertAddress := func(a *gce.Address) error {
				if client == "apiv1" {
					op, err := e.v1.addresses.Insert(e.ctx, &computepb.InsertAddressRequest{Project: p, Region: r,
						AddressResource: toV1(t, a, &computepb.Address{})})
					return e.doV1(op, err)
				}
				return e.doOld(e.old.Addresses.Insert(p, r, a).Context(e.ctx).Do())
			}
			getAddress := func(name string) (*gce.Address, error) {
				if client == "apiv1" {
					a, err := e.v1.addresses.Get(e.ctx, &computepb.GetAddressRequest{Project: p, Region: r, Address: name})
					if err != nil {
						return nil, err
					}
					return fromV1[gce.Address](t, a), nil
				}
				return e.old.Addresses.Get(p, r, name).Context(e.ctx).Do()
			}

			// A pool that a loaded rule uses cannot go; after the rule, it can.
			if got, want := errOf(t, client, deletePool()), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
				t.Errorf("delete of pool %s while its rule exists = %v, want %v", pool, got, want)
			}
			if err := deleteFR(); err != nil {
				t.Fatalf("delete forwarding rule %s: %v", fr.Name, err)
			}
			if err := deletePool(); err != nil {
				t.Fatalf("delete target pool %s after its rule: %v", pool, err)
			}

			// New addresses get IPs that nothing loaded holds, and new IDs.
			held := heldIPs(e.srv.Dump())
			for _, tc := range []struct {
				name string
				addr *gce.Address
			}{
				{"external", &gce.Address{Name: "new-ext-" + suffix(client)}},
				{"internal", &gce.Address{Name: "new-int-" + suffix(client), AddressType: "INTERNAL"}},
			} {
				if err := insertAddress(tc.addr); err != nil {
					t.Fatalf("insert %s address: %v", tc.name, err)
				}
				a, err := getAddress(tc.addr.Name)
				if err != nil {
					t.Fatal(err)
				}
				if slices.Contains(held, a.Address) {
					t.Errorf("new %s address got %s, which a loaded resource holds (%v)", tc.name, a.Address, held)
				}
				if a.Id <= maxID {
					t.Errorf("new %s address has id %d, not above the loaded ones (%d)", tc.name, a.Id, maxID)
				}
			}

			// An instance's external IP cannot be reserved; a loaded rule's
			// ephemeral IP is promoted to a static address.
			natIP := want.Instances[0].NetworkInterfaces[0].AccessConfigs[0].NatIP
			if got, want := errOf(t, client, insertAddress(&gce.Address{Name: "vm-ip-" + suffix(client), Address: natIP})), (apiErr{400, "invalid"}); got != want {
				t.Errorf("reserve VM IP %s = %v, want %v", natIP, got, want)
			}
			web := ruleFor(t, want, map[string]string{"compute/v1": "web", "apiv1": "ranges"}[client])
			promoted := "promoted-" + suffix(client)
			if err := insertAddress(&gce.Address{Name: promoted, Address: web.IPAddress}); err != nil {
				t.Fatalf("promote %s: %v", web.IPAddress, err)
			}
			if a, err := getAddress(promoted); err != nil || a.Status != "IN_USE" || !cmp.Equal(a.Users, []string{web.SelfLink}) {
				t.Errorf("promoted address = %+v, %v; want IN_USE by %s", a, err, web.SelfLink)
			}
		})
	}

	t.Run("shared health check in use", func(t *testing.T) {
		// apiv1 has no client for legacy HTTP health checks.
		err := e.doOld(e.old.HttpHealthChecks.Delete(fixtureProject, sharedNodeHC).Context(e.ctx).Do())
		if got, want := oldErr(t, err), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
			t.Errorf("delete of %s = %v, want %v", sharedNodeHC, got, want)
		}
	})
}

// TestLoadHTTP loads the fixture through POST /_fake/load.
func TestLoadHTTP(t *testing.T) {
	created, raw := readFixture(t, "state-created.json")
	afterDelete, rawAfterDelete := readFixture(t, "state-after-delete.json")
	for _, tc := range []struct {
		name     string
		body     []byte
		wantCode int
		wantBody string
		want     *fakecompute.Dump
	}{
		{"unknown field", []byte(`{"instances": [], "disks": []}`), http.StatusBadRequest, "unknown field", nil},
		{"not JSON", []byte(`instances: []`), http.StatusBadRequest, "bad request body", nil},
		{"dangling target", []byte(`{"forwardingRules": [{"name": "fr", "kind": "compute#forwardingRule",
			"selfLink": "https://www.googleapis.com/compute/v1/projects/fixture-project/regions/us-central1/forwardingRules/fr",
			"region": "https://www.googleapis.com/compute/v1/projects/fixture-project/regions/us-central1",
			"loadBalancingScheme": "EXTERNAL", "IPAddress": "198.18.0.9",
			"target": "https://www.googleapis.com/compute/v1/projects/fixture-project/regions/us-central1/targetPools/nope"}]}`),
			http.StatusBadRequest, "no target pool", nil},
		{"fixture", raw, http.StatusOK, `"status":"ok"`, created},
		{"fixture after delete", rawAfterDelete, http.StatusOK, `"status":"ok"`, afterDelete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := fixtureEnv(t)
			code, body := e.ctl(t, "POST", "load", string(tc.body))
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("POST load = %d %s, want %d with %q", code, body, tc.wantCode, tc.wantBody)
			}
			if code != http.StatusOK {
				if d := e.srv.Dump(); len(d.ForwardingRules)+len(d.Instances) != 0 {
					t.Errorf("a refused load left resources: %+v", d)
				}
				return
			}
			if diff := cmp.Diff(tc.want, e.srv.Dump()); diff != "" {
				t.Errorf("dump after load (-want +got):\n%s", diff)
			}
			code, body = e.ctl(t, "GET", "dump", "")
			var got fakecompute.Dump
			if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil {
				t.Fatalf("GET dump = %d, %v", code, err)
			}
			if diff := cmp.Diff(tc.want, &got); diff != "" {
				t.Errorf("GET dump after POST load (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadRejects checks that a bad dump is refused with an error that
// says what is wrong and that nothing of it is loaded.
func TestLoadRejects(t *testing.T) {
	base, _ := readFixture(t, "state-created.json")
	link := func(path string) string {
		return fakecompute.SelfLinkPrefix + "projects/" + fixtureProject + "/" + path
	}
	for _, tc := range []struct {
		name   string
		change func(d *fakecompute.Dump)
		want   string
	}{
		{"duplicate name", func(d *fakecompute.Dump) {
			d.Firewalls = append(d.Firewalls, d.Firewalls[0])
		}, "duplicate"},
		{"rule to a missing pool", func(d *fakecompute.Dump) {
			d.TargetPools = d.TargetPools[1:]
		}, "no target pool"},
		{"pool with a missing health check", func(d *fakecompute.Dump) {
			d.HTTPHealthChecks = nil
		}, "no health check"},
		{"route on a missing network", func(d *fakecompute.Dump) {
			d.Routes[0].Network = link("global/networks/nope")
		}, "no network"},
		{"partial link", func(d *fakecompute.Dump) {
			d.TargetPools[0].Instances[0] = "zones/us-central1-a/instances/fx-node-a"
		}, "canonical selfLink"},
		{"selfLink of another name", func(d *fakecompute.Dump) {
			d.Firewalls[0].Name = "other"
		}, "names another resource"},
		{"unknown zone", func(d *fakecompute.Dump) {
			d.Instances[0].SelfLink = link("zones/europe-west1-b/instances/" + d.Instances[0].Name)
		}, "not a scope"},
		{"region field disagrees", func(d *fakecompute.Dump) {
			d.Addresses[0].Region = link("regions/europe-west1")
		}, "its region"},
		{"two VMs with one IP", func(d *fakecompute.Dump) {
			d.Instances[1].NetworkInterfaces[0].AccessConfigs[0].NatIP = d.Instances[0].NetworkInterfaces[0].AccessConfigs[0].NatIP
		}, "already held"},
		{"rule on a VM's IP", func(d *fakecompute.Dump) {
			d.ForwardingRules[0].IPAddress = d.Instances[0].NetworkInterfaces[0].AccessConfigs[0].NatIP
		}, "already held"},
		{"rule outside the pool", func(d *fakecompute.Dump) {
			d.ForwardingRules[0].IPAddress = "8.8.8.8"
		}, "range"},
		{"conflicting rules", func(d *fakecompute.Dump) {
			d.ForwardingRules[1].IPAddress = d.ForwardingRules[0].IPAddress
			d.ForwardingRules[1].PortRange = d.ForwardingRules[0].PortRange
			d.ForwardingRules[1].IPProtocol = d.ForwardingRules[0].IPProtocol
		}, "conflict"},
		{"address users wrong", func(d *fakecompute.Dump) {
			d.Addresses[0].Users = nil
		}, "users"},
		{"address status wrong", func(d *fakecompute.Dump) {
			d.Addresses[0].Status = "RESERVED"
		}, "status"},
		{"bad health check", func(d *fakecompute.Dump) {
			d.HTTPHealthChecks[0].TimeoutSec = 100
		}, "timeoutSec"},
		{"bad scheme", func(d *fakecompute.Dump) {
			d.ForwardingRules[0].LoadBalancingScheme = "INTERNAL_MANAGED"
		}, "loadBalancingScheme"},
		{"null", func(d *fakecompute.Dump) {
			d.Routes = append(d.Routes, nil)
		}, "null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakecompute.Config{Project: fixtureProject})
			// What the fake holds before must survive a refused load.
			if err := e.srv.AddInstance(fakecompute.InstanceSeed{Name: "before", Zone: zoneA}); err != nil {
				t.Fatal(err)
			}
			before := e.srv.Dump()
			var d fakecompute.Dump
			raw, _ := json.Marshal(base)
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			tc.change(&d)
			err := e.srv.Load(&d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error with %q", err, tc.want)
			}
			if diff := cmp.Diff(before, e.srv.Dump()); diff != "" {
				t.Errorf("a refused load changed the fake (-before +after):\n%s", diff)
			}
		})
	}

	t.Run("while an operation runs", func(t *testing.T) {
		e := newEnv(t, fakecompute.Config{})
		e.srv.SetLatency("firewalls.insert", time.Minute)
		if _, err := e.old.Firewalls.Insert(project, &gce.Firewall{Name: "slow",
			Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}).Context(e.ctx).Do(); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Load(&fakecompute.Dump{}); err == nil || !strings.Contains(err.Error(), "running") {
			t.Errorf("Load with an operation running = %v, want an error", err)
		}
	})
}

// TestLoadRoundTrip builds state through the API, including what the
// fixture lacks (an INTERNAL rule on an INTERNAL address, a released
// address's IP shared by two rules), and checks that loading its dump into
// a fresh fake gives the same dump and the same IP bookkeeping.
func TestLoadRoundTrip(t *testing.T) {
	src := newEnv(t, fakecompute.Config{})
	src.seedVMs(t, zoneA, "n1")
	src.ilbBackend(t, "k8s-cluster-node", map[string][]string{zoneA: {"n1"}, zoneB: nil})
	src.ilbBackendService(t, "bs", "TCP")
	if err := src.insertHC(t, "apiv1", region, &gce.HealthCheck{Name: "regional", Type: "TCP"}); err != nil {
		t.Fatal(err)
	}
	if err := src.insertPool(t, "apiv1", &gce.TargetPool{Name: "pool", Instances: []string{"/zones/" + zoneA + "/instances/n1"}}); err != nil {
		t.Fatal(err)
	}
	if err := src.insertAddress(t, "apiv1", &gce.Address{Name: "lb"}); err != nil {
		t.Fatal(err)
	}
	lb, err := src.getAddress(t, "apiv1", "lb")
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range []*gce.ForwardingRule{
		{Name: "tcp", IPAddress: lb.Address, IPProtocol: "TCP", PortRange: "80", Target: regionalLink("targetPools", "pool")},
		{Name: "udp", IPAddress: lb.Address, IPProtocol: "UDP", PortRange: "80", Target: regionalLink("targetPools", "pool")},
	} {
		if err := src.insertFR(t, "compute/v1", fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.deleteAddress("compute/v1", "lb"); err != nil {
		t.Fatal(err)
	}
	if err := src.insertAddress(t, "apiv1", &gce.Address{Name: "ilb", AddressType: "INTERNAL"}); err != nil {
		t.Fatal(err)
	}
	ilb, err := src.getAddress(t, "apiv1", "ilb")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.insertFR(t, "apiv1", &gce.ForwardingRule{Name: "internal", LoadBalancingScheme: "INTERNAL", IPAddress: ilb.Address,
		Ports: []string{"80"}, Subnetwork: regionalLink("subnetworks", network), BackendService: regionalLink("backendServices", "bs")}); err != nil {
		t.Fatal(err)
	}
	want := src.srv.Dump()

	dst := newEnv(t, fakecompute.Config{})
	if err := dst.srv.Load(want); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff(want, dst.srv.Dump()); diff != "" {
		t.Fatalf("dump after load (-want +got):\n%s", diff)
	}
	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			// The INTERNAL address, backend service, health check and
			// group are still refused while in use.
			if got, want := errOf(t, client, dst.deleteAddress(client, "ilb")), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
				t.Errorf("delete of the loaded INTERNAL address in use = %v, want %v", got, want)
			}
			if got, want := errOf(t, client, dst.deleteBS(client, "bs")), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
				t.Errorf("delete of the loaded backend service in use = %v, want %v", got, want)
			}
			if got, want := errOf(t, client, dst.deleteHC(client, "", "k8s-cluster-node")), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
				t.Errorf("delete of the loaded health check in use = %v, want %v", got, want)
			}
			if got, want := errOf(t, client, dst.deleteIG(client, zoneA, "k8s-ig--cluster")), (apiErr{400, "resourceInUseByAnotherResource"}); got != want {
				t.Errorf("delete of the loaded instance group in use = %v, want %v", got, want)
			}
			// Membership came along.
			if got := dst.igMembers(t, client, zoneA, "k8s-ig--cluster", "ALL", 10); !cmp.Equal(got, []string{instanceLink(zoneA, "n1")}) {
				t.Errorf("loaded members = %v", got)
			}
			if got := errOf(t, client, dst.addToIG(client, zoneA, "k8s-ig--cluster", instanceLink(zoneA, "n1"))); got != (apiErr{400, "memberAlreadyExists"}) {
				t.Errorf("add a loaded member = %v, want 400 memberAlreadyExists", got)
			}
		})
	}
	// New IPs avoid everything the loaded resources hold.
	if err := dst.insertAddress(t, "compute/v1", &gce.Address{Name: "next"}); err != nil {
		t.Fatal(err)
	}
	a, err := dst.getAddress(t, "compute/v1", "next")
	if err != nil {
		t.Fatal(err)
	}
	if ip := netip.MustParseAddr(a.Address); slices.Contains(heldIPs(want), a.Address) || !externalPool.Contains(ip) {
		t.Errorf("next address %s is held already (%v) or outside %s", a.Address, heldIPs(want), externalPool)
	}
}
