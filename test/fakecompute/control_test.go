package fakecompute_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

func TestQuotas(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "n1")
	if err := e.insertPool(t, "compute/v1", &gce.TargetPool{Name: "pool"}); err != nil {
		t.Fatal(err)
	}
	pool := regionalLink("targetPools", "pool")
	for _, tc := range []struct {
		metric string
		insert func(t *testing.T, client string, i int) error
	}{
		{fakecompute.QuotaRoutes, func(t *testing.T, client string, i int) error {
			return e.insertRoute(t, client, nodeRoute(fmt.Sprintf("q-%s-%d", suffix(client), i), fmt.Sprintf("10.%d.0.0/16", i), "n1"))
		}},
		{fakecompute.QuotaAddresses, func(t *testing.T, client string, i int) error {
			return e.insertAddress(t, client, &gce.Address{Name: fmt.Sprintf("q-%s-%d", suffix(client), i)})
		}},
		{fakecompute.QuotaForwardingRules, func(t *testing.T, client string, i int) error {
			return e.insertFR(t, client, &gce.ForwardingRule{Name: fmt.Sprintf("q-%s-%d", suffix(client), i), Target: pool})
		}},
		{fakecompute.QuotaFirewalls, func(t *testing.T, client string, i int) error {
			return e.insertFirewall(t, client, &gce.Firewall{Name: fmt.Sprintf("q-%s-%d", suffix(client), i),
				Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}})
		}},
	} {
		for _, client := range clientNames {
			t.Run(tc.metric+"/"+client, func(t *testing.T) {
				// Count what exists so that the limit leaves room for exactly one more.
				before := e.srv.Dump()
				have := map[string]int{fakecompute.QuotaRoutes: len(before.Routes), fakecompute.QuotaAddresses: len(before.Addresses),
					fakecompute.QuotaForwardingRules: len(before.ForwardingRules), fakecompute.QuotaFirewalls: len(before.Firewalls)}[tc.metric]
				if err := e.srv.SetQuota(tc.metric, have+1); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = e.srv.SetQuota(tc.metric, -1) }()
				if err := tc.insert(t, client, 1); err != nil {
					t.Fatalf("insert within quota: %v", err)
				}
				err := tc.insert(t, client, 2)
				if got, want := errOf(t, client, err), (apiErr{403, "quotaExceeded"}); got != want {
					t.Fatalf("insert past quota = %v (%v), want %v", got, err, want)
				}
				var ge *googleapi.Error
				if errors.As(err, &ge); !strings.Contains(ge.Message, tc.metric) {
					t.Errorf("message %q does not name %s", ge.Message, tc.metric)
				}
				if err := e.srv.SetQuota(tc.metric, have+2); err != nil {
					t.Fatal(err)
				}
				if err := tc.insert(t, client, 2); err != nil {
					t.Errorf("insert after raising the quota: %v", err)
				}
			})
		}
	}
	t.Run("firewalls are counted per project", func(t *testing.T) {
		e := newEnv(t, fakecompute.Config{ExtraProjects: []string{"host-project"}})
		if err := e.srv.SetQuota(fakecompute.QuotaFirewalls, 1); err != nil {
			t.Fatal(err)
		}
		fw := func(name string) *gce.Firewall {
			return &gce.Firewall{Name: name, Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}
		}
		if err := e.doOld(e.old.Firewalls.Insert("host-project", fw("host-fw")).Context(e.ctx).Do()); err != nil {
			t.Fatal(err)
		}
		if err := e.insertFirewall(t, "apiv1", fw("main-fw")); err != nil {
			t.Errorf("first firewall of the main project: %v", err)
		}
	})
	if err := e.srv.SetQuota("CPUS", 1); err == nil {
		t.Errorf("SetQuota(CPUS) = nil, want an error naming the known quotas")
	}
}

