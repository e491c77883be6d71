package fakecompute_test

import (
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// Helpers for instanceGroups, with either client (see lbops_test.go).

func (e *env) insertIG(t testing.TB, client, zone string, ig *gce.InstanceGroup) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.instanceGroups.Insert(e.ctx, &computepb.InsertInstanceGroupRequest{Project: project, Zone: zone,
			InstanceGroupResource: toV1(t, ig, &computepb.InstanceGroup{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.InstanceGroups.Insert(project, zone, ig).Context(e.ctx).Do())
}

func (e *env) getIG(t testing.TB, client, zone, name string) (*gce.InstanceGroup, error) {
	t.Helper()
	if client == "apiv1" {
		ig, err := e.v1.instanceGroups.Get(e.ctx, &computepb.GetInstanceGroupRequest{Project: project, Zone: zone, InstanceGroup: name})
		if err != nil {
			return nil, err
		}
		return fromV1[gce.InstanceGroup](t, ig), nil
	}
	return e.old.InstanceGroups.Get(project, zone, name).Context(e.ctx).Do()
}

func (e *env) listIGs(t testing.TB, client, zone string) []string {
	t.Helper()
	if client == "apiv1" {
		return names(collect(t, e.v1.instanceGroups.List(e.ctx, &computepb.ListInstanceGroupsRequest{Project: project, Zone: zone}).Next))
	}
	l, err := e.old.InstanceGroups.List(project, zone).Context(e.ctx).Do()
	if err != nil {
		t.Fatalf("instanceGroups.list: %v", err)
	}
	var out []string
	for _, ig := range l.Items {
		out = append(out, ig.Name)
	}
	return out
}

func (e *env) deleteIG(client, zone, name string) error {
	if client == "apiv1" {
		op, err := e.v1.instanceGroups.Delete(e.ctx, &computepb.DeleteInstanceGroupRequest{Project: project, Zone: zone, InstanceGroup: name})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.InstanceGroups.Delete(project, zone, name).Context(e.ctx).Do())
}

func igRefs(links []string) []*gce.InstanceReference {
	out := make([]*gce.InstanceReference, len(links))
	for i, l := range links {
		out[i] = &gce.InstanceReference{Instance: l}
	}
	return out
}

func igRefsV1(links []string) []*computepb.InstanceReference {
	out := make([]*computepb.InstanceReference, len(links))
	for i, l := range links {
		out[i] = &computepb.InstanceReference{Instance: str(l)}
	}
	return out
}

func (e *env) addToIG(client, zone, name string, links ...string) error {
	if client == "apiv1" {
		op, err := e.v1.instanceGroups.AddInstances(e.ctx, &computepb.AddInstancesInstanceGroupRequest{Project: project, Zone: zone,
			InstanceGroup: name, InstanceGroupsAddInstancesRequestResource: &computepb.InstanceGroupsAddInstancesRequest{Instances: igRefsV1(links)}})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.InstanceGroups.AddInstances(project, zone, name,
		&gce.InstanceGroupsAddInstancesRequest{Instances: igRefs(links)}).Context(e.ctx).Do())
}

func (e *env) removeFromIG(client, zone, name string, links ...string) error {
	if client == "apiv1" {
		op, err := e.v1.instanceGroups.RemoveInstances(e.ctx, &computepb.RemoveInstancesInstanceGroupRequest{Project: project, Zone: zone,
			InstanceGroup: name, InstanceGroupsRemoveInstancesRequestResource: &computepb.InstanceGroupsRemoveInstancesRequest{Instances: igRefsV1(links)}})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.InstanceGroups.RemoveInstances(project, zone, name,
		&gce.InstanceGroupsRemoveInstancesRequest{Instances: igRefs(links)}).Context(e.ctx).Do())
}

// igMembers lists the members with listInstances, one page of at most
// pageSize at a time.
func (e *env) igMembers(t testing.TB, client, zone, name, state string, pageSize int64) []string {
	t.Helper()
	var out []string
	if client == "apiv1" {
		it := e.v1.instanceGroups.ListInstances(e.ctx, &computepb.ListInstancesInstanceGroupsRequest{Project: project, Zone: zone,
			InstanceGroup: name, MaxResults: u32(uint32(pageSize)),
			InstanceGroupsListInstancesRequestResource: &computepb.InstanceGroupsListInstancesRequest{InstanceState: str(state)}})
		for m, err := range it.All() {
			if err != nil {
				t.Fatalf("listInstances: %v", err)
			}
			out = append(out, m.GetInstance())
		}
		return out
	}
	err := e.old.InstanceGroups.ListInstances(project, zone, name, &gce.InstanceGroupsListInstancesRequest{InstanceState: state}).
		MaxResults(pageSize).Pages(e.ctx, func(l *gce.InstanceGroupsListInstances) error {
		if int64(len(l.Items)) > pageSize {
			t.Errorf("page of %d, want at most %d", len(l.Items), pageSize)
		}
		for _, m := range l.Items {
			out = append(out, m.Instance)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listInstances: %v", err)
	}
	return out
}

func (e *env) setNamedPorts(client, zone, name, fp string, ports ...*gce.NamedPort) error {
	if client == "apiv1" {
		var v1 []*computepb.NamedPort
		for _, p := range ports {
			v1 = append(v1, &computepb.NamedPort{Name: str(p.Name), Port: proto32(p.Port)})
		}
		req := &computepb.InstanceGroupsSetNamedPortsRequest{NamedPorts: v1}
		if fp != "" {
			req.Fingerprint = str(fp)
		}
		op, err := e.v1.instanceGroups.SetNamedPorts(e.ctx, &computepb.SetNamedPortsInstanceGroupRequest{Project: project, Zone: zone,
			InstanceGroup: name, InstanceGroupsSetNamedPortsRequestResource: req})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.InstanceGroups.SetNamedPorts(project, zone, name,
		&gce.InstanceGroupsSetNamedPortsRequest{NamedPorts: ports, Fingerprint: fp}).Context(e.ctx).Do())
}

func proto32(v int64) *int32 { x := int32(v); return &x }

func igLink(zone, name string) string {
	return fakecompute.SelfLinkPrefix + "projects/" + project + "/zones/" + zone + "/instanceGroups/" + name
}

func TestInstanceGroups(t *testing.T) {
	e := newEnv(t, fakecompute.Config{ExtraNetworks: []string{"other"}})
	e.seedVMs(t, zoneA, "a-1", "a-2", "a-3")
	e.seedVMs(t, zoneB, "b-1")
	if err := e.srv.SetInstanceStatus("", zoneA, "a-3", fakecompute.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	a1, a2, a3, b1 := instanceLink(zoneA, "a-1"), instanceLink(zoneA, "a-2"), instanceLink(zoneA, "a-3"), instanceLink(zoneB, "b-1")

	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			name := "k8s-ig--" + suffix(client)
			if err := e.insertIG(t, client, zoneA, &gce.InstanceGroup{Name: name, Description: "nodes",
				Network: "global/networks/" + network, NamedPorts: []*gce.NamedPort{{Name: "http", Port: 80}}}); err != nil {
				t.Fatalf("insert: %v", err)
			}
			got, err := e.getIG(t, client, zoneA, name)
			if err != nil {
				t.Fatal(err)
			}
			want := &gce.InstanceGroup{Kind: "compute#instanceGroup", Name: name, Description: "nodes", Network: networkLink,
				NamedPorts: []*gce.NamedPort{{Name: "http", Port: 80}}, Zone: fakecompute.SelfLinkPrefix + "projects/" + project + "/zones/" + zoneA,
				SelfLink: igLink(zoneA, name), Fingerprint: got.Fingerprint}
			if diff := cmp.Diff(want, got, cmpRoute); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}
			if got.Fingerprint == "" {
				t.Error("no fingerprint")
			}
			if !slices.Contains(e.listIGs(t, client, zoneA), name) || slices.Contains(e.listIGs(t, client, zoneB), name) {
				t.Errorf("list: %s not listed in %s alone", name, zoneA)
			}

			if err := e.addToIG(client, zoneA, name, a1, "zones/"+zoneA+"/instances/a-2", a3); err != nil {
				t.Fatalf("addInstances: %v", err)
			}
			if ig, _ := e.getIG(t, client, zoneA, name); ig.Size != 3 {
				t.Errorf("size = %d, want 3", ig.Size)
			}
			if got, want := e.igMembers(t, client, zoneA, name, "ALL", 2), []string{a1, a2, a3}; !cmp.Equal(got, want) {
				t.Errorf("listInstances ALL = %v, want %v", got, want)
			}
			if got, want := e.igMembers(t, client, zoneA, name, "RUNNING", 500), []string{a1, a2}; !cmp.Equal(got, want) {
				t.Errorf("listInstances RUNNING = %v, want %v", got, want)
			}

			for _, tc := range []struct {
				what  string
				call  func() error
				want  apiErr
				after int64
			}{
				{"add a member again", func() error { return e.addToIG(client, zoneA, name, a1) }, apiErr{400, "memberAlreadyExists"}, 3},
				{"add from another zone", func() error { return e.addToIG(client, zoneA, name, b1) }, apiErr{400, "invalid"}, 3},
				{"add a missing VM", func() error { return e.addToIG(client, zoneA, name, instanceLink(zoneA, "nope")) }, apiErr{404, "notFound"}, 3},
				{"add nothing", func() error { return e.addToIG(client, zoneA, name) }, apiErr{400, "required"}, 3},
				{"remove a non-member", func() error { return e.removeFromIG(client, zoneA, name, a1, instanceLink(zoneA, "nope")) }, apiErr{404, "notFound"}, 3},
				{"remove two", func() error { return e.removeFromIG(client, zoneA, name, a1, a2) }, apiErr{}, 1},
				{"delete a missing group", func() error { return e.deleteIG(client, zoneA, "nope") }, apiErr{404, "notFound"}, 1},
				{"insert again", func() error { return e.insertIG(t, client, zoneA, &gce.InstanceGroup{Name: name}) }, apiErr{409, "alreadyExists"}, 1},
				{"insert with a missing network", func() error {
					return e.insertIG(t, client, zoneA, &gce.InstanceGroup{Name: "x-" + name, Network: globalLink("networks", "nope")})
				}, apiErr{404, "notFound"}, 1},
			} {
				if got := errOf(t, client, tc.call()); got != tc.want {
					t.Errorf("%s = %v, want %v", tc.what, got, tc.want)
				}
				if ig, err := e.getIG(t, client, zoneA, name); err != nil || ig.Size != tc.after {
					t.Errorf("after %s: size = %d (%v), want %d", tc.what, ig.Size, err, tc.after)
				}
			}

			// Named ports: a stale fingerprint is refused, the current one or none is taken.
			ig, _ := e.getIG(t, client, zoneA, name)
			if err := e.setNamedPorts(client, zoneA, name, ig.Fingerprint, &gce.NamedPort{Name: "https", Port: 443}); err != nil {
				t.Fatalf("setNamedPorts: %v", err)
			}
			if got := errOf(t, client, e.setNamedPorts(client, zoneA, name, ig.Fingerprint)); got != (apiErr{412, "conditionNotMet"}) {
				t.Errorf("setNamedPorts with a stale fingerprint = %v, want 412 conditionNotMet", got)
			}
			if err := e.setNamedPorts(client, zoneA, name, "", &gce.NamedPort{Name: "https", Port: 8443}); err != nil {
				t.Errorf("setNamedPorts without fingerprint: %v", err)
			}
			if ig2, _ := e.getIG(t, client, zoneA, name); len(ig2.NamedPorts) != 1 || ig2.NamedPorts[0].Port != 8443 || ig2.Fingerprint == ig.Fingerprint {
				t.Errorf("after setNamedPorts: %+v, fingerprint %q (was %q)", ig2.NamedPorts, ig2.Fingerprint, ig.Fingerprint)
			}

			if err := e.deleteIG(client, zoneA, name); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := e.getIG(t, client, zoneA, name); errOf(t, client, err) != (apiErr{404, "notFound"}) {
				t.Errorf("get after delete = %v", err)
			}
		})
	}

	t.Run("network", func(t *testing.T) {
		if err := e.insertIG(t, "apiv1", zoneA, &gce.InstanceGroup{Name: "other-net", Network: globalLink("networks", "other")}); err != nil {
			t.Fatal(err)
		}
		if got := errOf(t, "apiv1", e.addToIG("apiv1", zoneA, "other-net", a1)); got != (apiErr{400, "invalid"}) {
			t.Errorf("add a VM of another network = %v, want 400 invalid", got)
		}
		// A group made without a network takes its first member's.
		if err := e.insertIG(t, "compute/v1", zoneA, &gce.InstanceGroup{Name: "no-net"}); err != nil {
			t.Fatal(err)
		}
		if err := e.addToIG("compute/v1", zoneA, "no-net", a1); err != nil {
			t.Fatal(err)
		}
		if ig, _ := e.getIG(t, "compute/v1", zoneA, "no-net"); ig.Network != networkLink {
			t.Errorf("network = %q, want %q", ig.Network, networkLink)
		}
	})

	t.Run("deleted VM leaves its groups", func(t *testing.T) {
		if err := e.insertIG(t, "compute/v1", zoneB, &gce.InstanceGroup{Name: "b"}); err != nil {
			t.Fatal(err)
		}
		if err := e.addToIG("compute/v1", zoneB, "b", b1); err != nil {
			t.Fatal(err)
		}
		if err := e.doOld(e.old.Instances.Delete(project, zoneB, "b-1").Context(e.ctx).Do()); err != nil {
			t.Fatal(err)
		}
		if ig, _ := e.getIG(t, "apiv1", zoneB, "b"); ig.Size != 0 {
			t.Errorf("size after the VM went = %d, want 0", ig.Size)
		}
		if m := e.igMembers(t, "apiv1", zoneB, "b", "ALL", 10); len(m) != 0 {
			t.Errorf("members after the VM went = %v", m)
		}
	})

	t.Run("aggregatedList", func(t *testing.T) {
		var got []string
		for pair, err := range e.v1.instanceGroups.AggregatedList(e.ctx, &computepb.AggregatedListInstanceGroupsRequest{Project: project}).All() {
			if err != nil {
				t.Fatal(err)
			}
			for _, ig := range pair.Value.GetInstanceGroups() {
				got = append(got, pair.Key+"/"+ig.GetName())
			}
		}
		l, err := e.old.InstanceGroups.AggregatedList(project).Context(e.ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		var old []string
		for scope, sl := range l.Items {
			for _, ig := range sl.InstanceGroups {
				old = append(old, scope+"/"+ig.Name)
			}
		}
		slices.Sort(got)
		slices.Sort(old)
		want := []string{"zones/" + zoneA + "/no-net", "zones/" + zoneA + "/other-net", "zones/" + zoneB + "/b"}
		if !cmp.Equal(got, want) || !cmp.Equal(old, want) {
			t.Errorf("aggregatedList = %v (apiv1), %v (compute/v1); want %v", got, old, want)
		}
	})

	if c := e.srv.Calls()["instanceGroups.addInstances"]; c["memberAlreadyExists"] != 2 {
		t.Errorf("addInstances calls = %v, want 2 memberAlreadyExists", c)
	}
}
