package fakecompute_test

import (
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// Helpers for healthChecks (reg == "") and regionHealthChecks (reg set),
// with either client.

func (e *env) insertHC(t testing.TB, client, reg string, hc *gce.HealthCheck) error {
	t.Helper()
	switch {
	case client == "apiv1" && reg == "":
		op, err := e.v1.healthChecks.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
			HealthCheckResource: toV1(t, hc, &computepb.HealthCheck{})})
		return e.doV1(op, err)
	case client == "apiv1":
		op, err := e.v1.regionHealthChecks.Insert(e.ctx, &computepb.InsertRegionHealthCheckRequest{Project: project, Region: reg,
			HealthCheckResource: toV1(t, hc, &computepb.HealthCheck{})})
		return e.doV1(op, err)
	case reg == "":
		return e.doOld(e.old.HealthChecks.Insert(project, hc).Context(e.ctx).Do())
	}
	return e.doOld(e.old.RegionHealthChecks.Insert(project, reg, hc).Context(e.ctx).Do())
}

func (e *env) getHC(t testing.TB, client, reg, name string) (*gce.HealthCheck, error) {
	t.Helper()
	var hc *computepb.HealthCheck
	var err error
	switch {
	case client == "apiv1" && reg == "":
		hc, err = e.v1.healthChecks.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: name})
	case client == "apiv1":
		hc, err = e.v1.regionHealthChecks.Get(e.ctx, &computepb.GetRegionHealthCheckRequest{Project: project, Region: reg, HealthCheck: name})
	case reg == "":
		return e.old.HealthChecks.Get(project, name).Context(e.ctx).Do()
	default:
		return e.old.RegionHealthChecks.Get(project, reg, name).Context(e.ctx).Do()
	}
	if err != nil {
		return nil, err
	}
	return fromV1[gce.HealthCheck](t, hc), nil
}

func (e *env) listHCs(t testing.TB, client, reg string) []string {
	t.Helper()
	switch {
	case client == "apiv1" && reg == "":
		return names(collect(t, e.v1.healthChecks.List(e.ctx, &computepb.ListHealthChecksRequest{Project: project}).Next))
	case client == "apiv1":
		return names(collect(t, e.v1.regionHealthChecks.List(e.ctx, &computepb.ListRegionHealthChecksRequest{Project: project, Region: reg}).Next))
	}
	var l *gce.HealthCheckList
	var err error
	if reg == "" {
		l, err = e.old.HealthChecks.List(project).Context(e.ctx).Do()
	} else {
		l, err = e.old.RegionHealthChecks.List(project, reg).Context(e.ctx).Do()
	}
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []string
	for _, hc := range l.Items {
		out = append(out, hc.Name)
	}
	return out
}

func (e *env) modifyHC(t testing.TB, client, reg, name string, patch bool, hc *gce.HealthCheck) error {
	t.Helper()
	if client == "apiv1" {
		res := toV1(t, hc, &computepb.HealthCheck{})
		switch {
		case reg == "" && patch:
			o, err := e.v1.healthChecks.Patch(e.ctx, &computepb.PatchHealthCheckRequest{Project: project, HealthCheck: name, HealthCheckResource: res})
			return e.doV1(o, err)
		case reg == "":
			o, err := e.v1.healthChecks.Update(e.ctx, &computepb.UpdateHealthCheckRequest{Project: project, HealthCheck: name, HealthCheckResource: res})
			return e.doV1(o, err)
		case patch:
			o, err := e.v1.regionHealthChecks.Patch(e.ctx, &computepb.PatchRegionHealthCheckRequest{Project: project, Region: reg,
				HealthCheck: name, HealthCheckResource: res})
			return e.doV1(o, err)
		default:
			o, err := e.v1.regionHealthChecks.Update(e.ctx, &computepb.UpdateRegionHealthCheckRequest{Project: project, Region: reg,
				HealthCheck: name, HealthCheckResource: res})
			return e.doV1(o, err)
		}
	}
	switch {
	case reg == "" && patch:
		return e.doOld(e.old.HealthChecks.Patch(project, name, hc).Context(e.ctx).Do())
	case reg == "":
		return e.doOld(e.old.HealthChecks.Update(project, name, hc).Context(e.ctx).Do())
	case patch:
		return e.doOld(e.old.RegionHealthChecks.Patch(project, reg, name, hc).Context(e.ctx).Do())
	}
	return e.doOld(e.old.RegionHealthChecks.Update(project, reg, name, hc).Context(e.ctx).Do())
}

func (e *env) deleteHC(client, reg, name string) error {
	switch {
	case client == "apiv1" && reg == "":
		op, err := e.v1.healthChecks.Delete(e.ctx, &computepb.DeleteHealthCheckRequest{Project: project, HealthCheck: name})
		return e.doV1(op, err)
	case client == "apiv1":
		op, err := e.v1.regionHealthChecks.Delete(e.ctx, &computepb.DeleteRegionHealthCheckRequest{Project: project, Region: reg, HealthCheck: name})
		return e.doV1(op, err)
	case reg == "":
		return e.doOld(e.old.HealthChecks.Delete(project, name).Context(e.ctx).Do())
	}
	return e.doOld(e.old.RegionHealthChecks.Delete(project, reg, name).Context(e.ctx).Do())
}

