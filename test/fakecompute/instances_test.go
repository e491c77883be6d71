package fakecompute_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

func TestInstancesLifecycle(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	ctx := testCtx(t)
	subnet := netip.MustParsePrefix("10.128.0.0/16")
	external := netip.MustParsePrefix("198.18.0.0/15")

	t.Run("compute/v1", func(t *testing.T) {
		err := e.doOld(e.old.Instances.Insert(project, zoneA, &gce.Instance{
			Name: "vm-old", MachineType: "zones/" + zoneA + "/machineTypes/e2-small", CanIpForward: true,
			Tags:              &gce.Tags{Items: []string{"node"}},
			NetworkInterfaces: []*gce.NetworkInterface{{Network: networkLink, AccessConfigs: []*gce.AccessConfig{{}}}},
		}).Context(ctx).Do())
		if err != nil {
			t.Fatalf("instances.insert: %v", err)
		}
		vm, err := e.old.Instances.Get(project, zoneA, "vm-old").Context(ctx).Do()
		if err != nil {
			t.Fatalf("instances.get: %v", err)
		}
		if vm.Status != "RUNNING" || !vm.CanIpForward || vm.Id == 0 || vm.Kind != "compute#instance" ||
			vm.SelfLink != instanceLink(zoneA, "vm-old") || vm.CreationTimestamp == "" ||
			lastSegment(vm.MachineType) != "e2-small" || lastSegment(vm.Zone) != zoneA {
			t.Errorf("instances.get = %+v", vm)
		}
		nic := vm.NetworkInterfaces[0]
		if ip, err := netip.ParseAddr(nic.NetworkIP); err != nil || !subnet.Contains(ip) {
			t.Errorf("networkIP = %q, want an IP of %s", nic.NetworkIP, subnet)
		}
		if ip, err := netip.ParseAddr(nic.AccessConfigs[0].NatIP); err != nil || !external.Contains(ip) {
			t.Errorf("natIP = %q, want an IP of %s", nic.AccessConfigs[0].NatIP, external)
		}
		if nic.Network != networkLink {
			t.Errorf("network = %q, want %q", nic.Network, networkLink)
		}

		// setTags with a stale fingerprint is 412 conditionNotMet, with the current one it works.
		_, err = e.old.Instances.SetTags(project, zoneA, "vm-old", &gce.Tags{Items: []string{"x"}, Fingerprint: "stale"}).Context(ctx).Do()
		if got, want := oldErr(t, err), (apiErr{http.StatusPreconditionFailed, "conditionNotMet"}); got != want {
			t.Errorf("setTags with a stale fingerprint = %v, want %v", got, want)
		}
		err = e.doOld(e.old.Instances.SetTags(project, zoneA, "vm-old",
			&gce.Tags{Items: []string{"b", "a"}, Fingerprint: vm.Tags.Fingerprint}).Context(ctx).Do())
		if err != nil {
			t.Fatalf("setTags: %v", err)
		}
		vm2, err := e.old.Instances.Get(project, zoneA, "vm-old").Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a", "b"}, vm2.Tags.Items); diff != "" {
			t.Errorf("tags after setTags (-want +got):\n%s", diff)
		}
		if vm2.Tags.Fingerprint == vm.Tags.Fingerprint {
			t.Errorf("fingerprint did not change with the tags")
		}

		list, err := e.old.Instances.List(project, zoneA).Filter("name eq .*").Context(ctx).Do()
		if err != nil || len(list.Items) != 1 || list.Items[0].Name != "vm-old" {
			t.Errorf("instances.list = %+v, %v", list, err)
		}
		if err := e.doOld(e.old.Instances.Delete(project, zoneA, "vm-old").Context(ctx).Do()); err != nil {
			t.Fatalf("instances.delete: %v", err)
		}
		_, err = e.old.Instances.Get(project, zoneA, "vm-old").Context(ctx).Do()
		if got, want := oldErr(t, err), (apiErr{http.StatusNotFound, "notFound"}); got != want {
			t.Errorf("get after delete = %v, want %v", got, want)
		}
	})

	t.Run("apiv1", func(t *testing.T) {
		op, err := e.v1.instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: project, Zone: zoneB,
			InstanceResource: &computepb.Instance{Name: str("vm-v1"), CanIpForward: boolp(true),
				NetworkInterfaces: []*computepb.NetworkInterface{{NetworkIP: str("10.128.9.9")}}}})
		if err := e.doV1(op, err); err != nil {
			t.Fatalf("instances.insert: %v", err)
		}
		if op.Proto().GetZone() == "" || op.Proto().GetOperationType() != "insert" || op.Proto().GetTargetId() == 0 {
			t.Errorf("insert operation = %v", op.Proto())
		}
		vm, err := e.v1.instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1"})
		if err != nil {
			t.Fatalf("instances.get: %v", err)
		}
		if vm.GetNetworkInterfaces()[0].GetNetworkIP() != "10.128.9.9" || len(vm.GetNetworkInterfaces()[0].GetAccessConfigs()) != 0 ||
			lastSegment(vm.GetMachineType()) != "e2-standard-4" || vm.GetId() != op.Proto().GetTargetId() {
			t.Errorf("instances.get = %v", vm)
		}

		_, err = e.v1.instances.SetTags(ctx, &computepb.SetTagsInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1",
			TagsResource: &computepb.Tags{Items: []string{"x"}, Fingerprint: str("stale")}})
		if got, want := v1Err(t, err), (apiErr{http.StatusPreconditionFailed, "conditionNotMet"}); got != want {
			t.Errorf("setTags with a stale fingerprint = %v, want %v", got, want)
		}
		op, err = e.v1.instances.SetTags(ctx, &computepb.SetTagsInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1",
			TagsResource: &computepb.Tags{Items: []string{"node"}, Fingerprint: vm.GetTags().Fingerprint}})
		if err := e.doV1(op, err); err != nil {
			t.Fatalf("setTags: %v", err)
		}

		// Status changes through the control API show in get.
		if err := e.srv.SetInstanceStatus("", zoneB, "vm-v1", fakecompute.StatusTerminated); err != nil {
			t.Fatalf("SetInstanceStatus: %v", err)
		}
		vm, err = e.v1.instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1"})
		if err != nil || vm.GetStatus() != "TERMINATED" || !slices.Equal(vm.GetTags().GetItems(), []string{"node"}) {
			t.Errorf("instances.get after SetInstanceStatus = %v, %v", vm, err)
		}
		if err := e.srv.SetInstanceStatus("", zoneB, "vm-v1", "SUSPENDED"); err == nil {
			t.Errorf("SetInstanceStatus(SUSPENDED) = nil, want an error")
		}

		got := names(collect(t, e.v1.instances.List(ctx, &computepb.ListInstancesRequest{Project: project, Zone: zoneB}).Next))
		if diff := cmp.Diff([]string{"vm-v1"}, got); diff != "" {
			t.Errorf("instances.list (-want +got):\n%s", diff)
		}
		op, err = e.v1.instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1"})
		if err := e.doV1(op, err); err != nil {
			t.Fatalf("instances.delete: %v", err)
		}
		_, err = e.v1.instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zoneB, Instance: "vm-v1"})
		if got, want := v1Err(t, err), (apiErr{http.StatusNotFound, "notFound"}); got != want {
			t.Errorf("get after delete = %v, want %v", got, want)
		}
	})

	t.Run("invalid and duplicate", func(t *testing.T) {
		e.seedVMs(t, zoneC, "taken")
		for _, tc := range []struct {
			name string
			vm   *gce.Instance
			want apiErr
		}{
			{"uppercase name", &gce.Instance{Name: "VM"}, apiErr{400, "invalid"}},
			{"missing name", &gce.Instance{}, apiErr{400, "required"}},
			{"duplicate", &gce.Instance{Name: "taken"}, apiErr{409, "alreadyExists"}},
			{"unknown network", &gce.Instance{Name: "vm-x", NetworkInterfaces: []*gce.NetworkInterface{{Network: "global/networks/nope"}}}, apiErr{404, "notFound"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.old.Instances.Insert(project, zoneC, tc.vm).Context(ctx).Do()
				if got := oldErr(t, err); got != tc.want {
					t.Errorf("insert = %v, want %v", got, tc.want)
				}
			})
		}
	})
}

