package fakecompute_test

import (
	"net/http"
	"net/netip"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// ipv6View is what a test checks of a VM's first network interface.
type ipv6View struct {
	stackType, accessType string
	internal              string
	internalPrefixLen     int64
	acType, external      string
	externalPrefixLen     int64
}

func oldIPv6View(n *gce.NetworkInterface) ipv6View {
	v := ipv6View{stackType: n.StackType, accessType: n.Ipv6AccessType, internal: n.Ipv6Address, internalPrefixLen: n.InternalIpv6PrefixLength}
	if len(n.Ipv6AccessConfigs) > 0 {
		v.acType, v.external, v.externalPrefixLen = n.Ipv6AccessConfigs[0].Type, n.Ipv6AccessConfigs[0].ExternalIpv6, n.Ipv6AccessConfigs[0].ExternalIpv6PrefixLength
	}
	return v
}

func v1IPv6View(n *computepb.NetworkInterface) ipv6View {
	v := ipv6View{stackType: n.GetStackType(), accessType: n.GetIpv6AccessType(), internal: n.GetIpv6Address(), internalPrefixLen: int64(n.GetInternalIpv6PrefixLength())}
	if acs := n.GetIpv6AccessConfigs(); len(acs) > 0 {
		v.acType, v.external, v.externalPrefixLen = acs[0].GetType(), acs[0].GetExternalIpv6(), int64(acs[0].GetExternalIpv6PrefixLength())
	}
	return v
}

func TestInstancesIPv6(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	ctx := testCtx(t)
	for _, s := range []fakecompute.InstanceSeed{
		{Name: "seed-int", Zone: zoneA, InternalIPv6: "fd20::1:0:7:0:0"},
		{Name: "seed-ext", Zone: zoneA, ExternalIPv6: "2600:1900:4000:1:0:7::"},
	} {
		if err := e.srv.AddInstance(s); err != nil {
			t.Fatalf("AddInstance(%s): %v", s.Name, err)
		}
	}
	internalRange := netip.MustParsePrefix("fd20::/20") // GCE's internal IPv6 ULA range

	if err := e.doOld(e.old.Instances.Insert(project, zoneA, &gce.Instance{Name: "old-int",
		NetworkInterfaces: []*gce.NetworkInterface{{StackType: "IPV4_IPV6"}}}).Context(ctx).Do()); err != nil {
		t.Fatalf("insert old-int: %v", err)
	}
	if err := e.doOld(e.old.Instances.Insert(project, zoneA, &gce.Instance{Name: "old-ext",
		NetworkInterfaces: []*gce.NetworkInterface{{StackType: "IPV4_IPV6", Ipv6AccessConfigs: []*gce.AccessConfig{{Type: "DIRECT_IPV6"}}}}}).Context(ctx).Do()); err != nil {
		t.Fatalf("insert old-ext: %v", err)
	}
	op, err := e.v1.instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: project, Zone: zoneA,
		InstanceResource: &computepb.Instance{Name: str("v1-int"),
			NetworkInterfaces: []*computepb.NetworkInterface{{StackType: str("IPV4_IPV6"), Ipv6Address: str("fd20::1:0:9:0:0")}}}})
	if err := e.doV1(op, err); err != nil {
		t.Fatalf("insert v1-int: %v", err)
	}

	for _, tc := range []struct {
		name string
		want func(t *testing.T, v ipv6View)
	}{
		{"seed-int", wantInternal("fd20::1:0:7:0:0")},
		{"seed-ext", wantExternal("2600:1900:4000:1:0:7::")},
		{"v1-int", wantInternal("fd20::1:0:9:0:0")},
		{"old-int", func(t *testing.T, v ipv6View) {
			if a, err := netip.ParseAddr(v.internal); err != nil || !internalRange.Contains(a) {
				t.Errorf("allocated ipv6Address = %q, want one of %s", v.internal, internalRange)
			}
			wantInternal(v.internal)(t, v)
		}},
		{"old-ext", func(t *testing.T, v ipv6View) {
			if a, err := netip.ParseAddr(v.external); err != nil || !a.Is6() || internalRange.Contains(a) {
				t.Errorf("allocated externalIpv6 = %q, want a global IPv6 address", v.external)
			}
			wantExternal(v.external)(t, v)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, err := e.old.Instances.Get(project, zoneA, tc.name).Context(ctx).Do()
			if err != nil {
				t.Fatal(err)
			}
			vm, err := e.v1.instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zoneA, Instance: tc.name})
			if err != nil {
				t.Fatal(err)
			}
			t.Run("compute/v1", func(t *testing.T) { tc.want(t, oldIPv6View(old.NetworkInterfaces[0])) })
			t.Run("apiv1", func(t *testing.T) { tc.want(t, v1IPv6View(vm.GetNetworkInterfaces()[0])) })
			if old.NetworkInterfaces[0].NetworkIP == "" {
				t.Errorf("dual-stack VM has no IPv4 networkIP")
			}
		})
	}

	// Allocation skips addresses in use, also those chosen by hand.
	got := map[string]bool{}
	for _, n := range []string{"seed-int", "old-int", "v1-int"} {
		vm, err := e.old.Instances.Get(project, zoneA, n).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		got[vm.NetworkInterfaces[0].Ipv6Address] = true
	}
	if len(got) != 3 {
		t.Errorf("internal IPv6 addresses are not unique: %v", got)
	}

	t.Run("invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			nic  *gce.NetworkInterface
			want apiErr
		}{
			{"ipv6Address on an IPv4-only interface", &gce.NetworkInterface{Ipv6Address: "fd20:0:0:1:0:a::"}, apiErr{400, "invalid"}},
			{"IPv6 access config on an IPv4-only interface", &gce.NetworkInterface{Ipv6AccessConfigs: []*gce.AccessConfig{{Type: "DIRECT_IPV6"}}}, apiErr{400, "invalid"}},
			{"not IPv6", &gce.NetworkInterface{StackType: "IPV4_IPV6", Ipv6Address: "10.0.0.1"}, apiErr{400, "invalid"}},
			// In use, although written another way.
			{"in use", &gce.NetworkInterface{StackType: "IPV4_IPV6", Ipv6Address: "fd20:0:0:1:0:7::"}, apiErr{400, "invalid"}},
			{"external in use", &gce.NetworkInterface{StackType: "IPV4_IPV6", Ipv6AccessConfigs: []*gce.AccessConfig{{Type: "DIRECT_IPV6", ExternalIpv6: "2600:1900:4000:1:0:7::"}}}, apiErr{400, "invalid"}},
			{"internal and external", &gce.NetworkInterface{StackType: "IPV4_IPV6", Ipv6Address: "fd20:0:0:1:0:b::",
				Ipv6AccessConfigs: []*gce.AccessConfig{{Type: "DIRECT_IPV6"}}}, apiErr{400, "invalid"}},
			{"wrong access config type", &gce.NetworkInterface{StackType: "IPV4_IPV6", Ipv6AccessConfigs: []*gce.AccessConfig{{Type: "ONE_TO_ONE_NAT"}}}, apiErr{400, "invalid"}},
			{"unknown stack type", &gce.NetworkInterface{StackType: "IPV6_ONLY_PLEASE"}, apiErr{400, "invalid"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.old.Instances.Insert(project, zoneB, &gce.Instance{Name: "vm-bad", NetworkInterfaces: []*gce.NetworkInterface{tc.nic}}).Context(ctx).Do()
				if got := oldErr(t, err); got != tc.want {
					t.Errorf("insert = %v, want %v", got, tc.want)
				}
			})
		}
		if err := e.srv.AddInstance(fakecompute.InstanceSeed{Name: "seed-both", Zone: zoneB, InternalIPv6: "fd20:0:0:1:0:c::", ExternalIPv6: "2600:1900:4000:1:0:c::"}); err == nil {
			t.Errorf("AddInstance with an internal and an external IPv6 = nil, want an error (a NIC's IPv6 access type is one of INTERNAL and EXTERNAL)")
		}
	})
}

