package fakecompute_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/apierror"
	gce "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

const (
	project = "fake-project"
	region  = "us-central1"
	zoneA   = "us-central1-a"
	zoneB   = "us-central1-b"
	zoneC   = "us-central1-c"
	network = "default"
)

var (
	networkLink = fakecompute.SelfLinkPrefix + "projects/" + project + "/global/networks/" + network
	regionLink  = fakecompute.SelfLinkPrefix + "projects/" + project + "/regions/" + region
)

// env is a running fake with both Go clients pointed at it.
type env struct {
	ctx context.Context // ends with the test
	srv *fakecompute.Server
	old *gce.Service // google.golang.org/api/compute/v1, the long-standing provider's client
	v1  *v1Clients   // cloud.google.com/go/compute/apiv1
}

// v1Clients are the apiv1 clients the tests use. The apiv1 module has no
// client for the legacy httpHealthChecks collection, so those are driven
// with the old client only.
type v1Clients struct {
	zones       *compute.ZonesClient
	regions     *compute.RegionsClient
	networks    *compute.NetworksClient
	subnetworks *compute.SubnetworksClient
	instances   *compute.InstancesClient
	routes      *compute.RoutesClient
	addresses   *compute.AddressesClient
	fwdRules    *compute.ForwardingRulesClient
	targetPools *compute.TargetPoolsClient
	firewalls   *compute.FirewallsClient
	globalOps   *compute.GlobalOperationsClient
	regionOps   *compute.RegionOperationsClient
	zoneOps     *compute.ZoneOperationsClient

	instanceGroups     *compute.InstanceGroupsClient
	backendServices    *compute.RegionBackendServicesClient
	healthChecks       *compute.HealthChecksClient
	regionHealthChecks *compute.RegionHealthChecksClient
}

// newEnv starts a fake in-process and builds both clients for it.
func newEnv(t testing.TB, cfg fakecompute.Config) *env {
	t.Helper()
	srv, err := fakecompute.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	old, err := gce.NewService(ctx, option.WithEndpoint(srv.URL()+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("compute/v1 NewService: %v", err)
	}
	opts := []option.ClientOption{option.WithEndpoint(srv.URL()), option.WithoutAuthentication()}
	v1 := &v1Clients{}
	var errs []error
	add := func(c interface{ Close() error }, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	v1.zones, err = compute.NewZonesRESTClient(ctx, opts...)
	add(v1.zones, err)
	v1.regions, err = compute.NewRegionsRESTClient(ctx, opts...)
	add(v1.regions, err)
	v1.networks, err = compute.NewNetworksRESTClient(ctx, opts...)
	add(v1.networks, err)
	v1.subnetworks, err = compute.NewSubnetworksRESTClient(ctx, opts...)
	add(v1.subnetworks, err)
	v1.instances, err = compute.NewInstancesRESTClient(ctx, opts...)
	add(v1.instances, err)
	v1.routes, err = compute.NewRoutesRESTClient(ctx, opts...)
	add(v1.routes, err)
	v1.addresses, err = compute.NewAddressesRESTClient(ctx, opts...)
	add(v1.addresses, err)
	v1.fwdRules, err = compute.NewForwardingRulesRESTClient(ctx, opts...)
	add(v1.fwdRules, err)
	v1.targetPools, err = compute.NewTargetPoolsRESTClient(ctx, opts...)
	add(v1.targetPools, err)
	v1.firewalls, err = compute.NewFirewallsRESTClient(ctx, opts...)
	add(v1.firewalls, err)
	v1.globalOps, err = compute.NewGlobalOperationsRESTClient(ctx, opts...)
	add(v1.globalOps, err)
	v1.regionOps, err = compute.NewRegionOperationsRESTClient(ctx, opts...)
	add(v1.regionOps, err)
	v1.zoneOps, err = compute.NewZoneOperationsRESTClient(ctx, opts...)
	add(v1.zoneOps, err)
	v1.instanceGroups, err = compute.NewInstanceGroupsRESTClient(ctx, opts...)
	add(v1.instanceGroups, err)
	v1.backendServices, err = compute.NewRegionBackendServicesRESTClient(ctx, opts...)
	add(v1.backendServices, err)
	v1.healthChecks, err = compute.NewHealthChecksRESTClient(ctx, opts...)
	add(v1.healthChecks, err)
	v1.regionHealthChecks, err = compute.NewRegionHealthChecksRESTClient(ctx, opts...)
	add(v1.regionHealthChecks, err)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("apiv1 clients: %v", err)
	}
	return &env{ctx: testCtx(t), srv: srv, old: old, v1: v1}
}

// testCtx is a context that ends with the test (or after a minute).
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// seedVMs creates RUNNING instances directly through the control API.
func (e *env) seedVMs(t testing.TB, zone string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := e.srv.AddInstance(fakecompute.InstanceSeed{Name: n, Zone: zone, CanIPForward: true}); err != nil {
			t.Fatalf("AddInstance(%s/%s): %v", zone, n, err)
		}
	}
}

func instanceLink(zone, name string) string {
	return fakecompute.SelfLinkPrefix + "projects/" + project + "/zones/" + zone + "/instances/" + name
}

func regionalLink(kind, name string) string {
	return fakecompute.SelfLinkPrefix + "projects/" + project + "/regions/" + region + "/" + kind + "/" + name
}

func globalLink(kind, name string) string {
	return fakecompute.SelfLinkPrefix + "projects/" + project + "/global/" + kind + "/" + name
}

