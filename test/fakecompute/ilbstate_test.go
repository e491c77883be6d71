package fakecompute_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// ilbState builds an internal load balancer through the API and returns
// the fake's dump of it.
func ilbState(t *testing.T) *fakecompute.Dump {
	t.Helper()
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "n1")
	e.ilbBackend(t, "k8s-cluster-node", map[string][]string{zoneA: {"n1"}})
	e.ilbBackendService(t, "bs", "TCP")
	if err := e.insertFR(t, "apiv1", &gce.ForwardingRule{Name: "ilb", LoadBalancingScheme: "INTERNAL", Ports: []string{"80"},
		Subnetwork: regionalLink("subnetworks", network), BackendService: regionalLink("backendServices", "bs")}); err != nil {
		t.Fatal(err)
	}
	return e.srv.Dump()
}

// TestLoadInternalLoadBalancer: a dump of an internal load balancer loads
// over HTTP (POST /_fake/load) and back out of GET /_fake/dump unchanged,
// and Load names what is wrong in one that refers to what is not there.
func TestLoadInternalLoadBalancer(t *testing.T) {
	base := ilbState(t)
	if len(base.InstanceGroups) != 1 || len(base.BackendServices) != 1 || len(base.HealthChecks) != 1 || len(base.InstanceGroupMembers) != 1 {
		t.Fatalf("dump = %d groups, %d backend services, %d health checks, members %v",
			len(base.InstanceGroups), len(base.BackendServices), len(base.HealthChecks), base.InstanceGroupMembers)
	}

	t.Run("HTTP round trip", func(t *testing.T) {
		e := newEnv(t, fakecompute.Config{})
		raw, _ := json.Marshal(base)
		resp, err := http.Post(e.srv.URL()+"/_fake/load", "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /_fake/load = %d %s", resp.StatusCode, body)
		}
		resp, err = http.Get(e.srv.URL() + "/_fake/dump")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		got, err := fakecompute.ParseDump(body)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(base, got); diff != "" {
			t.Errorf("GET /_fake/dump after POST /_fake/load (-want +got):\n%s", diff)
		}
	})

	groupLink := igLink(zoneA, "k8s-ig--cluster")
	for _, tc := range []struct {
		name   string
		change func(d *fakecompute.Dump)
		want   string
	}{
		{"rule to a missing backend service", func(d *fakecompute.Dump) { d.BackendServices = nil }, "no backend service"},
		{"backend service with a missing health check", func(d *fakecompute.Dump) { d.HealthChecks = nil }, "no health check"},
		{"backend service with a missing group", func(d *fakecompute.Dump) {
			d.InstanceGroups, d.InstanceGroupMembers = nil, nil
		}, "no instance group"},
		{"size not the members", func(d *fakecompute.Dump) { d.InstanceGroups[0].Size = 3 }, "size 3"},
		{"member that is not there", func(d *fakecompute.Dump) { d.Instances = nil }, "no instance"},
		{"member of another zone", func(d *fakecompute.Dump) {
			d.InstanceGroupMembers[groupLink] = []string{instanceLink(zoneB, "n1")}
		}, "zone"},
		{"members of a missing group", func(d *fakecompute.Dump) {
			d.InstanceGroupMembers[igLink(zoneA, "nope")] = nil
		}, "no instance group"},
		{"health check of a zone", func(d *fakecompute.Dump) {
			d.HealthChecks[0].SelfLink = fakecompute.SelfLinkPrefix + "projects/" + project + "/zones/" + zoneA + "/healthChecks/" + d.HealthChecks[0].Name
		}, "not a scope"},
		{"bad health check", func(d *fakecompute.Dump) { d.HealthChecks[0].TimeoutSec = 100 }, "timeoutSec"},
		{"backend service of another scheme", func(d *fakecompute.Dump) {
			d.BackendServices[0].LoadBalancingScheme = "EXTERNAL"
		}, "not INTERNAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakecompute.Config{})
			var d fakecompute.Dump
			raw, _ := json.Marshal(base)
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			tc.change(&d)
			before := e.srv.Dump()
			err := e.srv.Load(&d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error with %q", err, tc.want)
			}
			if diff := cmp.Diff(before, e.srv.Dump()); diff != "" {
				t.Errorf("a refused load changed the fake (-before +after):\n%s", diff)
			}
		})
	}
}

// TestILBFaultsAndCalls: faults and call counts apply to the new methods
// as to every other.
func TestILBFaultsAndCalls(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "n1")
	e.ilbBackend(t, "k8s-cluster-node", map[string][]string{zoneA: nil})
	for _, f := range []fakecompute.Fault{
		{Method: "instanceGroups.addInstances", Count: 1, Mode: fakecompute.FaultError, Code: 503, Reason: "backendError", Message: "try again"},
		{Method: "regionBackendServices.insert", Count: 1, Mode: fakecompute.FaultOperation, Code: 500, Reason: "internalError", Message: "boom"},
	} {
		if err := e.srv.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	if got := errOf(t, "apiv1", e.addToIG("apiv1", zoneA, "k8s-ig--cluster", instanceLink(zoneA, "n1"))); got != (apiErr{503, "backendError"}) {
		t.Errorf("addInstances under a fault = %v, want 503 backendError", got)
	}
	if err := e.addToIG("compute/v1", zoneA, "k8s-ig--cluster", instanceLink(zoneA, "n1")); err != nil {
		t.Errorf("addInstances after the fault: %v", err)
	}
	bs := &gce.BackendService{Name: "bs", LoadBalancingScheme: "INTERNAL", Protocol: "TCP",
		HealthChecks: []string{globalLink("healthChecks", "k8s-cluster-node")}}
	if got := opErrOf(t, e.insertBS(t, "compute/v1", bs)); got != (apiErr{500, "INTERNAL_ERROR"}) {
		t.Errorf("insert under an operation fault = %v, want 500 INTERNAL_ERROR", got)
	}
	if names := e.listBSs(t, "apiv1"); len(names) != 0 {
		t.Errorf("a failed operation made %v", names)
	}
	if err := e.insertBS(t, "apiv1", bs); err != nil {
		t.Errorf("insert after the fault: %v", err)
	}
	calls := e.srv.Calls()
	if c := calls["instanceGroups.addInstances"]; c["backendError"] != 1 || c["ok"] != 1 {
		t.Errorf("addInstances calls = %v", c)
	}
	if c := calls["regionBackendServices.insert"]; c["ok"] != 2 {
		t.Errorf("regionBackendServices.insert calls = %v, want 2 ok (a failed operation is accepted)", c)
	}
	if c := calls["regionBackendServices.list"]; c["ok"] != 1 {
		t.Errorf("regionBackendServices.list calls = %v", c)
	}
}
