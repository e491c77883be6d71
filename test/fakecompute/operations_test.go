package fakecompute_test

import (
	"errors"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/apierror"
	gce "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// latency keeps operations RUNNING long enough to see, short enough to keep
// the suite fast.
const latency = 200 * time.Millisecond

// scopedOps inserts something in each operation scope with either client and
// waits with that scope's wait method.
type scopedOps struct {
	scope   string
	old     func(name string) (*gce.Operation, error)
	oldWait func(op string) (*gce.Operation, error)
	v1      func(name string) (*compute.Operation, error)
	v1Wait  func(op string) (*computepb.Operation, error)
}

func (e *env) scopes() []scopedOps {
	ctx := e.ctx
	return []scopedOps{
		{
			scope: "global",
			old: func(name string) (*gce.Operation, error) {
				return e.old.Routes.Insert(project, &gce.Route{Name: name, Network: networkLink, DestRange: "10.1.0.0/24", NextHopIp: "10.128.0.9"}).Context(ctx).Do()
			},
			oldWait: func(op string) (*gce.Operation, error) {
				return e.old.GlobalOperations.Wait(project, op).Context(ctx).Do()
			},
			v1: func(name string) (*compute.Operation, error) {
				return e.v1.routes.Insert(ctx, &computepb.InsertRouteRequest{Project: project, RouteResource: &computepb.Route{
					Name: str(name), Network: str(networkLink), DestRange: str("10.2.0.0/24"), NextHopIp: str("10.128.0.9")}})
			},
			v1Wait: func(op string) (*computepb.Operation, error) {
				return e.v1.globalOps.Wait(ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: op})
			},
		},
		{
			scope: "region",
			old: func(name string) (*gce.Operation, error) {
				return e.old.Addresses.Insert(project, region, &gce.Address{Name: name}).Context(ctx).Do()
			},
			oldWait: func(op string) (*gce.Operation, error) {
				return e.old.RegionOperations.Wait(project, region, op).Context(ctx).Do()
			},
			v1: func(name string) (*compute.Operation, error) {
				return e.v1.addresses.Insert(ctx, &computepb.InsertAddressRequest{Project: project, Region: region,
					AddressResource: &computepb.Address{Name: str(name)}})
			},
			v1Wait: func(op string) (*computepb.Operation, error) {
				return e.v1.regionOps.Wait(ctx, &computepb.WaitRegionOperationRequest{Project: project, Region: region, Operation: op})
			},
		},
		{
			scope: "zone",
			old: func(name string) (*gce.Operation, error) {
				return e.old.Instances.Insert(project, zoneA, &gce.Instance{Name: name}).Context(ctx).Do()
			},
			oldWait: func(op string) (*gce.Operation, error) {
				return e.old.ZoneOperations.Wait(project, zoneA, op).Context(ctx).Do()
			},
			v1: func(name string) (*compute.Operation, error) {
				return e.v1.instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: project, Zone: zoneA,
					InstanceResource: &computepb.Instance{Name: str(name)}})
			},
			v1Wait: func(op string) (*computepb.Operation, error) {
				return e.v1.zoneOps.Wait(ctx, &computepb.WaitZoneOperationRequest{Project: project, Zone: zoneA, Operation: op})
			},
		},
	}
}