// apiErr is an error as a test compares it: the HTTP status and the first
// reason of Google's error body.
type apiErr struct {
	Code   int
	Reason string
}

func (a apiErr) String() string { return fmt.Sprintf("%d %s", a.Code, a.Reason) }

// oldErr returns what the old client surfaces: a *googleapi.Error.
func oldErr(t testing.TB, err error) apiErr {
	t.Helper()
	if err == nil {
		return apiErr{}
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("compute/v1 error %v (%T) is not a *googleapi.Error", err, err)
	}
	out := apiErr{Code: ge.Code}
	if len(ge.Errors) > 0 {
		out.Reason = ge.Errors[0].Reason
	}
	return out
}

// v1Err returns what apiv1 surfaces for a synchronous error: an error that
// is an *apierror.APIError (with the HTTP code) and wraps a *googleapi.Error
// (with Google's reasons).
func v1Err(t testing.TB, err error) apiErr {
	t.Helper()
	if err == nil {
		return apiErr{}
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("apiv1 error %v (%T) is not a *googleapi.Error", err, err)
	}
	var ae *apierror.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("apiv1 error %v (%T) is not an *apierror.APIError", err, err)
	}
	if ae.HTTPCode() != ge.Code {
		t.Errorf("apierror HTTPCode() = %d, googleapi Code = %d", ae.HTTPCode(), ge.Code)
	}
	out := apiErr{Code: ge.Code}
	if len(ge.Errors) > 0 {
		out.Reason = ge.Errors[0].Reason
	}
	return out
}

// waitOld waits for an operation with the old client's wait method, in the
// operation's own scope, until it is DONE.
func (e *env) waitOld(ctx context.Context, op *gce.Operation) (*gce.Operation, error) {
	for op.Status != "DONE" {
		var err error
		switch {
		case op.Zone != "":
			op, err = e.old.ZoneOperations.Wait(project, lastSegment(op.Zone), op.Name).Context(ctx).Do()
		case op.Region != "":
			op, err = e.old.RegionOperations.Wait(project, lastSegment(op.Region), op.Name).Context(ctx).Do()
		default:
			op, err = e.old.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
		}
		if err != nil {
			return nil, err
		}
	}
	return op, nil
}

// doOld runs a mutation with the old client and waits for its operation; it
// returns the synchronous error or the operation's first error.
func (e *env) doOld(op *gce.Operation, err error) error {
	if err != nil {
		return err
	}
	op, err = e.waitOld(e.ctx, op)
	if err != nil {
		return err
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		return &opError{HTTPCode: int(op.HttpErrorStatusCode), Code: op.Error.Errors[0].Code,
			msg: fmt.Sprintf("operation %s: %s: %s", op.Name, op.Error.Errors[0].Code, op.Error.Errors[0].Message)}
	}
	return nil
}

// opError is a failed operation as doOld returns it.
type opError struct {
	HTTPCode int
	Code     string // e.g. IP_IN_USE_BY_ANOTHER_RESOURCE
	msg      string
}

func (e *opError) Error() string { return e.msg }

// opErrOf classifies an error of an operation that failed after the call
// was accepted: its HTTP status and the operation error's code. apiv1's
// op.Wait gives a *googleapi.Error whose message names the code.
func opErrOf(t testing.TB, err error) apiErr {
	t.Helper()
	if err == nil {
		return apiErr{}
	}
	var oe *opError
	if errors.As(err, &oe) {
		return apiErr{oe.HTTPCode, oe.Code}
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is neither a failed operation nor a *googleapi.Error", err, err)
	}
	return apiErr{ge.Code, opCodeRE.FindString(ge.Message)}
}

var opCodeRE = regexp.MustCompile(`\b[A-Z]+(_[A-Z]+)+\b`)

// doV1 runs a mutation with apiv1 and waits for it with op.Wait.
func (e *env) doV1(op *compute.Operation, err error) error {
	if err != nil {
		return err
	}
	return op.Wait(e.ctx)
}

// waitV1 waits for an apiv1 operation with the operations client's wait
// method (one server-side long poll) instead of op.Wait's GET polling.
func (e *env) waitV1(op *compute.Operation, err error) error {
	if err != nil {
		return err
	}
	p := op.Proto()
	for p.GetStatus() != computepb.Operation_DONE {
		switch {
		case p.GetZone() != "":
			p, err = e.v1.zoneOps.Wait(e.ctx, &computepb.WaitZoneOperationRequest{Project: project, Zone: lastSegment(p.GetZone()), Operation: p.GetName()})
		case p.GetRegion() != "":
			p, err = e.v1.regionOps.Wait(e.ctx, &computepb.WaitRegionOperationRequest{Project: project, Region: lastSegment(p.GetRegion()), Operation: p.GetName()})
		default:
			p, err = e.v1.globalOps.Wait(e.ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: p.GetName()})
		}
		if err != nil {
			return err
		}
	}
	if p.GetHttpErrorStatusCode() != 0 {
		return fmt.Errorf("operation %s: %d %s: %v", p.GetName(), p.GetHttpErrorStatusCode(), p.GetHttpErrorMessage(), p.GetError())
	}
	return nil
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// collect drains an apiv1 iterator.
func collect[T any](t testing.TB, next func() (T, error)) []T {
	t.Helper()
	var out []T
	for {
		v, err := next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("iterate: %v", err)
		}
		out = append(out, v)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// names returns the names of v1 resources.
func names[T interface{ GetName() string }](items []T) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.GetName()
	}
	return out
}

var (
	str   = proto.String
	u32   = proto.Uint32
	boolp = proto.Bool
)
