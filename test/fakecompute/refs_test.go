package fakecompute_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestInstanceReferenceForms checks that target pools take instance
// references in every form GCE accepts, as the long-standing provider sends
// them (/zones/Z/instances/N), and store the canonical selfLink.
func TestInstanceReferenceForms(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "n1", "n2")
	e.seedVMs(t, zoneB, "n3")
	n1, n2, n3 := instanceLink(zoneA, "n1"), instanceLink(zoneA, "n2"), instanceLink(zoneB, "n3")
	forms := []struct {
		name, short string
		ref         func(zone, name string) string
	}{
		{"leading slash", "ls", func(z, n string) string { return "/zones/" + z + "/instances/" + n }},
		{"no slash", "ns", func(z, n string) string { return "zones/" + z + "/instances/" + n }},
		{"from projects", "pr", func(z, n string) string { return "projects/" + project + "/zones/" + z + "/instances/" + n }},
		{"full URL", "url", instanceLink},
	}
	for _, f := range forms {
		for _, client := range clientNames {
			t.Run(f.name+"/"+client, func(t *testing.T) {
				pool := "pool-" + suffix(client) + "-" + f.short
				steps := []struct {
					name string
					do   func() error
					want []string
				}{
					{"insert", func() error {
						return e.insertPool(t, client, &gce.TargetPool{Name: pool, Instances: []string{f.ref(zoneA, "n1")}})
					}, []string{n1}},
					{"addInstance", func() error { return e.addInstances(client, pool, f.ref(zoneA, "n2"), f.ref(zoneB, "n3")) }, []string{n1, n2, n3}},
					{"removeInstance", func() error { return e.removeInstances(client, pool, f.ref(zoneA, "n1"), f.ref(zoneB, "n3")) }, []string{n2}},
				}
				for _, s := range steps {
					if err := s.do(); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
					tp, err := e.getPool(t, client, pool)
					if err != nil {
						t.Fatalf("get after %s: %v", s.name, err)
					}
					if diff := cmp.Diff(s.want, tp.Instances, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("instances after %s (-want +got):\n%s", s.name, diff)
					}
				}
			})
		}
	}

	// Routes resolve their next hop with the same parser.
	for _, f := range forms {
		for _, client := range clientNames {
			t.Run("route "+f.name+"/"+client, func(t *testing.T) {
				name := "route-" + suffix(client) + "-" + f.short
				r := nodeRoute(name, "10.1.0.0/24", "n1")
				r.NextHopInstance = f.ref(zoneA, "n1")
				if err := e.insertRoute(t, client, r); err != nil {
					t.Fatalf("insert: %v", err)
				}
				got, err := e.old.Routes.Get(project, name).Context(e.ctx).Do()
				if err != nil {
					t.Fatal(err)
				}
				if got.NextHopInstance != n1 {
					t.Errorf("nextHopInstance = %q, want %q", got.NextHopInstance, n1)
				}
			})
		}
	}

	for _, tc := range []struct {
		name string
		ref  string
		want apiErr
	}{
		{"missing VM, leading slash", "/zones/" + zoneA + "/instances/ghost", apiErr{404, "notFound"}},
		{"wrong kind", "/zones/" + zoneA + "/disks/n1", apiErr{400, "invalid"}},
		{"bare name", "n1", apiErr{400, "invalid"}},
	} {
		for _, client := range clientNames {
			t.Run(tc.name+"/"+client, func(t *testing.T) {
				if got := errOf(t, client, e.addInstances(client, "pool-"+suffix(client)+"-ls", tc.ref)); got != tc.want {
					t.Errorf("addInstance(%q) = %v, want %v", tc.ref, got, tc.want)
				}
			})
		}
	}
}
