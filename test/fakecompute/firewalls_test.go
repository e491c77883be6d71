package fakecompute_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

func TestFirewalls(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			name := "k8s-fw-" + suffix(client)
			check := func(step string, want *gce.Firewall) {
				t.Helper()
				got, err := e.getFirewall(t, client, name)
				if err != nil {
					t.Fatalf("get after %s: %v", step, err)
				}
				want.Kind, want.Name, want.Network, want.SelfLink = "compute#firewall", name, networkLink, globalLink("firewalls", name)
				if diff := cmp.Diff(want, got, cmpRoute); diff != "" {
					t.Errorf("after %s (-want +got):\n%s", step, diff)
				}
			}

			err := e.insertFirewall(t, client, &gce.Firewall{Name: name, Description: "svc",
				Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "8000-8080"}}}, TargetTags: []string{"node"}})
			if err != nil {
				t.Fatalf("insert: %v", err)
			}
			check("insert", &gce.Firewall{Description: "svc", Priority: 1000, Direction: "INGRESS", SourceRanges: []string{"0.0.0.0/0"},
				Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "8000-8080"}}}, TargetTags: []string{"node"}})

			if err := e.patchFirewall(t, client, name, &gce.Firewall{SourceRanges: []string{"10.0.0.0/8", "192.168.1.1"}}); err != nil {
				t.Fatalf("patch: %v", err)
			}
			check("patch", &gce.Firewall{Description: "svc", Priority: 1000, Direction: "INGRESS", SourceRanges: []string{"10.0.0.0/8", "192.168.1.1"},
				Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "8000-8080"}}}, TargetTags: []string{"node"}})

			// update replaces: what it leaves out takes the defaults again.
			if err := e.updateFirewall(t, client, name, &gce.Firewall{Name: name, Priority: 900,
				Allowed: []*gce.FirewallAllowed{{IPProtocol: "udp"}}}); err != nil {
				t.Fatalf("update: %v", err)
			}
			check("update", &gce.Firewall{Priority: 900, Direction: "INGRESS", SourceRanges: []string{"0.0.0.0/0"},
				Allowed: []*gce.FirewallAllowed{{IPProtocol: "udp"}}})

			if got := e.listFirewalls(t, client); !slices.Contains(got, name) {
				t.Errorf("list = %v, want %s in it", got, name)
			}

			for _, tc := range []struct {
				name string
				err  error
				want apiErr
			}{
				{"duplicate", e.insertFirewall(t, client, &gce.Firewall{Name: name, Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}), apiErr{409, "alreadyExists"}},
				{"no rule", e.insertFirewall(t, client, &gce.Firewall{Name: "fw-empty"}), apiErr{400, "invalid"}},
				{"bad source range", e.insertFirewall(t, client, &gce.Firewall{Name: "fw-range", SourceRanges: []string{"10.0.0.0/33"},
					Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}), apiErr{400, "invalid"}},
				{"ports for icmp", e.insertFirewall(t, client, &gce.Firewall{Name: "fw-icmp",
					Allowed: []*gce.FirewallAllowed{{IPProtocol: "icmp", Ports: []string{"1"}}}}), apiErr{400, "invalid"}},
				{"patch renames", e.patchFirewall(t, client, name, &gce.Firewall{Name: "other"}), apiErr{400, "invalid"}},
				{"patch of a missing firewall", e.patchFirewall(t, client, "nope", &gce.Firewall{Priority: 1}), apiErr{404, "notFound"}},
				{"update with a bad direction", e.updateFirewall(t, client, name, &gce.Firewall{Name: name, Direction: "SIDEWAYS",
					Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}), apiErr{400, "invalid"}},
			} {
				if got := errOf(t, client, tc.err); got != tc.want {
					t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
				}
			}

			if err := e.deleteFirewall(client, name); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if got, want := errOf(t, client, e.deleteFirewall(client, name)), (apiErr{404, "notFound"}); got != want {
				t.Errorf("second delete = %v, want %v", got, want)
			}
		})
	}

	t.Run("egress defaults", func(t *testing.T) {
		if err := e.insertFirewall(t, "apiv1", &gce.Firewall{Name: "out", Direction: "EGRESS",
			Denied: []*gce.FirewallDenied{{IPProtocol: "all"}}}); err != nil {
			t.Fatal(err)
		}
		fw, err := e.getFirewall(t, "compute/v1", "out")
		if err != nil || !cmp.Equal(fw.DestinationRanges, []string{"0.0.0.0/0"}) || len(fw.SourceRanges) != 0 {
			t.Errorf("egress firewall = %+v, %v", fw, err)
		}
	})
}

