package fakecompute_test

import (
	"net/http"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

func TestZonesRegionsNetworks(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	ctx := testCtx(t)
	zones := []string{zoneA, zoneB, zoneC}
	subnetLink := regionalLink("subnetworks", network)

	t.Run("compute/v1", func(t *testing.T) {
		zl, err := e.old.Zones.List(project).Context(ctx).Do()
		if err != nil {
			t.Fatalf("zones.list: %v", err)
		}
		var got []string
		for _, z := range zl.Items {
			got = append(got, z.Name)
			if z.Region != regionLink || z.Status != "UP" || z.Kind != "compute#zone" || z.Id == 0 {
				t.Errorf("zone %s = %+v", z.Name, z)
			}
		}
		if diff := cmp.Diff(zones, got); diff != "" {
			t.Errorf("zones.list (-want +got):\n%s", diff)
		}
		z, err := e.old.Zones.Get(project, zoneB).Context(ctx).Do()
		if err != nil || z.SelfLink != fakecompute.SelfLinkPrefix+"projects/"+project+"/zones/"+zoneB {
			t.Errorf("zones.get = %+v, %v", z, err)
		}
		r, err := e.old.Regions.Get(project, region).Context(ctx).Do()
		if err != nil {
			t.Fatalf("regions.get: %v", err)
		}
		if len(r.Zones) != 3 || r.SelfLink != regionLink {
			t.Errorf("regions.get = %+v", r)
		}
		n, err := e.old.Networks.Get(project, network).Context(ctx).Do()
		if err != nil || n.SelfLink != networkLink || len(n.Subnetworks) != 1 || n.Subnetworks[0] != subnetLink {
			t.Errorf("networks.get = %+v, %v", n, err)
		}
		nl, err := e.old.Networks.List(project).Context(ctx).Do()
		if err != nil || len(nl.Items) != 1 {
			t.Errorf("networks.list = %+v, %v", nl, err)
		}
		s, err := e.old.Subnetworks.Get(project, region, network).Context(ctx).Do()
		if err != nil || s.IpCidrRange != "10.128.0.0/16" || s.Network != networkLink || s.Region != regionLink {
			t.Errorf("subnetworks.get = %+v, %v", s, err)
		}
		sl, err := e.old.Subnetworks.List(project, region).Context(ctx).Do()
		if err != nil || len(sl.Items) != 1 {
			t.Errorf("subnetworks.list = %+v, %v", sl, err)
		}
	})

	t.Run("apiv1", func(t *testing.T) {
		got := names(collect(t, e.v1.zones.List(ctx, &computepb.ListZonesRequest{Project: project}).Next))
		if diff := cmp.Diff(zones, got); diff != "" {
			t.Errorf("zones.list (-want +got):\n%s", diff)
		}
		z, err := e.v1.zones.Get(ctx, &computepb.GetZoneRequest{Project: project, Zone: zoneC})
		if err != nil || z.GetRegion() != regionLink {
			t.Errorf("zones.get = %v, %v", z, err)
		}
		r, err := e.v1.regions.Get(ctx, &computepb.GetRegionRequest{Project: project, Region: region})
		if err != nil || len(r.GetZones()) != 3 {
			t.Errorf("regions.get = %v, %v", r, err)
		}
		n, err := e.v1.networks.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: network})
		if err != nil || n.GetSelfLink() != networkLink {
			t.Errorf("networks.get = %v, %v", n, err)
		}
		nets := names(collect(t, e.v1.networks.List(ctx, &computepb.ListNetworksRequest{Project: project}).Next))
		if diff := cmp.Diff([]string{network}, nets); diff != "" {
			t.Errorf("networks.list (-want +got):\n%s", diff)
		}
		s, err := e.v1.subnetworks.Get(ctx, &computepb.GetSubnetworkRequest{Project: project, Region: region, Subnetwork: network})
		if err != nil || s.GetSelfLink() != subnetLink {
			t.Errorf("subnetworks.get = %v, %v", s, err)
		}
		subs := names(collect(t, e.v1.subnetworks.List(ctx, &computepb.ListSubnetworksRequest{Project: project, Region: region}).Next))
		if diff := cmp.Diff([]string{network}, subs); diff != "" {
			t.Errorf("subnetworks.list (-want +got):\n%s", diff)
		}
	})

	t.Run("unknown zone, region, network and project are notFound", func(t *testing.T) {
		want := apiErr{http.StatusNotFound, "notFound"}
		_, err := e.old.Zones.Get(project, "mars-north1-a").Context(ctx).Do()
		if got := oldErr(t, err); got != want {
			t.Errorf("zones.get unknown = %v, want %v", got, want)
		}
		_, err = e.v1.regions.Get(ctx, &computepb.GetRegionRequest{Project: project, Region: "mars-north1"})
		if got := v1Err(t, err); got != want {
			t.Errorf("regions.get unknown = %v, want %v", got, want)
		}
		_, err = e.v1.networks.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "nope"})
		if got := v1Err(t, err); got != want {
			t.Errorf("networks.get unknown = %v, want %v", got, want)
		}
		_, err = e.old.Subnetworks.List(project, "mars-north1").Context(ctx).Do()
		if got := oldErr(t, err); got != want {
			t.Errorf("subnetworks.list in unknown region = %v, want %v", got, want)
		}
		_, err = e.old.Networks.List("other-project").Context(ctx).Do()
		if got := oldErr(t, err); got != want {
			t.Errorf("networks.list in unknown project = %v, want %v", got, want)
		}
	})
}

func TestExtraProjects(t *testing.T) {
	e := newEnv(t, fakecompute.Config{ExtraProjects: []string{"host-project"}, Network: "shared"})
	ctx := testCtx(t)
	n, err := e.old.Networks.Get("host-project", "shared").Context(ctx).Do()
	if err != nil {
		t.Fatalf("networks.get in the extra project: %v", err)
	}
	if want := fakecompute.SelfLinkPrefix + "projects/host-project/global/networks/shared"; n.SelfLink != want {
		t.Errorf("selfLink = %s, want %s", n.SelfLink, want)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  fakecompute.Config
	}{
		{"zone without region", fakecompute.Config{Zones: []string{"zonea"}}},
		{"bad project", fakecompute.Config{Project: "Bad_Project"}},
		{"bad network", fakecompute.Config{Network: "Net"}},
		{"bad subnet", fakecompute.Config{SubnetCIDR: "10.0.0.0/40"}},
		{"ipv6 external", fakecompute.Config{ExternalCIDR: "2001:db8::/64"}},
		{"negative latency", fakecompute.Config{Latency: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fakecompute.New(tc.cfg); err == nil {
				t.Errorf("New(%+v) = nil error, want one", tc.cfg)
			}
		})
	}
}