func TestInstancesAggregatedList(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	ctx := testCtx(t)
	var want []string
	for _, z := range []string{zoneA, zoneB, zoneC} {
		for i := range 4 {
			n := fmt.Sprintf("vm-%s-%d", z[len(z)-1:], i)
			e.seedVMs(t, z, n)
			want = append(want, z+"/"+n)
		}
	}

	t.Run("compute/v1", func(t *testing.T) {
		var got []string
		var pages []int
		err := e.old.Instances.AggregatedList(project).MaxResults(5).Pages(ctx, func(l *gce.InstanceAggregatedList) error {
			n := 0
			for scope, sl := range l.Items {
				for _, vm := range sl.Instances {
					got = append(got, lastSegment(scope)+"/"+vm.Name)
					n++
				}
			}
			pages = append(pages, n)
			return nil
		})
		if err != nil {
			t.Fatalf("aggregatedList: %v", err)
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("aggregated instances (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int{5, 5, 2}, pages); diff != "" {
			t.Errorf("page sizes (-want +got):\n%s", diff)
		}
	})

	t.Run("apiv1", func(t *testing.T) {
		it := e.v1.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: project, MaxResults: u32(5)})
		var got []string
		for _, pair := range collect(t, it.Next) {
			for _, vm := range pair.Value.GetInstances() {
				got = append(got, lastSegment(pair.Key)+"/"+vm.GetName())
			}
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("aggregated instances (-want +got):\n%s", diff)
		}
	})

	t.Run("nested field filter", func(t *testing.T) {
		vm, err := e.old.Instances.Get(project, zoneC, "vm-c-2").Context(e.ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		ip := vm.NetworkInterfaces[0].NetworkIP
		got := names(collect(t, e.v1.instances.List(ctx, &computepb.ListInstancesRequest{Project: project, Zone: zoneC,
			Filter: str(`networkInterfaces.networkIP = "` + ip + `"`)}).Next))
		if diff := cmp.Diff([]string{"vm-c-2"}, got); diff != "" {
			t.Errorf("list by networkIP (-want +got):\n%s", diff)
		}
	})

	t.Run("filtered", func(t *testing.T) {
		l, err := e.old.Instances.AggregatedList(project).Filter(`name eq "vm-b-.*"`).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(l.Items["zones/"+zoneB].Instances); n != 4 {
			t.Errorf("zone b has %d instances, want 4", n)
		}
		if w := l.Items["zones/"+zoneA].Warning; w == nil || w.Code != "NO_RESULTS_ON_PAGE" {
			t.Errorf("zone a warning = %+v, want NO_RESULTS_ON_PAGE", w)
		}
	})
}