// TestHTTPHealthChecks drives the legacy health checks. The apiv1 module has
// no client for them, so only compute/v1 (the long-standing provider's
// client) does.
func TestHTTPHealthChecks(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	hcs := e.old.HttpHealthChecks
	get := func(t *testing.T, name string) *gce.HttpHealthCheck {
		t.Helper()
		hc, err := hcs.Get(project, name).Context(e.ctx).Do()
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		return hc
	}
	want := func(name string, port int64, path string, interval, timeout, healthy, unhealthy int64) *gce.HttpHealthCheck {
		return &gce.HttpHealthCheck{Kind: "compute#httpHealthCheck", Name: name, SelfLink: globalLink("httpHealthChecks", name),
			Port: port, RequestPath: path, CheckIntervalSec: interval, TimeoutSec: timeout,
			HealthyThreshold: healthy, UnhealthyThreshold: unhealthy}
	}

	t.Run("insert with the API's defaults", func(t *testing.T) {
		if err := e.doOld(hcs.Insert(project, &gce.HttpHealthCheck{Name: "hc"}).Context(e.ctx).Do()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want("hc", 80, "/", 5, 5, 2, 2), get(t, "hc"), cmpRoute); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("patch changes only what it names", func(t *testing.T) {
		if err := e.doOld(hcs.Patch(project, "hc", &gce.HttpHealthCheck{Port: 10256}).Context(e.ctx).Do()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want("hc", 10256, "/", 5, 5, 2, 2), get(t, "hc"), cmpRoute); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("update replaces", func(t *testing.T) {
		err := e.doOld(hcs.Update(project, "hc", &gce.HttpHealthCheck{Name: "hc", RequestPath: "/healthz",
			CheckIntervalSec: 8, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3}).Context(e.ctx).Do())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want("hc", 80, "/healthz", 8, 1, 1, 3), get(t, "hc"), cmpRoute); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("list", func(t *testing.T) {
		l, err := hcs.List(project).Filter(`name = "hc"`).Context(e.ctx).Do()
		if err != nil || len(l.Items) != 1 || l.Kind != "compute#httpHealthCheckList" {
			t.Errorf("list = %+v, %v", l, err)
		}
	})
	for _, tc := range []struct {
		name string
		call func() error
		want apiErr
	}{
		{"timeout longer than interval", func() error {
			return e.doOld(hcs.Insert(project, &gce.HttpHealthCheck{Name: "hc-bad", CheckIntervalSec: 2, TimeoutSec: 3}).Context(e.ctx).Do())
		}, apiErr{400, "invalid"}},
		{"path without slash", func() error {
			return e.doOld(hcs.Patch(project, "hc", &gce.HttpHealthCheck{RequestPath: "healthz"}).Context(e.ctx).Do())
		}, apiErr{400, "invalid"}},
		{"duplicate", func() error {
			return e.doOld(hcs.Insert(project, &gce.HttpHealthCheck{Name: "hc"}).Context(e.ctx).Do())
		}, apiErr{409, "alreadyExists"}},
		{"update of a missing one", func() error {
			return e.doOld(hcs.Update(project, "nope", &gce.HttpHealthCheck{Name: "nope"}).Context(e.ctx).Do())
		}, apiErr{404, "notFound"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := oldErr(t, tc.call()); got != tc.want {
				t.Errorf("= %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("delete", func(t *testing.T) {
		if err := e.doOld(hcs.Delete(project, "hc").Context(e.ctx).Do()); err != nil {
			t.Fatal(err)
		}
		_, err := hcs.Get(project, "hc").Context(e.ctx).Do()
		if got, want := oldErr(t, err), (apiErr{404, "notFound"}); got != want {
			t.Errorf("get after delete = %v, want %v", got, want)
		}
	})
}