func TestWriteRateLimit(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.srv.SetWriteRateLimit(0.01, 3)
	var results []string
	for i := range 5 {
		client := clientNames[i%2]
		err := e.insertRoute(t, client, &gce.Route{Name: fmt.Sprintf("rl-%d", i), Network: networkLink,
			DestRange: fmt.Sprintf("10.%d.0.0/16", i), NextHopIp: "10.128.0.9"})
		results = append(results, errOf(t, client, err).Reason)
	}
	if diff := cmp.Diff([]string{"", "", "", "rateLimitExceeded", "rateLimitExceeded"}, results); diff != "" {
		t.Errorf("write results (-want +got):\n%s", diff)
	}
	for i := range 20 {
		if _, err := e.old.Routes.List(project).Context(e.ctx).Do(); err != nil {
			t.Fatalf("read %d under the write limit: %v", i, err)
		}
		if _, err := e.v1.routes.Get(e.ctx, &computepb.GetRouteRequest{Project: project, Route: "rl-0"}); err != nil {
			t.Fatalf("read %d under the write limit: %v", i, err)
		}
	}
	if got := e.srv.Calls()["routes.insert"]; !cmp.Equal(got, map[string]int{"ok": 3, "rateLimitExceeded": 2}) {
		t.Errorf("calls = %v", got)
	}
	e.srv.SetWriteRateLimit(0, 0)
	if err := e.insertRoute(t, "apiv1", &gce.Route{Name: "rl-free", Network: networkLink, DestRange: "10.99.0.0/16", NextHopIp: "10.128.0.9"}); err != nil {
		t.Errorf("write after removing the limit: %v", err)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "n1")
	if err := e.insertRoute(t, "compute/v1", nodeRoute("r", "10.1.0.0/24", "n1")); err != nil {
		t.Fatal(err)
	}
	getOld := func() error { _, err := e.old.Routes.Get(project, "r").Context(e.ctx).Do(); return err }

	t.Run("next N calls", func(t *testing.T) {
		e.srv.ResetCalls()
		if err := e.srv.InjectFault(fakecompute.Fault{Method: "routes.get", Count: 2, Code: 500, Reason: "internalError"}); err != nil {
			t.Fatal(err)
		}
		var got []apiErr
		for range 3 {
			got = append(got, oldErr(t, getOld()))
		}
		if diff := cmp.Diff([]apiErr{{500, "internalError"}, {500, "internalError"}, {}}, got); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"internalError": 2, "ok": 1}, e.srv.Calls()["routes.get"]); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})

	t.Run("apiv1 retries a 503 on get", func(t *testing.T) {
		e.srv.ResetCalls()
		if err := e.srv.InjectFault(fakecompute.Fault{Method: "routes.get", Count: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.v1.routes.Get(e.ctx, &computepb.GetRouteRequest{Project: project, Route: "r"}); err != nil {
			t.Errorf("get = %v, want success after the client's retries", err)
		}
		if diff := cmp.Diff(map[string]int{"backendError": 2, "ok": 1}, e.srv.Calls()["routes.get"]); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})

	t.Run("fraction", func(t *testing.T) {
		e.srv.ResetCalls()
		if err := e.srv.InjectFault(fakecompute.Fault{Method: "routes.list", Fraction: 0.3, Code: 500, Reason: "internalError"}); err != nil {
			t.Fatal(err)
		}
		defer e.srv.ClearFaults()
		failed := 0
		for range 200 {
			if _, err := e.old.Routes.List(project).Context(e.ctx).Do(); err != nil {
				failed++
			}
		}
		if failed < 30 || failed > 90 {
			t.Errorf("%d of 200 calls failed with fraction 0.3", failed)
		}
		if got := e.srv.Calls()["routes.list"]["internalError"]; got != failed {
			t.Errorf("calls count %d failures, clients saw %d", got, failed)
		}
	})

	t.Run("fraction bounded by count", func(t *testing.T) {
		e.srv.ResetCalls()
		if err := e.srv.InjectFault(fakecompute.Fault{Method: "routes.get", Fraction: 0.5, Count: 3, Code: 500}); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			_ = getOld()
		}
		if diff := cmp.Diff(map[string]int{"backendError": 3, "ok": 97}, e.srv.Calls()["routes.get"]); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})

	t.Run("sync error on a write", func(t *testing.T) {
		if err := e.srv.InjectFault(fakecompute.Fault{Method: "routes.insert", Count: 1, Code: 403, Reason: "rateLimitExceeded"}); err != nil {
			t.Fatal(err)
		}
		err := e.insertRoute(t, "apiv1", nodeRoute("faulted", "10.2.0.0/24", "n1"))
		if got, want := v1Err(t, err), (apiErr{403, "rateLimitExceeded"}); got != want {
			t.Errorf("insert = %v, want %v", got, want)
		}
		if _, err := e.old.Routes.Get(project, "faulted").Context(e.ctx).Do(); oldErr(t, err).Code != 404 {
			t.Errorf("a refused insert created the route: %v", err)
		}
	})

	t.Run("inside the operation", func(t *testing.T) {
		if err := e.srv.InjectFault(fakecompute.Fault{Method: "routes.delete", Count: 1, Mode: fakecompute.FaultOperation,
			Code: 400, Reason: "resourceInUseByAnotherResource"}); err != nil {
			t.Fatal(err)
		}
		op, err := e.v1.routes.Delete(e.ctx, &computepb.DeleteRouteRequest{Project: project, Route: "r"})
		if err != nil {
			t.Fatalf("delete = %v, want an operation", err)
		}
		if err := op.Wait(e.ctx); err == nil {
			t.Errorf("op.Wait = nil, want the operation's error")
		}
		if _, err := e.old.Routes.Get(project, "r").Context(e.ctx).Do(); err != nil {
			t.Errorf("the route went although its delete failed: %v", err)
		}
	})

	t.Run("dropped connection", func(t *testing.T) {
		e.srv.ResetCalls()
		if err := e.srv.InjectFault(fakecompute.Fault{Method: "routes.insert", Count: 1, Mode: fakecompute.FaultDrop}); err != nil {
			t.Fatal(err)
		}
		for _, client := range clientNames {
			err := e.insertRoute(t, client, nodeRoute("dropped-"+suffix(client), "10.3.0.0/24", "n1"))
			var ge *googleapi.Error
			if client == "compute/v1" && (err == nil || errors.As(err, &ge)) {
				t.Errorf("insert over a dropped connection = %v, want a transport error", err)
			}
			if client == "apiv1" && err != nil {
				t.Errorf("insert once the fault is spent = %v", err)
			}
		}
		if diff := cmp.Diff(map[string]int{"dropped": 1, "ok": 1}, e.srv.Calls()["routes.insert"]); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if _, err := e.old.Routes.Get(project, "dropped-old").Context(e.ctx).Do(); oldErr(t, err).Code != 404 {
			t.Errorf("a dropped insert created the route: %v", err)
		}
	})

	t.Run("every method", func(t *testing.T) {
		if err := e.srv.InjectFault(fakecompute.Fault{Method: "*", Count: 2, Code: 500}); err != nil {
			t.Fatal(err)
		}
		_, err1 := e.old.Zones.List(project).Context(e.ctx).Do()
		_, err2 := e.old.Firewalls.List(project).Context(e.ctx).Do()
		_, err3 := e.old.Firewalls.List(project).Context(e.ctx).Do()
		if oldErr(t, err1).Code != 500 || oldErr(t, err2).Code != 500 || err3 != nil {
			t.Errorf("results %v, %v, %v; want 500, 500, ok", err1, err2, err3)
		}
	})

	t.Run("clear", func(t *testing.T) {
		if err := e.srv.InjectFault(fakecompute.Fault{Method: "routes.get", Count: 5, Code: 500}); err != nil {
			t.Fatal(err)
		}
		e.srv.ClearFaults()
		if err := getOld(); err != nil {
			t.Errorf("get after ClearFaults: %v", err)
		}
	})

	for _, f := range []fakecompute.Fault{
		{Count: 1},
		{Method: "routes.get"},
		{Method: "routes.get", Fraction: 1.5},
		{Method: "routes.get", Count: 1, Mode: "explode"},
		{Method: "routes.get", Count: 1, Code: 200},
	} {
		t.Run(fmt.Sprintf("invalid %+v", f), func(t *testing.T) {
			if err := e.srv.InjectFault(f); err == nil {
				t.Errorf("InjectFault = nil, want an error")
			}
		})
	}
}