func wantInternal(addr string) func(t *testing.T, v ipv6View) {
	return func(t *testing.T, v ipv6View) {
		t.Helper()
		want := ipv6View{stackType: "IPV4_IPV6", accessType: "INTERNAL", internal: addr, internalPrefixLen: 96}
		if v != want {
			t.Errorf("interface IPv6 = %+v, want %+v", v, want)
		}
	}
}

func wantExternal(addr string) func(t *testing.T, v ipv6View) {
	return func(t *testing.T, v ipv6View) {
		t.Helper()
		want := ipv6View{stackType: "IPV4_IPV6", accessType: "EXTERNAL", acType: "DIRECT_IPV6", external: addr, externalPrefixLen: 96}
		if v != want {
			t.Errorf("interface IPv6 = %+v, want %+v", v, want)
		}
	}
}

func TestInstancesUpdateCanIPForward(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	ctx := testCtx(t)

	t.Run("compute/v1", func(t *testing.T) {
		if err := e.srv.AddInstance(fakecompute.InstanceSeed{Name: "vm-old", Zone: zoneA, Tags: []string{"node"}}); err != nil {
			t.Fatal(err)
		}
		get := func() *gce.Instance {
			t.Helper()
			vm, err := e.old.Instances.Get(project, zoneA, "vm-old").Context(ctx).Do()
			if err != nil {
				t.Fatal(err)
			}
			return vm
		}
		vm := get()
		if vm.Fingerprint == "" {
			t.Fatalf("instance has no fingerprint")
		}

		for _, tc := range []struct {
			name   string
			change func(vm *gce.Instance)
			want   apiErr
		}{
			{"canIpForward while RUNNING", func(vm *gce.Instance) { vm.CanIpForward = true }, apiErr{400, "invalid"}},
			{"stale fingerprint", func(vm *gce.Instance) { vm.Fingerprint = "stale" }, apiErr{412, "conditionNotMet"}},
			{"no fingerprint", func(vm *gce.Instance) { vm.Fingerprint = "" }, apiErr{400, "required"}},
			{"other name", func(vm *gce.Instance) { vm.Name = "vm-other" }, apiErr{400, "invalid"}},
			{"a field the fake does not update", func(vm *gce.Instance) { vm.Tags.Items = []string{"other"} }, apiErr{400, "invalid"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := get()
				tc.change(in)
				_, err := e.old.Instances.Update(project, zoneA, "vm-old", in).Context(ctx).Do()
				if got := oldErr(t, err); got != tc.want {
					t.Errorf("update = %v, want %v", got, tc.want)
				}
			})
		}
		if after := get(); after.CanIpForward || after.Fingerprint != vm.Fingerprint {
			t.Fatalf("refused updates changed the VM: canIpForward %v, fingerprint %q -> %q", after.CanIpForward, vm.Fingerprint, after.Fingerprint)
		}

		// An update that changes nothing is fine while RUNNING.
		if err := e.doOld(e.old.Instances.Update(project, zoneA, "vm-old", get()).Context(ctx).Do()); err != nil {
			t.Fatalf("no-op update: %v", err)
		}

		// As an admin does it: stop, update, start.
		if err := e.doOld(e.old.Instances.Stop(project, zoneA, "vm-old").Context(ctx).Do()); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if s := get().Status; s != "TERMINATED" {
			t.Fatalf("status after stop = %s, want TERMINATED", s)
		}
		in := get()
		in.CanIpForward = true
		if err := e.doOld(e.old.Instances.Update(project, zoneA, "vm-old", in).Context(ctx).Do()); err != nil {
			t.Fatalf("update while TERMINATED: %v", err)
		}
		if err := e.doOld(e.old.Instances.Start(project, zoneA, "vm-old").Context(ctx).Do()); err != nil {
			t.Fatalf("start: %v", err)
		}
		after := get()
		if !after.CanIpForward || after.Status != "RUNNING" || after.Fingerprint == vm.Fingerprint {
			t.Errorf("after stop, update, start: canIpForward %v, status %s, fingerprint changed %v; want true, RUNNING, true",
				after.CanIpForward, after.Status, after.Fingerprint != vm.Fingerprint)
		}
	})

	t.Run("apiv1", func(t *testing.T) {
		if err := e.srv.AddInstance(fakecompute.InstanceSeed{Name: "vm-v1", Zone: zoneB, CanIPForward: true}); err != nil {
			t.Fatal(err)
		}
		get := func() *computepb.Instance {
			t.Helper()
			vm, err := e.v1.instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1"})
			if err != nil {
				t.Fatal(err)
			}
			return vm
		}
		in := get()
		in.CanIpForward = boolp(false)
		_, err := e.v1.instances.Update(ctx, &computepb.UpdateInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1", InstanceResource: in})
		if got, want := v1Err(t, err), (apiErr{400, "invalid"}); got != want {
			t.Errorf("update while RUNNING = %v, want %v", got, want)
		}

		// Allowing a restart lets GCE stop and start the VM itself.
		op, err := e.v1.instances.Update(ctx, &computepb.UpdateInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1",
			InstanceResource: in, MostDisruptiveAllowedAction: str("RESTART")})
		if err := e.doV1(op, err); err != nil {
			t.Fatalf("update with RESTART allowed: %v", err)
		}
		if vm := get(); vm.GetCanIpForward() || vm.GetStatus() != "RUNNING" {
			t.Errorf("after update: canIpForward %v, status %s; want false, RUNNING", vm.GetCanIpForward(), vm.GetStatus())
		}

		op, err = e.v1.instances.Stop(ctx, &computepb.StopInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1"})
		if err := e.doV1(op, err); err != nil {
			t.Fatalf("stop: %v", err)
		}
		in = get()
		in.CanIpForward = boolp(true)
		op, err = e.v1.instances.Update(ctx, &computepb.UpdateInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1", InstanceResource: in})
		if err := e.doV1(op, err); err != nil {
			t.Fatalf("update while TERMINATED: %v", err)
		}
		op, err = e.v1.instances.Start(ctx, &computepb.StartInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1"})
		if err := e.doV1(op, err); err != nil {
			t.Fatalf("start: %v", err)
		}
		if vm := get(); !vm.GetCanIpForward() || vm.GetStatus() != "RUNNING" {
			t.Errorf("after stop, update, start: canIpForward %v, status %s; want true, RUNNING", vm.GetCanIpForward(), vm.GetStatus())
		}

		_, err = e.v1.instances.Update(ctx, &computepb.UpdateInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-missing",
			InstanceResource: &computepb.Instance{Name: str("vm-missing"), Fingerprint: str("x")}})
		if got, want := v1Err(t, err), (apiErr{http.StatusNotFound, "notFound"}); got != want {
			t.Errorf("update of a missing VM = %v, want %v", got, want)
		}
	})
}
