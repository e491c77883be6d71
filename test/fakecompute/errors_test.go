package fakecompute_test

import (
	"errors"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	gce "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestErrorReasons produces each error class the design names and checks
// how each client surfaces it: code, reason, and for usage limits the
// usageLimits domain in Google's body.
func TestErrorReasons(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "n1")
	if err := e.insertRoute(t, "compute/v1", nodeRoute("existing", "10.1.0.0/24", "n1")); err != nil {
		t.Fatal(err)
	}
	if err := e.insertPool(t, "compute/v1", &gce.TargetPool{Name: "pool"}); err != nil {
		t.Fatal(err)
	}
	if err := e.insertAddress(t, "compute/v1", &gce.Address{Name: "used", Address: "198.18.7.7"}); err != nil {
		t.Fatal(err)
	}
	if err := e.insertFR(t, "compute/v1", &gce.ForwardingRule{Name: "fr", IPAddress: "198.18.7.7",
		Target: regionalLink("targetPools", "pool")}); err != nil {
		t.Fatal(err)
	}
	n := 0
	newRoute := func() *gce.Route {
		n++
		return &gce.Route{Name: "new-" + string(rune('a'+n)), Network: networkLink, DestRange: "10.9.0.0/24", NextHopIp: "10.128.0.9"}
	}

	for _, tc := range []struct {
		name        string
		setup       func(t *testing.T, client string)
		call        func(t *testing.T, client string) error
		want        apiErr
		usageLimits bool
	}{
		{name: "notFound", want: apiErr{404, "notFound"}, call: func(t *testing.T, client string) error {
			if client == "apiv1" {
				_, err := e.v1.routes.Get(e.ctx, &computepb.GetRouteRequest{Project: project, Route: "missing"})
				return err
			}
			_, err := e.old.Routes.Get(project, "missing").Context(e.ctx).Do()
			return err
		}},
		{name: "alreadyExists", want: apiErr{409, "alreadyExists"}, call: func(t *testing.T, client string) error {
			return e.insertRoute(t, client, nodeRoute("existing", "10.2.0.0/24", "n1"))
		}},
		{name: "resourceInUseByAnotherResource", want: apiErr{400, "resourceInUseByAnotherResource"}, call: func(t *testing.T, client string) error {
			return e.deletePool(client, "pool") // the forwarding rule uses it
		}},
		{name: "invalid", want: apiErr{400, "invalid"}, call: func(t *testing.T, client string) error {
			return e.insertRoute(t, client, nodeRoute("Invalid", "10.2.0.0/24", "n1"))
		}},
		{name: "quotaExceeded", want: apiErr{403, "quotaExceeded"}, usageLimits: true,
			setup: func(t *testing.T, client string) {
				if err := e.srv.SetQuota(fakecompute.QuotaRoutes, 1); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = e.srv.SetQuota(fakecompute.QuotaRoutes, -1) })
			},
			call: func(t *testing.T, client string) error { return e.insertRoute(t, client, newRoute()) }},
		{name: "rateLimitExceeded", want: apiErr{403, "rateLimitExceeded"}, usageLimits: true,
			setup: func(t *testing.T, client string) {
				e.srv.SetWriteRateLimit(0.001, 1)
				t.Cleanup(func() { e.srv.SetWriteRateLimit(0, 0) })
				_, _ = e.old.Routes.Delete(project, "nothing").Context(e.ctx).Do() // spends the burst
			},
			call: func(t *testing.T, client string) error { return e.insertRoute(t, client, newRoute()) }},
		{name: "resourceNotReady", want: apiErr{400, "resourceNotReady"},
			setup: func(t *testing.T, client string) {
				e.srv.SetLatency("routes.insert", latency)
				t.Cleanup(func() { e.srv.SetLatency("routes.insert", 0) })
				r := newRoute()
				r.Name = "pending-" + suffix(client)
				if _, err := e.old.Routes.Insert(project, r).Context(e.ctx).Do(); err != nil {
					t.Fatal(err)
				}
			},
			call: func(t *testing.T, client string) error {
				if client == "apiv1" {
					op, err := e.v1.routes.Delete(e.ctx, &computepb.DeleteRouteRequest{Project: project, Route: "pending-" + suffix(client)})
					return e.doV1(op, err)
				}
				return e.doOld(e.old.Routes.Delete(project, "pending-"+suffix(client)).Context(e.ctx).Do())
			}},
	} {
		for _, client := range clientNames {
			t.Run(tc.name+"/"+client, func(t *testing.T) {
				if tc.setup != nil {
					tc.setup(t, client)
				}
				err := tc.call(t, client)
				if got := errOf(t, client, err); got != tc.want {
					t.Fatalf("got %v (%v), want %v", got, err, tc.want)
				}
				var ge *googleapi.Error
				errors.As(err, &ge)
				if ge.Message == "" || !strings.Contains(ge.Body, `"reason":"`+tc.want.Reason+`"`) {
					t.Errorf("message %q, body %s", ge.Message, ge.Body)
				}
				if got := strings.Contains(ge.Body, `"domain":"usageLimits"`); got != tc.usageLimits {
					t.Errorf("domain usageLimits in body = %v, want %v: %s", got, tc.usageLimits, ge.Body)
				}
			})
		}
	}
}

// TestUnmodelledMethods checks that a method the fake does not serve answers
// 501 in Google's shape, never a 404 a client could take for "gone".
func TestUnmodelledMethods(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "n1")
	want := apiErr{501, "notImplemented"}
	_, err := e.v1.instances.Reset(e.ctx, &computepb.ResetInstanceRequest{Project: project, Zone: zoneA, Instance: "n1"})
	if got := v1Err(t, err); got != want {
		t.Errorf("apiv1 instances.reset = %v, want %v", got, want)
	}
	_, err = e.old.Networks.Insert(project, &gce.Network{Name: "other"}).Context(e.ctx).Do()
	if got := oldErr(t, err); got != want {
		t.Errorf("compute/v1 networks.insert = %v, want %v", got, want)
	}
	_, err = e.old.Routes.List(project).Filter("").Context(e.ctx).Do()
	if err != nil {
		t.Errorf("a served method after them: %v", err)
	}
}
