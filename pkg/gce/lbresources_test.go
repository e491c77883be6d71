package gce

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestLoadBalancerResources drives every load balancer method against the
// fake: addresses, forwarding rules, target pools, firewalls and health
// checks, each mutation waited for.
func TestLoadBalancerResources(t *testing.T) {
	t.Parallel()
	c, srv := newTestCloud(t, fakecompute.Config{Latency: 20 * time.Millisecond}, nil)
	ctx := context.Background()
	for _, n := range []string{"vm-1", "vm-2", "vm-3"} {
		if err := srv.AddInstance(fakecompute.InstanceSeed{Name: n, Zone: "us-central1-a", NoExternalIP: true}); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	vm := func(n string) string {
		return SelfLinkPrefix + "projects/fake-project/zones/us-central1-a/instances/" + n
	}

	// Health check, through compute/v1.
	must(c.InsertHTTPHealthCheck(ctx, &HTTPHealthCheck{Name: "hc", Description: "d", Port: 10256, RequestPath: "/healthz",
		CheckIntervalSec: 8, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3}))
	hc, err := c.GetHTTPHealthCheck(ctx, "hc")
	must(err)
	if hc.Port != 10256 || hc.RequestPath != "/healthz" || hc.CheckIntervalSec != 8 || hc.SelfLink == "" {
		t.Errorf("health check = %+v", hc)
	}
	hc.Port = 31000
	must(c.UpdateHTTPHealthCheck(ctx, hc))
	if hc, err = c.GetHTTPHealthCheck(ctx, "hc"); err != nil || hc.Port != 31000 {
		t.Errorf("updated health check = %+v, %v", hc, err)
	}
	if calls := srv.Calls(); calls["globalOperations.wait"]["ok"] < 2 {
		t.Errorf("health check writes did not wait on their operations: %v", calls["globalOperations.wait"])
	}

	// Address.
	must(c.InsertAddress(ctx, &computepb.Address{Name: ptr("addr"), NetworkTier: ptr("PREMIUM")}))
	addr, err := c.GetAddress(ctx, "addr")
	must(err)
	found, err := c.ListAddresses(ctx, `address eq "`+addr.GetAddress()+`"`)
	must(err)
	if len(found) != 1 || found[0].GetName() != "addr" {
		t.Errorf("ListAddresses by IP = %v", found)
	}

	// Target pool with its health check, then members in batches.
	must(c.InsertTargetPool(ctx, &computepb.TargetPool{Name: ptr("tp"), Instances: []string{vm("vm-1")}, HealthChecks: []string{hc.SelfLink}}))
	must(c.AddInstancesToTargetPool(ctx, "tp", []string{vm("vm-2"), vm("vm-3")}))
	must(c.RemoveInstancesFromTargetPool(ctx, "tp", []string{vm("vm-1")}))
	must(c.RemoveHealthCheckFromTargetPool(ctx, "tp", hc.SelfLink))
	must(c.AddHealthCheckToTargetPool(ctx, "tp", hc.SelfLink))
	tp, err := c.GetTargetPool(ctx, "tp")
	must(err)
	if !slices.Equal(tp.GetInstances(), []string{vm("vm-2"), vm("vm-3")}) || len(tp.GetHealthChecks()) != 1 {
		t.Errorf("target pool = %v", tp)
	}
	must(c.InsertTargetPool(ctx, &computepb.TargetPool{Name: ptr("tp2")}))

	// Forwarding rule on the address, moved to another pool.
	tpURL := SelfLinkPrefix + "projects/fake-project/regions/us-central1/targetPools/"
	must(c.InsertForwardingRule(ctx, &computepb.ForwardingRule{Name: ptr("fr"), IPAddress: addr.Address, IPProtocol: ptr("TCP"),
		PortRange: ptr("80-80"), Target: ptr(tpURL + "tp"), NetworkTier: ptr("PREMIUM")}))
	must(c.SetForwardingRuleTarget(ctx, "fr", tpURL+"tp2"))
	rules, err := c.ListForwardingRules(ctx, `name eq "f.*"`)
	must(err)
	if len(rules) != 1 || rules[0].GetTarget() != tpURL+"tp2" || rules[0].GetIPAddress() != addr.GetAddress() {
		t.Errorf("rules = %v", rules)
	}
	if err := c.DeleteTargetPool(ctx, "tp2"); !IsInUse(err) {
		t.Errorf("deleting a pool in use: err = %v, want in use", err)
	}

	// Firewall: insert, patch, update (which clears what it leaves out), delete.
	fw := &computepb.Firewall{Name: ptr("fw"), Network: ptr(c.cfg.NetworkURL()), SourceRanges: []string{"10.0.0.0/8"},
		DestinationRanges: []string{addr.GetAddress()}, Allowed: []*computepb.Allowed{{IPProtocol: ptr("tcp"), Ports: []string{"80"}}}}
	must(c.InsertFirewall(ctx, fw))
	must(c.PatchFirewall(ctx, &computepb.Firewall{Name: ptr("fw"), SourceRanges: []string{"192.168.0.0/16"}}))
	got, err := c.GetFirewall(ctx, "fw")
	must(err)
	if !slices.Equal(got.GetSourceRanges(), []string{"192.168.0.0/16"}) || len(got.GetDestinationRanges()) != 1 {
		t.Errorf("patched firewall = %v", got)
	}
	fw.DestinationRanges = nil
	must(c.UpdateFirewall(ctx, fw))
	if got, err = c.GetFirewall(ctx, "fw"); err != nil || len(got.GetDestinationRanges()) != 0 {
		t.Errorf("updated firewall = %v, %v; want no destination ranges", got, err)
	}

	// Teardown in dependency order; a second delete is NotFound.
	must(c.DeleteFirewall(ctx, "fw"))
	must(c.DeleteForwardingRule(ctx, "fr"))
	must(c.DeleteTargetPool(ctx, "tp"))
	must(c.DeleteTargetPool(ctx, "tp2"))
	must(c.DeleteHTTPHealthCheck(ctx, "hc"))
	must(c.DeleteAddress(ctx, "addr"))
	for name, err := range map[string]error{
		"address": c.DeleteAddress(ctx, "addr"), "health check": c.DeleteHTTPHealthCheck(ctx, "hc"),
		"firewall": c.DeleteFirewall(ctx, "fw"), "forwarding rule": c.DeleteForwardingRule(ctx, "fr"),
	} {
		if !IsNotFound(err) {
			t.Errorf("second delete of the %s: err = %v, want not found", name, err)
		}
	}
	if _, err := c.GetHTTPHealthCheck(ctx, "hc"); !IsNotFound(err) {
		t.Errorf("get of a deleted health check: err = %v, want not found", err)
	}
}

// TestHealthCheckWrites: the compute/v1 path retries transient failures
// with one requestId and turns a failed operation into an *OperationError,
// like every other write.
func TestHealthCheckWrites(t *testing.T) {
	t.Parallel()
	c, srv := newTestCloud(t, fakecompute.Config{Latency: 20 * time.Millisecond}, nil)
	ctx := context.Background()
	hc := &HTTPHealthCheck{Name: "hc", Port: 80, RequestPath: "/"}
	if err := srv.InjectFault(fakecompute.Fault{Method: "httpHealthChecks.insert", Count: 2, Mode: fakecompute.FaultDrop}); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertHTTPHealthCheck(ctx, hc); err != nil {
		t.Fatalf("insert after 2 dropped requests: %v", err)
	}
	if n := len(srv.Dump().HTTPHealthChecks); n != 1 {
		t.Errorf("health checks = %d, want 1", n)
	}
	if err := srv.InjectFault(fakecompute.Fault{Method: "httpHealthChecks.delete", Count: 1, Mode: fakecompute.FaultOperation,
		Code: 400, Reason: "resourceInUseByAnotherResource", Message: "in use"}); err != nil {
		t.Fatal(err)
	}
	err := c.DeleteHTTPHealthCheck(ctx, "hc")
	var oe *OperationError
	if !IsInUse(err) || !errors.As(err, &oe) {
		t.Fatalf("err = %v, want an in-use OperationError", err)
	}
	if err := c.InsertHTTPHealthCheck(ctx, hc); !IsAlreadyExists(err) {
		t.Errorf("second insert: err = %v, want already exists", err)
	}
}
