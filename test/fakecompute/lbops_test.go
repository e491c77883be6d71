package fakecompute_test

import (
	"encoding/json"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	gce "google.golang.org/api/compute/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// This file drives the load-balancer resources with either client: each
// helper takes the client's name ("compute/v1" or "apiv1"), converts the
// compute/v1 struct to the apiv1 message and back, and waits for the
// operation with that client's own mechanism.

// fromV1 converts an apiv1 message into the compute/v1 struct with the same JSON.
func fromV1[T any](t testing.TB, m proto.Message) *T {
	t.Helper()
	raw, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", raw, err)
	}
	return out
}

func (e *env) insertAddress(t testing.TB, client string, a *gce.Address) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.addresses.Insert(e.ctx, &computepb.InsertAddressRequest{Project: project, Region: region,
			AddressResource: toV1(t, a, &computepb.Address{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.Addresses.Insert(project, region, a).Context(e.ctx).Do())
}

func (e *env) getAddress(t testing.TB, client, name string) (*gce.Address, error) {
	t.Helper()
	if client == "apiv1" {
		a, err := e.v1.addresses.Get(e.ctx, &computepb.GetAddressRequest{Project: project, Region: region, Address: name})
		if err != nil {
			return nil, err
		}
		return fromV1[gce.Address](t, a), nil
	}
	return e.old.Addresses.Get(project, region, name).Context(e.ctx).Do()
}

func (e *env) listAddresses(t testing.TB, client, filter string) ([]string, error) {
	t.Helper()
	var out []string
	if client == "apiv1" {
		it := e.v1.addresses.List(e.ctx, &computepb.ListAddressesRequest{Project: project, Region: region, Filter: str(filter)})
		for a, err := range it.All() {
			if err != nil {
				return nil, err
			}
			out = append(out, a.GetName())
		}
		return out, nil
	}
	l, err := e.old.Addresses.List(project, region).Filter(filter).Context(e.ctx).Do()
	if err != nil {
		return nil, err
	}
	for _, a := range l.Items {
		out = append(out, a.Name)
	}
	return out, nil
}

func (e *env) deleteAddress(client, name string) error {
	if client == "apiv1" {
		op, err := e.v1.addresses.Delete(e.ctx, &computepb.DeleteAddressRequest{Project: project, Region: region, Address: name})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.Addresses.Delete(project, region, name).Context(e.ctx).Do())
}

func (e *env) insertFR(t testing.TB, client string, fr *gce.ForwardingRule) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.fwdRules.Insert(e.ctx, &computepb.InsertForwardingRuleRequest{Project: project, Region: region,
			ForwardingRuleResource: toV1(t, fr, &computepb.ForwardingRule{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.ForwardingRules.Insert(project, region, fr).Context(e.ctx).Do())
}

func (e *env) getFR(t testing.TB, client, name string) (*gce.ForwardingRule, error) {
	t.Helper()
	if client == "apiv1" {
		fr, err := e.v1.fwdRules.Get(e.ctx, &computepb.GetForwardingRuleRequest{Project: project, Region: region, ForwardingRule: name})
		if err != nil {
			return nil, err
		}
		return fromV1[gce.ForwardingRule](t, fr), nil
	}
	return e.old.ForwardingRules.Get(project, region, name).Context(e.ctx).Do()
}

func (e *env) listFRs(t testing.TB, client string) []string {
	t.Helper()
	var out []string
	if client == "apiv1" {
		return names(collect(t, e.v1.fwdRules.List(e.ctx, &computepb.ListForwardingRulesRequest{Project: project, Region: region}).Next))
	}
	l, err := e.old.ForwardingRules.List(project, region).Context(e.ctx).Do()
	if err != nil {
		t.Fatalf("forwardingRules.list: %v", err)
	}
	for _, fr := range l.Items {
		out = append(out, fr.Name)
	}
	return out
}

func (e *env) setTarget(client, name, target string) error {
	if client == "apiv1" {
		op, err := e.v1.fwdRules.SetTarget(e.ctx, &computepb.SetTargetForwardingRuleRequest{Project: project, Region: region,
			ForwardingRule: name, TargetReferenceResource: &computepb.TargetReference{Target: str(target)}})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.ForwardingRules.SetTarget(project, region, name, &gce.TargetReference{Target: target}).Context(e.ctx).Do())
}

func (e *env) deleteFR(client, name string) error {
	if client == "apiv1" {
		op, err := e.v1.fwdRules.Delete(e.ctx, &computepb.DeleteForwardingRuleRequest{Project: project, Region: region, ForwardingRule: name})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.ForwardingRules.Delete(project, region, name).Context(e.ctx).Do())
}

func (e *env) insertPool(t testing.TB, client string, tp *gce.TargetPool) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.targetPools.Insert(e.ctx, &computepb.InsertTargetPoolRequest{Project: project, Region: region,
			TargetPoolResource: toV1(t, tp, &computepb.TargetPool{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.TargetPools.Insert(project, region, tp).Context(e.ctx).Do())
}

func (e *env) getPool(t testing.TB, client, name string) (*gce.TargetPool, error) {
	t.Helper()
	if client == "apiv1" {
		tp, err := e.v1.targetPools.Get(e.ctx, &computepb.GetTargetPoolRequest{Project: project, Region: region, TargetPool: name})
		if err != nil {
			return nil, err
		}
		return fromV1[gce.TargetPool](t, tp), nil
	}
	return e.old.TargetPools.Get(project, region, name).Context(e.ctx).Do()
}

func (e *env) listPools(t testing.TB, client string) []string {
	t.Helper()
	if client == "apiv1" {
		return names(collect(t, e.v1.targetPools.List(e.ctx, &computepb.ListTargetPoolsRequest{Project: project, Region: region}).Next))
	}
	l, err := e.old.TargetPools.List(project, region).Context(e.ctx).Do()
	if err != nil {
		t.Fatalf("targetPools.list: %v", err)
	}
	var out []string
	for _, tp := range l.Items {
		out = append(out, tp.Name)
	}
	return out
}

func (e *env) deletePool(client, name string) error {
	if client == "apiv1" {
		op, err := e.v1.targetPools.Delete(e.ctx, &computepb.DeleteTargetPoolRequest{Project: project, Region: region, TargetPool: name})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.TargetPools.Delete(project, region, name).Context(e.ctx).Do())
}

func (e *env) addInstances(client, pool string, links ...string) error {
	if client == "apiv1" {
		req := &computepb.TargetPoolsAddInstanceRequest{}
		for _, l := range links {
			req.Instances = append(req.Instances, &computepb.InstanceReference{Instance: str(l)})
		}
		op, err := e.v1.targetPools.AddInstance(e.ctx, &computepb.AddInstanceTargetPoolRequest{Project: project, Region: region,
			TargetPool: pool, TargetPoolsAddInstanceRequestResource: req})
		return e.doV1(op, err)
	}
	req := &gce.TargetPoolsAddInstanceRequest{}
	for _, l := range links {
		req.Instances = append(req.Instances, &gce.InstanceReference{Instance: l})
	}
	return e.doOld(e.old.TargetPools.AddInstance(project, region, pool, req).Context(e.ctx).Do())
}

func (e *env) removeInstances(client, pool string, links ...string) error {
	if client == "apiv1" {
		req := &computepb.TargetPoolsRemoveInstanceRequest{}
		for _, l := range links {
			req.Instances = append(req.Instances, &computepb.InstanceReference{Instance: str(l)})
		}
		op, err := e.v1.targetPools.RemoveInstance(e.ctx, &computepb.RemoveInstanceTargetPoolRequest{Project: project, Region: region,
			TargetPool: pool, TargetPoolsRemoveInstanceRequestResource: req})
		return e.doV1(op, err)
	}
	req := &gce.TargetPoolsRemoveInstanceRequest{}
	for _, l := range links {
		req.Instances = append(req.Instances, &gce.InstanceReference{Instance: l})
	}
	return e.doOld(e.old.TargetPools.RemoveInstance(project, region, pool, req).Context(e.ctx).Do())
}

func (e *env) addHealthCheck(client, pool, hc string) error {
	if client == "apiv1" {
		op, err := e.v1.targetPools.AddHealthCheck(e.ctx, &computepb.AddHealthCheckTargetPoolRequest{Project: project, Region: region,
			TargetPool: pool, TargetPoolsAddHealthCheckRequestResource: &computepb.TargetPoolsAddHealthCheckRequest{
				HealthChecks: []*computepb.HealthCheckReference{{HealthCheck: str(hc)}}}})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.TargetPools.AddHealthCheck(project, region, pool, &gce.TargetPoolsAddHealthCheckRequest{
		HealthChecks: []*gce.HealthCheckReference{{HealthCheck: hc}}}).Context(e.ctx).Do())
}

func (e *env) removeHealthCheck(client, pool, hc string) error {
	if client == "apiv1" {
		op, err := e.v1.targetPools.RemoveHealthCheck(e.ctx, &computepb.RemoveHealthCheckTargetPoolRequest{Project: project, Region: region,
			TargetPool: pool, TargetPoolsRemoveHealthCheckRequestResource: &computepb.TargetPoolsRemoveHealthCheckRequest{
				HealthChecks: []*computepb.HealthCheckReference{{HealthCheck: str(hc)}}}})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.TargetPools.RemoveHealthCheck(project, region, pool, &gce.TargetPoolsRemoveHealthCheckRequest{
		HealthChecks: []*gce.HealthCheckReference{{HealthCheck: hc}}}).Context(e.ctx).Do())
}

// insertHealthCheck creates a legacy HTTP health check. apiv1 has no client
// for them, so this always uses compute/v1.
func (e *env) insertHealthCheck(hc *gce.HttpHealthCheck) error {
	return e.doOld(e.old.HttpHealthChecks.Insert(project, hc).Context(e.ctx).Do())
}

func (e *env) insertFirewall(t testing.TB, client string, fw *gce.Firewall) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.firewalls.Insert(e.ctx, &computepb.InsertFirewallRequest{Project: project,
			FirewallResource: toV1(t, fw, &computepb.Firewall{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.Firewalls.Insert(project, fw).Context(e.ctx).Do())
}

func (e *env) getFirewall(t testing.TB, client, name string) (*gce.Firewall, error) {
	t.Helper()
	if client == "apiv1" {
		fw, err := e.v1.firewalls.Get(e.ctx, &computepb.GetFirewallRequest{Project: project, Firewall: name})
		if err != nil {
			return nil, err
		}
		return fromV1[gce.Firewall](t, fw), nil
	}
	return e.old.Firewalls.Get(project, name).Context(e.ctx).Do()
}

func (e *env) patchFirewall(t testing.TB, client, name string, fw *gce.Firewall) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.firewalls.Patch(e.ctx, &computepb.PatchFirewallRequest{Project: project, Firewall: name,
			FirewallResource: toV1(t, fw, &computepb.Firewall{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.Firewalls.Patch(project, name, fw).Context(e.ctx).Do())
}

func (e *env) updateFirewall(t testing.TB, client, name string, fw *gce.Firewall) error {
	t.Helper()
	if client == "apiv1" {
		op, err := e.v1.firewalls.Update(e.ctx, &computepb.UpdateFirewallRequest{Project: project, Firewall: name,
			FirewallResource: toV1(t, fw, &computepb.Firewall{})})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.Firewalls.Update(project, name, fw).Context(e.ctx).Do())
}

func (e *env) listFirewalls(t testing.TB, client string) []string {
	t.Helper()
	if client == "apiv1" {
		return names(collect(t, e.v1.firewalls.List(e.ctx, &computepb.ListFirewallsRequest{Project: project}).Next))
	}
	l, err := e.old.Firewalls.List(project).Context(e.ctx).Do()
	if err != nil {
		t.Fatalf("firewalls.list: %v", err)
	}
	var out []string
	for _, fw := range l.Items {
		out = append(out, fw.Name)
	}
	return out
}

func (e *env) deleteFirewall(client, name string) error {
	if client == "apiv1" {
		op, err := e.v1.firewalls.Delete(e.ctx, &computepb.DeleteFirewallRequest{Project: project, Firewall: name})
		return e.doV1(op, err)
	}
	return e.doOld(e.old.Firewalls.Delete(project, name).Context(e.ctx).Do())
}