func TestOperationsWait(t *testing.T) {
	t.Parallel() // waits on timers, not on the CPU
	e := newEnv(t, fakecompute.Config{Latency: latency})
	for _, sc := range e.scopes() {
		t.Run(sc.scope+"/compute/v1 wait", func(t *testing.T) {
			op, err := sc.old("op-old-" + sc.scope)
			if err != nil {
				t.Fatal(err)
			}
			if op.Status != "RUNNING" {
				t.Errorf("insert answered %s, want RUNNING", op.Status)
			}
			checkOpScope(t, sc.scope, op)
			done, err := sc.oldWait(op.Name)
			if err != nil {
				t.Fatalf("wait: %v", err)
			}
			if done.Status != "DONE" || done.Progress != 100 || done.EndTime == "" || done.Error != nil {
				t.Errorf("wait = %+v, want DONE without error", done)
			}
			again, err := sc.oldWait(op.Name)
			if err != nil || again.Status != "DONE" {
				t.Errorf("second wait = %v, %v; want DONE", again, err)
			}
		})
		t.Run(sc.scope+"/apiv1 operations client wait", func(t *testing.T) {
			op, err := sc.v1("op-v1w-" + sc.scope)
			if err != nil {
				t.Fatal(err)
			}
			if op.Done() {
				t.Errorf("insert answered DONE, want RUNNING")
			}
			done, err := sc.v1Wait(op.Name())
			if err != nil || done.GetStatus() != computepb.Operation_DONE {
				t.Fatalf("wait = %v, %v; want DONE", done, err)
			}
			again, err := sc.v1Wait(op.Name())
			if err != nil || again.GetStatus() != computepb.Operation_DONE {
				t.Errorf("second wait = %v, %v; want DONE", again, err)
			}
		})
		t.Run(sc.scope+"/apiv1 op.Wait", func(t *testing.T) {
			op, err := sc.v1("op-v1-" + sc.scope)
			if err != nil {
				t.Fatal(err)
			}
			if op.Done() {
				t.Errorf("insert answered DONE, want RUNNING")
			}
			if err := op.Wait(e.ctx); err != nil {
				t.Fatalf("op.Wait: %v", err)
			}
			if !op.Done() {
				t.Errorf("after op.Wait the operation is %v", op.Proto().GetStatus())
			}
			if err := op.Wait(e.ctx); err != nil || !op.Done() {
				t.Errorf("second op.Wait = %v, done %v", err, op.Done())
			}
		})
	}

	t.Run("get shows RUNNING then DONE", func(t *testing.T) {
		// Long enough that the get lands before the end on a busy machine.
		e.srv.SetLatency("routes.insert", 2*time.Second)
		defer e.srv.SetLatency("routes.insert", latency)
		op, err := e.old.Routes.Insert(project, &gce.Route{Name: "op-get", Network: networkLink, DestRange: "10.3.0.0/24",
			NextHopIp: "10.128.0.9"}).Context(e.ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.old.GlobalOperations.Get(project, op.Name).Context(e.ctx).Do()
		if err != nil || got.Status != "RUNNING" {
			t.Fatalf("get right after insert = %v, %v; want RUNNING", got, err)
		}
		eventually(t, 30*time.Second, "operation DONE", func() bool {
			got, err := e.v1.globalOps.Get(e.ctx, &computepb.GetGlobalOperationRequest{Project: project, Operation: op.Name})
			return err == nil && got.GetStatus() == computepb.Operation_DONE
		})
	})

	t.Run("unknown operation", func(t *testing.T) {
		_, err := e.old.GlobalOperations.Wait(project, "operation-nope").Context(e.ctx).Do()
		if got, want := oldErr(t, err), (apiErr{404, "notFound"}); got != want {
			t.Errorf("wait = %v, want %v", got, want)
		}
		_, err = e.v1.zoneOps.Get(e.ctx, &computepb.GetZoneOperationRequest{Project: project, Zone: zoneA, Operation: "operation-nope"})
		if got, want := v1Err(t, err), (apiErr{404, "notFound"}); got != want {
			t.Errorf("get = %v, want %v", got, want)
		}
	})

	t.Run("operation of another scope is not found", func(t *testing.T) {
		op, err := e.old.Addresses.Insert(project, region, &gce.Address{Name: "op-scope"}).Context(e.ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.old.GlobalOperations.Get(project, op.Name).Context(e.ctx).Do()
		if got, want := oldErr(t, err), (apiErr{404, "notFound"}); got != want {
			t.Errorf("global get of a region operation = %v, want %v", got, want)
		}
	})
}

func checkOpScope(t *testing.T, scope string, op *gce.Operation) {
	t.Helper()
	prefix := fakecompute.SelfLinkPrefix + "projects/" + project + "/"
	var wantSelf string
	switch scope {
	case "global":
		wantSelf = prefix + "global/operations/" + op.Name
	case "region":
		wantSelf = prefix + "regions/" + region + "/operations/" + op.Name
		if op.Region != regionLink {
			t.Errorf("region = %q, want %q", op.Region, regionLink)
		}
	case "zone":
		wantSelf = prefix + "zones/" + zoneA + "/operations/" + op.Name
		if op.Zone != prefix+"zones/"+zoneA {
			t.Errorf("zone = %q", op.Zone)
		}
	}
	if op.SelfLink != wantSelf || op.Kind != "compute#operation" || op.OperationType != "insert" ||
		op.TargetId == 0 || !strings.HasPrefix(op.TargetLink, prefix) || op.InsertTime == "" || op.Id == 0 {
		t.Errorf("operation = %+v, want selfLink %s and the target set", op, wantSelf)
	}
}

func TestOperationsPerMethodLatencyAndMaxWait(t *testing.T) {
	t.Parallel() // waits on timers, not on the CPU
	e := newEnv(t, fakecompute.Config{MaxWait: 20 * time.Millisecond})
	// Far longer than MaxWait, so that the first wait answers RUNNING
	// however slowly a busy machine delivers it.
	e.srv.SetLatency("routes.insert", 2*time.Second)
	op, err := e.old.Routes.Insert(project, &gce.Route{Name: "slow", Network: networkLink, DestRange: "10.1.0.0/24",
		NextHopIp: "10.128.0.9"}).Context(e.ctx).Do()
	if err != nil || op.Status != "RUNNING" {
		t.Fatalf("insert = %v, %v; want RUNNING", op, err)
	}
	// Wait is bounded by MaxWait, as GCE bounds it: the caller waits again.
	w, err := e.old.GlobalOperations.Wait(project, op.Name).Context(e.ctx).Do()
	if err != nil || w.Status != "RUNNING" {
		t.Errorf("first wait = %v, %v; want RUNNING after MaxWait", w, err)
	}
	if _, err := e.waitOld(e.ctx, op); err != nil {
		t.Fatalf("wait loop: %v", err)
	}
	del, err := e.old.Routes.Delete(project, "slow").Context(e.ctx).Do()
	if err != nil || del.Status != "DONE" {
		t.Errorf("delete without latency = %v, %v; want DONE at once", del, err)
	}
}

func TestOperationsFailed(t *testing.T) {
	t.Parallel() // waits on timers, not on the CPU
	e := newEnv(t, fakecompute.Config{Latency: latency})
	inUse := fakecompute.Fault{Method: "routes.insert", Count: 1, Mode: fakecompute.FaultOperation,
		Code: 400, Reason: "resourceInUseByAnotherResource", Message: "in use"}

	t.Run("compute/v1", func(t *testing.T) {
		if err := e.srv.InjectFault(inUse); err != nil {
			t.Fatal(err)
		}
		op, err := e.old.Routes.Insert(project, &gce.Route{Name: "fail-old", Network: networkLink, DestRange: "10.1.0.0/24",
			NextHopIp: "10.128.0.9"}).Context(e.ctx).Do()
		if err != nil {
			t.Fatalf("insert = %v, want an operation", err)
		}
		done, err := e.waitOld(e.ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		if done.Error == nil || len(done.Error.Errors) != 1 || done.Error.Errors[0].Code != "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE" ||
			done.Error.Errors[0].Message != "in use" || done.HttpErrorStatusCode != 400 || done.HttpErrorMessage != "Bad Request" {
			t.Errorf("failed operation = %+v (error %+v)", done, done.Error)
		}
	})

	t.Run("apiv1 op.Wait", func(t *testing.T) {
		if err := e.srv.InjectFault(inUse); err != nil {
			t.Fatal(err)
		}
		op, err := e.v1.routes.Insert(e.ctx, &computepb.InsertRouteRequest{Project: project, RouteResource: &computepb.Route{
			Name: str("fail-v1"), Network: str(networkLink), DestRange: str("10.2.0.0/24"), NextHopIp: str("10.128.0.9")}})
		if err != nil {
			t.Fatalf("insert = %v, want an operation", err)
		}
		err = op.Wait(e.ctx)
		var ae *apierror.APIError
		if !errors.As(err, &ae) || ae.HTTPCode() != http.StatusBadRequest {
			t.Fatalf("op.Wait = %v, want an *apierror.APIError with HTTP code 400", err)
		}
		var ge *googleapi.Error
		if !errors.As(err, &ge) || ge.Code != 400 || !strings.Contains(ge.Message, "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE") {
			t.Errorf("op.Wait error = %v, want a *googleapi.Error 400 naming the code", err)
		}
		if !op.Done() || op.Proto().GetError() == nil {
			t.Errorf("operation after Wait = %v", op.Proto())
		}
	})

	if routes := e.srv.Dump().Routes; len(routes) != 0 {
		t.Errorf("failed operations created %d routes, want 0", len(routes))
	}
	if n := e.srv.Calls()["routes.insert"]["ok"]; n != 2 {
		t.Errorf("routes.insert ok calls = %d, want 2 (a failed operation is accepted)", n)
	}
}

func TestOperationsRequestID(t *testing.T) {
	t.Parallel() // waits on timers, not on the CPU
	e := newEnv(t, fakecompute.Config{Latency: latency})
	const id = "0b2a9f6e-5c1d-4f7a-9a53-7d1b8c1e2f30"

	t.Run("compute/v1", func(t *testing.T) {
		r := &gce.Route{Name: "rid-old", Network: networkLink, DestRange: "10.1.0.0/24", NextHopIp: "10.128.0.9"}
		first, err := e.old.Routes.Insert(project, r).RequestId(id).Context(e.ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		second, err := e.old.Routes.Insert(project, r).RequestId(id).Context(e.ctx).Do()
		if err != nil {
			t.Fatalf("retry with the same requestId = %v, want the first operation", err)
		}
		if second.Name != first.Name {
			t.Errorf("retry answered operation %s, want %s", second.Name, first.Name)
		}
		_, err = e.old.Routes.Insert(project, r).Context(e.ctx).Do()
		if got, want := oldErr(t, err), (apiErr{409, "alreadyExists"}); got != want {
			t.Errorf("insert without requestId = %v, want %v", got, want)
		}
	})

	t.Run("apiv1", func(t *testing.T) {
		req := &computepb.InsertAddressRequest{Project: project, Region: region, RequestId: str("5d1c3b1a-0000-4000-8000-000000000001"),
			AddressResource: &computepb.Address{Name: str("rid-v1")}}
		first, err := e.v1.addresses.Insert(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Wait(e.ctx); err != nil {
			t.Fatal(err)
		}
		second, err := e.v1.addresses.Insert(e.ctx, req)
		if err != nil {
			t.Fatalf("retry = %v", err)
		}
		if second.Name() != first.Name() || !second.Done() {
			t.Errorf("retry answered %s (done %v), want %s DONE", second.Name(), second.Done(), first.Name())
		}
	})

	d := e.srv.Dump()
	if len(d.Routes) != 1 || len(d.Addresses) != 1 {
		t.Errorf("dump holds %d routes and %d addresses, want 1 and 1", len(d.Routes), len(d.Addresses))
	}
}

func TestOperationsResourceNotReady(t *testing.T) {
	t.Parallel() // waits on timers, not on the CPU
	e := newEnv(t, fakecompute.Config{})
	e.seedVMs(t, zoneA, "n1")
	for _, client := range clientNames {
		t.Run(client, func(t *testing.T) {
			pool, fr := "pool-"+suffix(client), "fr-"+suffix(client)
			if err := e.insertPool(t, client, &gce.TargetPool{Name: pool}); err != nil {
				t.Fatal(err)
			}
			if err := e.insertFR(t, client, &gce.ForwardingRule{Name: fr, Target: regionalLink("targetPools", pool)}); err != nil {
				t.Fatal(err)
			}
			e.srv.SetLatency("forwardingRules.delete", latency)
			defer e.srv.SetLatency("forwardingRules.delete", 0)

			var waitFR func() error
			if client == "apiv1" {
				op, err := e.v1.fwdRules.Delete(e.ctx, &computepb.DeleteForwardingRuleRequest{Project: project, Region: region, ForwardingRule: fr})
				if err != nil || op.Done() {
					t.Fatalf("delete forwarding rule = %v, %v; want RUNNING", op, err)
				}
				waitFR = func() error { return op.Wait(e.ctx) }
			} else {
				op, err := e.old.ForwardingRules.Delete(project, region, fr).Context(e.ctx).Do()
				if err != nil || op.Status != "RUNNING" {
					t.Fatalf("delete forwarding rule = %v, %v; want RUNNING", op, err)
				}
				waitFR = func() error { return e.doOld(op, nil) }
			}
			if got, want := errOf(t, client, e.deletePool(client, pool)), (apiErr{400, "resourceNotReady"}); got != want {
				t.Errorf("delete pool while its rule's delete runs = %v, want %v", got, want)
			}
			if got, want := errOf(t, client, e.setTarget(client, fr, regionalLink("targetPools", pool))), (apiErr{400, "resourceNotReady"}); got != want {
				t.Errorf("setTarget on a rule being deleted = %v, want %v", got, want)
			}
			if err := waitFR(); err != nil {
				t.Fatal(err)
			}
			if err := e.deletePool(client, pool); err != nil {
				t.Errorf("delete pool after its rule went: %v", err)
			}
		})
	}

	t.Run("instance still being created", func(t *testing.T) {
		e.srv.SetLatency("instances.insert", latency)
		op, err := e.old.Instances.Insert(project, zoneA, &gce.Instance{Name: "booting"}).Context(e.ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		err = e.insertRoute(t, "apiv1", nodeRoute("to-booting", "10.9.0.0/24", "booting"))
		if got, want := v1Err(t, err), (apiErr{400, "resourceNotReady"}); got != want {
			t.Errorf("route to a VM still being created = %v, want %v", got, want)
		}
		if _, err := e.waitOld(e.ctx, op); err != nil {
			t.Fatal(err)
		}
		if err := e.insertRoute(t, "apiv1", nodeRoute("to-booting", "10.9.0.0/24", "booting")); err != nil {
			t.Errorf("route once the VM exists: %v", err)
		}
	})
}

// TestPendingWaitsEnd checks that a wait on an operation that will not end
// soon returns promptly when the fake is reset or closed. A wait that answers
// the operation (rather than notFound or a closed connection) shows it was
// blocked in the fake when the stop came.
func TestPendingWaitsEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(e *env) error
	}{
		{"Reset", func(e *env) error { e.srv.Reset(); return nil }},
		{"Close", func(e *env) error { return e.srv.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blocked := false
			for attempt := 0; attempt < 10 && !blocked; attempt++ {
				e := newEnv(t, fakecompute.Config{Latency: time.Hour})
				op, err := e.old.Firewalls.Insert(project, &gce.Firewall{Name: "fw", Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}).Context(e.ctx).Do()
				if err != nil || op.Status != "RUNNING" {
					t.Fatalf("insert = %v, %v; want RUNNING", op, err)
				}
				wrote := make(chan struct{})
				ctx := httptrace.WithClientTrace(e.ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }})
				waited := make(chan *gce.Operation, 1)
				go func() {
					got, _ := e.old.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
					waited <- got
				}()
				<-wrote
				// A round trip on another connection gives the fake time to
				// take the wait up; the loop retries when it did not.
				if _, err := e.old.GlobalOperations.Get(project, op.Name).Context(e.ctx).Do(); err != nil {
					t.Fatal(err)
				}
				if err := tc.stop(e); err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
				// Without the stop the wait would last MaxWait (2 minutes):
				// 30 s tells the two apart on however busy a machine.
				select {
				case got := <-waited:
					blocked = got != nil && got.Status == "RUNNING"
				case <-time.After(30 * time.Second):
					t.Fatalf("wait still blocked 30s after %s", tc.name)
				}
			}
			if !blocked {
				t.Errorf("in 10 attempts the wait never reached the fake before %s", tc.name)
			}
		})
	}
}