func TestHealthChecks(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	// A legacy HTTP health check of the same name is another resource.
	if err := e.insertHealthCheck(&gce.HttpHealthCheck{Name: "k8s-cluster-node-old", Port: 1}); err != nil {
		t.Fatal(err)
	}
	for _, client := range clientNames {
		for _, reg := range []string{"", region} {
			scope := "global"
			link := globalLink("healthChecks", "")
			if reg != "" {
				scope = "regional"
				link = regionalLink("healthChecks", "")
			}
			t.Run(client+"/"+scope, func(t *testing.T) {
				name := "k8s-cluster-node-" + suffix(client)
				in := &gce.HealthCheck{Name: name, Description: `{"kubernetes.io/service-name":"k8s-cluster-node"}`, Type: "HTTP",
					HttpHealthCheck: &gce.HTTPHealthCheck{Port: 10256, RequestPath: "/healthz"}, CheckIntervalSec: 8, TimeoutSec: 1,
					HealthyThreshold: 1, UnhealthyThreshold: 3}
				if err := e.insertHC(t, client, reg, in); err != nil {
					t.Fatalf("insert: %v", err)
				}
				got, err := e.getHC(t, client, reg, name)
				if err != nil {
					t.Fatal(err)
				}
				want := &gce.HealthCheck{Kind: "compute#healthCheck", Name: name, Description: in.Description, Type: "HTTP",
					HttpHealthCheck:  &gce.HTTPHealthCheck{Port: 10256, RequestPath: "/healthz", ProxyHeader: "NONE"},
					CheckIntervalSec: 8, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3, SelfLink: link + name}
				if reg != "" {
					want.Region = regionLink
				}
				if diff := cmp.Diff(want, got, cmpRoute); diff != "" {
					t.Errorf("get (-want +got):\n%s", diff)
				}
				if !slices.Contains(e.listHCs(t, client, reg), name) {
					t.Errorf("list misses %s", name)
				}

				// Patch merges, into nested objects too; update replaces and takes defaults.
				if err := e.modifyHC(t, client, reg, name, true, &gce.HealthCheck{HttpHealthCheck: &gce.HTTPHealthCheck{Port: 30001}}); err != nil {
					t.Fatalf("patch: %v", err)
				}
				if got, _ := e.getHC(t, client, reg, name); got.HttpHealthCheck.Port != 30001 || got.HttpHealthCheck.RequestPath != "/healthz" ||
					got.CheckIntervalSec != 8 {
					t.Errorf("after patch: %+v %+v", got, got.HttpHealthCheck)
				}
				if err := e.modifyHC(t, client, reg, name, false, &gce.HealthCheck{Name: name, Type: "TCP"}); err != nil {
					t.Fatalf("update: %v", err)
				}
				if got, _ := e.getHC(t, client, reg, name); got.HttpHealthCheck != nil || got.TcpHealthCheck == nil ||
					got.TcpHealthCheck.Port != 80 || got.CheckIntervalSec != 5 || got.TimeoutSec != 5 || got.SelfLink != link+name {
					t.Errorf("after update: %+v", got)
				}

				for _, tc := range []struct {
					what string
					call func() error
					want apiErr
				}{
					{"insert again", func() error { return e.insertHC(t, client, reg, in) }, apiErr{409, "alreadyExists"}},
					{"no type", func() error { return e.insertHC(t, client, reg, &gce.HealthCheck{Name: "x-" + name}) }, apiErr{400, "invalid"}},
					{"settings of another type", func() error {
						return e.insertHC(t, client, reg, &gce.HealthCheck{Name: "x-" + name, Type: "TCP", HttpHealthCheck: &gce.HTTPHealthCheck{Port: 1}})
					}, apiErr{400, "invalid"}},
					{"timeout above interval", func() error {
						return e.insertHC(t, client, reg, &gce.HealthCheck{Name: "x-" + name, Type: "HTTP", CheckIntervalSec: 2, TimeoutSec: 3})
					}, apiErr{400, "invalid"}},
					{"rename", func() error {
						return e.modifyHC(t, client, reg, name, true, &gce.HealthCheck{Name: "other"})
					}, apiErr{400, "invalid"}},
					{"patch a missing one", func() error {
						return e.modifyHC(t, client, reg, "nope", true, &gce.HealthCheck{CheckIntervalSec: 9})
					}, apiErr{404, "notFound"}},
					{"delete a missing one", func() error { return e.deleteHC(client, reg, "nope") }, apiErr{404, "notFound"}},
				} {
					if got := errOf(t, client, tc.call()); got != tc.want {
						t.Errorf("%s = %v, want %v", tc.what, got, tc.want)
					}
				}
				if err := e.deleteHC(client, reg, name); err != nil {
					t.Fatalf("delete: %v", err)
				}
				if _, err := e.getHC(t, client, reg, name); errOf(t, client, err) != (apiErr{404, "notFound"}) {
					t.Errorf("get after delete = %v", err)
				}
			})
		}
	}
	// The legacy one is untouched, and the global list never shows regional ones.
	if hc, err := e.old.HttpHealthChecks.Get(project, "k8s-cluster-node-old").Context(e.ctx).Do(); err != nil || hc.Port != 1 {
		t.Errorf("legacy health check = %+v, %v", hc, err)
	}
	if err := e.insertHC(t, "apiv1", region, &gce.HealthCheck{Name: "only-regional", Type: "TCP"}); err != nil {
		t.Fatal(err)
	}
	if l := e.listHCs(t, "compute/v1", ""); slices.Contains(l, "only-regional") {
		t.Errorf("global list %v shows a regional health check", l)
	}
}