func TestDumpAndReset(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneB, "n1")
	if err := e.insertRoute(t, "apiv1", nodeRoute("r", "10.1.0.0/24", "n1")); err == nil {
		t.Fatalf("route to n1 in zone a: want notFound, n1 is in zone b")
	}
	r := nodeRoute("r", "10.1.0.0/24", "n1")
	r.NextHopInstance = instanceLink(zoneB, "n1")
	if err := e.insertRoute(t, "apiv1", r); err != nil {
		t.Fatal(err)
	}
	if err := e.insertFirewall(t, "compute/v1", &gce.Firewall{Name: "fw", Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}); err != nil {
		t.Fatal(err)
	}
	d := e.srv.Dump()
	got := map[string][]string{}
	for _, x := range d.Instances {
		got["instances"] = append(got["instances"], x.Name)
	}
	for _, x := range d.Routes {
		got["routes"] = append(got["routes"], x.Name)
	}
	for _, x := range d.Firewalls {
		got["firewalls"] = append(got["firewalls"], x.Name)
	}
	if diff := cmp.Diff(map[string][]string{"instances": {"n1"}, "routes": {"r"}, "firewalls": {"fw"}}, got); diff != "" {
		t.Errorf("dump (-want +got):\n%s", diff)
	}
	if d.Routes[0].NextHopInstance != instanceLink(zoneB, "n1") || d.Routes[0].Id == 0 {
		t.Errorf("dumped route = %+v", d.Routes[0])
	}

	e.srv.SetWriteRateLimit(0.001, 1)
	_ = e.srv.SetQuota(fakecompute.QuotaRoutes, 0)
	_ = e.srv.InjectFault(fakecompute.Fault{Method: "routes.list", Count: 1, Code: 500})
	e.srv.SetLatency("", time.Hour)
	e.srv.Reset()

	d = e.srv.Dump()
	if n := len(d.Instances) + len(d.Routes) + len(d.Firewalls); n != 0 {
		t.Errorf("after Reset the dump holds %d resources", n)
	}
	if calls := e.srv.Calls(); len(calls) != 0 {
		t.Errorf("after Reset calls = %v", calls)
	}
	if _, err := e.old.Networks.Get(project, network).Context(e.ctx).Do(); err != nil {
		t.Errorf("the network is gone after Reset: %v", err)
	}
	// No fault, limit, quota or latency is left.
	for i := range 3 {
		err := e.insertRoute(t, "compute/v1", &gce.Route{Name: fmt.Sprintf("after-%d", i), Network: networkLink,
			DestRange: "10.1.0.0/24", NextHopIp: "10.128.0.9"})
		if err != nil {
			t.Fatalf("insert after Reset: %v", err)
		}
	}
	op, err := e.old.Firewalls.Insert(project, &gce.Firewall{Name: "fw", Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}).Context(e.ctx).Do()
	if err != nil || op.Status != "DONE" {
		t.Errorf("insert after Reset = %v, %v; want DONE at once", op, err)
	}
}

