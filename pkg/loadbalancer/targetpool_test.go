package loadbalancer

import (
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestTargetPoolNeedsUpdate(t *testing.T) {
	t.Parallel()
	vm := func(n string) string { return instanceURL("p", "us-central1-a", n) }
	hcA, hcB := healthCheckURL("p", "k8s-c1-node"), healthCheckURL("p", "aweb")
	want := desiredTargetPool("aweb", &spec{key: "ns/web", affinity: affinityNone}, []string{vm("a"), vm("b")}, hcA)
	for _, tc := range []struct {
		name string
		have *computepb.TargetPool
		want poolDiff
	}{
		{"identical", &computepb.TargetPool{SessionAffinity: ptr("NONE"), Instances: []string{vm("b"), vm("a")}, HealthChecks: []string{hcA}}, poolDiff{}},
		{"partial URLs match", &computepb.TargetPool{Instances: []string{"projects/p/zones/us-central1-a/instances/a", vm("b")},
			HealthChecks: []string{"projects/p/global/httpHealthChecks/k8s-c1-node"}}, poolDiff{}},
		{"affinity", &computepb.TargetPool{SessionAffinity: ptr("CLIENT_IP"), Instances: []string{vm("a"), vm("b")}, HealthChecks: []string{hcA}},
			poolDiff{recreate: true}},
		{"members", &computepb.TargetPool{SessionAffinity: ptr("NONE"), Instances: []string{vm("b"), vm("c")}, HealthChecks: []string{hcA}},
			poolDiff{add: []string{vm("a")}, remove: []string{vm("c")}}},
		// One check per pool: a new pool with the new check replaces it,
		// so that no pool is ever without one.
		{"other health check", &computepb.TargetPool{SessionAffinity: ptr("NONE"), Instances: []string{vm("a"), vm("b")}, HealthChecks: []string{hcB}},
			poolDiff{recreate: true, detach: []string{hcB}, attach: hcA}},
		{"no health check", &computepb.TargetPool{SessionAffinity: ptr("NONE"), Instances: []string{vm("a"), vm("b")}},
			poolDiff{attach: hcA}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := targetPoolNeedsUpdate(want, tc.have)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(poolDiff{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("targetPoolNeedsUpdate (-want +got):\n%s", diff)
			}
			if got.empty() != (tc.name == "identical" || tc.name == "partial URLs match") {
				t.Errorf("empty() = %v", got.empty())
			}
		})
	}
}

func TestChunks(t *testing.T) {
	t.Parallel()
	var in []string
	for range 2500 {
		in = append(in, "x")
	}
	var sizes []int
	for c := range chunks(in, maxInstancesPerCall) {
		sizes = append(sizes, len(c))
	}
	if !slices.Equal(sizes, []int{1000, 1000, 500}) {
		t.Errorf("chunk sizes = %v", sizes)
	}
}