// ctl calls the HTTP control API and returns the status and body.
func (e *env) ctl(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL()+fakecompute.ControlPrefix+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestControlHTTP(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	mustOK := func(t *testing.T, method, path, body string) string {
		t.Helper()
		code, out := e.ctl(t, method, path, body)
		if code != http.StatusOK {
			t.Fatalf("%s %s = %d %s", method, path, code, out)
		}
		return out
	}

	t.Run("seed YAML", func(t *testing.T) {
		mustOK(t, "POST", "seed", `
instances:
- name: yaml-1
  zone: us-central1-a
  canIpForward: true
  tags: [node]
  internalIP: 10.128.5.5
  externalIP: 198.18.5.5
- name: yaml-2
  zone: us-central1-b
  noExternalIP: true
  status: TERMINATED
metadataInstance: us-central1-b/yaml-2
`)
		vm, err := e.old.Instances.Get(project, zoneA, "yaml-1").Context(e.ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		nic := vm.NetworkInterfaces[0]
		if !vm.CanIpForward || nic.NetworkIP != "10.128.5.5" || nic.AccessConfigs[0].NatIP != "198.18.5.5" || vm.Tags.Items[0] != "node" {
			t.Errorf("seeded instance = %+v", vm)
		}
		vm2, err := e.v1.instances.Get(e.ctx, &computepb.GetInstanceRequest{Project: project, Zone: zoneB, Instance: "yaml-2"})
		if err != nil || vm2.GetStatus() != "TERMINATED" || len(vm2.GetNetworkInterfaces()[0].GetAccessConfigs()) != 0 {
			t.Errorf("seeded instance = %v, %v", vm2, err)
		}
	})

	t.Run("seed JSON", func(t *testing.T) {
		mustOK(t, "POST", "seed", `{"instances":[{"name":"json-1","zone":"us-central1-c"}]}`)
		if _, err := e.old.Instances.Get(project, zoneC, "json-1").Context(e.ctx).Do(); err != nil {
			t.Errorf("seeded instance: %v", err)
		}
	})

	for _, tc := range []struct{ name, body, wantMsg string }{
		{"unknown field", "instances:\n- name: x\n  zone: us-central1-a\n  colour: red\n", `unknown field "colour"`},
		{"not YAML", "instances: [", "parse seed"},
		{"unknown zone", `{"instances":[{"name":"x","zone":"mars-1a"}]}`, `instances[0] ("x"): unknown zone "mars-1a"`},
		{"bad name", `{"instances":[{"name":"X_1","zone":"us-central1-a"}]}`, `instances[0] ("X_1")`},
		{"duplicate", `{"instances":[{"name":"json-1","zone":"us-central1-c"}]}`, "already exists"},
		{"bad status", `{"instances":[{"name":"st","zone":"us-central1-c","status":"PAUSED"}]}`, "PAUSED"},
		{"bad metadata instance", `{"metadataInstance":"us-central1-a/ghost"}`, "ghost"},
	} {
		t.Run("malformed seed "+tc.name, func(t *testing.T) {
			code, out := e.ctl(t, "POST", "seed", tc.body)
			if code != http.StatusBadRequest || !strings.Contains(out, tc.wantMsg) {
				t.Errorf("= %d %q, want 400 naming %q", code, out, tc.wantMsg)
			}
		})
	}

	t.Run("instance status", func(t *testing.T) {
		mustOK(t, "POST", "instances/us-central1-a/yaml-1/status", `{"status":"STOPPING"}`)
		vm, err := e.old.Instances.Get(project, zoneA, "yaml-1").Context(e.ctx).Do()
		if err != nil || vm.Status != "STOPPING" {
			t.Errorf("status = %v, %v; want STOPPING", vm.Status, err)
		}
		if code, out := e.ctl(t, "POST", "instances/us-central1-a/ghost/status", `{"status":"RUNNING"}`); code != 400 || !strings.Contains(out, "ghost") {
			t.Errorf("status of a missing VM = %d %q", code, out)
		}
	})

	t.Run("latency", func(t *testing.T) {
		mustOK(t, "POST", "latency", `{"method":"firewalls.insert","latency":"200ms"}`)
		op, err := e.old.Firewalls.Insert(project, &gce.Firewall{Name: "slow", Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}).Context(e.ctx).Do()
		if err != nil || op.Status != "RUNNING" {
			t.Errorf("insert = %v, %v; want RUNNING", op, err)
		}
		if code, out := e.ctl(t, "POST", "latency", `{"latency":"soon"}`); code != 400 || !strings.Contains(out, "soon") {
			t.Errorf("bad latency = %d %q", code, out)
		}
	})

	t.Run("quotas", func(t *testing.T) {
		mustOK(t, "POST", "quotas", `{"FIREWALLS": 1}`)
		err := e.insertFirewall(t, "apiv1", &gce.Firewall{Name: "one-too-many", Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}})
		if got, want := v1Err(t, err), (apiErr{403, "quotaExceeded"}); got != want {
			t.Errorf("insert past quota = %v, want %v", got, want)
		}
		mustOK(t, "POST", "quotas", `{"FIREWALLS": -1}`)
		if code, out := e.ctl(t, "POST", "quotas", `{"GPUS": 1}`); code != 400 || !strings.Contains(out, "GPUS") {
			t.Errorf("unknown quota = %d %q", code, out)
		}
	})

	t.Run("ratelimit", func(t *testing.T) {
		mustOK(t, "POST", "ratelimit", `{"qps":0.001,"burst":1}`)
		_ = e.insertFirewall(t, "compute/v1", &gce.Firewall{Name: "rl-1", Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}})
		err := e.insertFirewall(t, "compute/v1", &gce.Firewall{Name: "rl-2", Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}})
		if got, want := oldErr(t, err), (apiErr{403, "rateLimitExceeded"}); got != want {
			t.Errorf("second write = %v, want %v", got, want)
		}
		mustOK(t, "POST", "ratelimit", `{"qps":0}`)
	})

	t.Run("faults", func(t *testing.T) {
		mustOK(t, "POST", "faults", `{"method":"zones.get","count":1,"code":500,"reason":"internalError","message":"boom"}`)
		_, err := e.old.Zones.Get(project, zoneA).Context(e.ctx).Do()
		var ge *googleapi.Error
		if !errors.As(err, &ge) || ge.Code != 500 || ge.Message != "boom" {
			t.Errorf("faulted get = %v", err)
		}
		mustOK(t, "POST", "faults", `method: zones.get
count: 1
mode: drop`)
		mustOK(t, "DELETE", "faults", "")
		if _, err := e.old.Zones.Get(project, zoneA).Context(e.ctx).Do(); err != nil {
			t.Errorf("get after clearing faults: %v", err)
		}
		if code, out := e.ctl(t, "POST", "faults", `{"method":"zones.get","count":1,"mode":"sometimes"}`); code != 400 || !strings.Contains(out, "sometimes") {
			t.Errorf("bad fault = %d %q", code, out)
		}
	})

	t.Run("calls", func(t *testing.T) {
		var calls map[string]map[string]int
		if err := json.Unmarshal([]byte(mustOK(t, "GET", "calls", "")), &calls); err != nil {
			t.Fatal(err)
		}
		if calls["zones.get"]["internalError"] != 1 || calls["zones.get"]["ok"] != 1 || calls["instances.get"]["ok"] < 3 {
			t.Errorf("calls = %v", calls)
		}
		mustOK(t, "DELETE", "calls", "")
		if out := mustOK(t, "GET", "calls", ""); strings.TrimSpace(out) != "{}" {
			t.Errorf("calls after DELETE = %s", out)
		}
	})

	t.Run("dump", func(t *testing.T) {
		var d fakecompute.Dump
		if err := json.Unmarshal([]byte(mustOK(t, "GET", "dump", "")), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Instances) != 3 || len(d.Firewalls) != 2 {
			t.Errorf("dump has %d instances and %d firewalls, want 3 and 2", len(d.Instances), len(d.Firewalls))
		}
	})

	t.Run("reset", func(t *testing.T) {
		mustOK(t, "POST", "reset", "")
		var d fakecompute.Dump
		if err := json.Unmarshal([]byte(mustOK(t, "GET", "dump", "")), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Instances)+len(d.Firewalls) != 0 {
			t.Errorf("dump after reset = %+v", d)
		}
	})

	t.Run("bad bodies", func(t *testing.T) {
		for _, path := range []string{"latency", "ratelimit", "quotas", "faults"} {
			if code, _ := e.ctl(t, "POST", path, `{"nope":1}`); code != http.StatusBadRequest {
				t.Errorf("POST %s with an unknown field = %d, want 400", path, code)
			}
		}
		req, _ := http.NewRequestWithContext(e.ctx, "GET", e.srv.URL()+fakecompute.ControlPrefix+"seed", bytes.NewReader(nil))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET seed = %d, want 405", resp.StatusCode)
		}
	})
}

// TestFaultNotSpentOnRefusedCalls checks that a call the rate limit refuses
// does not use up an injected fault.
func TestFaultNotSpentOnRefusedCalls(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.srv.SetWriteRateLimit(0.001, 1)
	_, _ = e.old.Routes.Delete(project, "nothing").Context(e.ctx).Do() // spends the burst
	if err := e.srv.InjectFault(fakecompute.Fault{Method: "routes.delete", Count: 1, Code: 500, Reason: "internalError"}); err != nil {
		t.Fatal(err)
	}
	var got []apiErr
	_, err := e.old.Routes.Delete(project, "nothing").Context(e.ctx).Do()
	got = append(got, oldErr(t, err))
	e.srv.SetWriteRateLimit(0, 0)
	_, err = e.old.Routes.Delete(project, "nothing").Context(e.ctx).Do()
	got = append(got, oldErr(t, err))
	_, err = e.old.Routes.Delete(project, "nothing").Context(e.ctx).Do()
	got = append(got, oldErr(t, err))
	if diff := cmp.Diff([]apiErr{{403, "rateLimitExceeded"}, {500, "internalError"}, {404, "notFound"}}, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}
