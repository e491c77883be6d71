package gce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// newTestCloud returns a Cloud talking to a fresh fake over HTTP with the
// real apiv1 clients.
func newTestCloud(t *testing.T, fcfg fakecompute.Config, mutate func(*Config)) (*Cloud, *fakecompute.Server) {
	t.Helper()
	srv, err := fakecompute.New(fcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cfg := Config{ProjectID: "fake-project", NetworkName: "default", LocalZone: "us-central1-a", APIEndpoint: srv.URL(), WriteQPS: 1000, WriteBurst: 1000}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx := context.Background()
	if err := cfg.Complete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	hc, err := NewHTTPClient(ctx, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, cfg, hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, srv
}

func (c *Cloud) testInsertRoute(ctx context.Context, name string) error {
	return c.InsertRoute(ctx, &computepb.Route{Name: &name, Network: ptr(c.cfg.NetworkURL()), DestRange: ptr("10.1.0.0/24"),
		NextHopIp: ptr("10.128.0.9")})
}

func TestWriteWaitsForOperation(t *testing.T) {
	t.Parallel()
	c, srv := newTestCloud(t, fakecompute.Config{Latency: 300 * time.Millisecond}, nil)
	start := time.Now()
	if err := c.testInsertRoute(context.Background(), "r1"); err != nil {
		t.Fatal(err)
	}
	if len(srv.Dump().Routes) != 1 {
		t.Fatalf("routes = %d, want 1", len(srv.Dump().Routes))
	}
	calls := srv.Calls()
	if calls["globalOperations.wait"]["ok"] == 0 {
		t.Errorf("no globalOperations.wait call; calls = %v", calls)
	}
	if calls["globalOperations.get"]["ok"] != 0 {
		t.Errorf("operation was polled with get: %v", calls["globalOperations.get"])
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Errorf("write returned before the operation ended")
	}
}

func TestWriteReturnsOperationError(t *testing.T) {
	t.Parallel()
	c, srv := newTestCloud(t, fakecompute.Config{Latency: 50 * time.Millisecond}, nil)
	if err := srv.InjectFault(fakecompute.Fault{Method: "routes.insert", Count: 1, Mode: fakecompute.FaultOperation,
		Code: 403, Reason: "quotaExceeded", Message: "Quota 'STATIC_ROUTES_PER_NETWORK' exceeded."}); err != nil {
		t.Fatal(err)
	}
	err := c.testInsertRoute(context.Background(), "r1")
	if !IsQuotaExceeded(err) {
		t.Fatalf("err = %v, want a quota error", err)
	}
	if len(srv.Dump().Routes) != 0 {
		t.Errorf("a failed operation left a route")
	}
}

func TestWriteRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	for _, mode := range []fakecompute.FaultMode{fakecompute.FaultDrop, fakecompute.FaultError} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			c, srv := newTestCloud(t, fakecompute.Config{}, nil)
			if err := srv.InjectFault(fakecompute.Fault{Method: "routes.insert", Count: 2, Mode: mode}); err != nil {
				t.Fatal(err)
			}
			if err := c.testInsertRoute(context.Background(), "r1"); err != nil {
				t.Fatalf("insert after 2 transient failures: %v", err)
			}
			if got := len(srv.Dump().Routes); got != 1 {
				t.Errorf("routes = %d, want 1", got)
			}
		})
	}
}

func TestWriteDoesNotRetryPermanentErrors(t *testing.T) {
	t.Parallel()
	c, srv := newTestCloud(t, fakecompute.Config{}, nil)
	if err := c.testInsertRoute(context.Background(), "r1"); err != nil {
		t.Fatal(err)
	}
	err := c.testInsertRoute(context.Background(), "r1")
	if !IsAlreadyExists(err) {
		t.Fatalf("second insert: err = %v, want alreadyExists", err)
	}
	if got := srv.Calls()["routes.insert"]["alreadyExists"]; got != 1 {
		t.Errorf("alreadyExists answers = %d, want exactly 1 (no retry)", got)
	}
}

func TestWriteRateLimiterPacesWrites(t *testing.T) {
	t.Parallel()
	c, srv := newTestCloud(t, fakecompute.Config{}, func(cfg *Config) { cfg.WriteQPS, cfg.WriteBurst = 10, 1 })
	srv.SetWriteRateLimit(10, 2) // the server allows what the client limiter allows
	ctx := context.Background()
	for i := range 5 {
		if err := c.testInsertRoute(ctx, fmt.Sprintf("r%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Calls()["routes.insert"]["rateLimitExceeded"]; n != 0 {
		t.Errorf("rateLimitExceeded = %d, want 0 with the client limiter at the server's rate", n)
	}
}

func TestListInstancesPagesAcrossZones(t *testing.T) {
	t.Parallel()
	c, srv := newTestCloud(t, fakecompute.Config{}, func(cfg *Config) { cfg.Multizone = true })
	want := map[string]bool{}
	for i := range 1100 {
		zone := []string{"us-central1-a", "us-central1-b", "us-central1-c"}[i%3]
		name := fmt.Sprintf("node-%04d", i)
		if err := srv.AddInstance(fakecompute.InstanceSeed{Name: name, Zone: zone, NoExternalIP: true}); err != nil {
			t.Fatal(err)
		}
		want[zone+"/"+name] = true
	}
	got, err := c.ListInstances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListInstances() = %d instances, want %d", len(got), len(want))
	}
	for _, inst := range got {
		if !want[ZoneOfLink(inst.GetZone())+"/"+inst.GetName()] {
			t.Errorf("unexpected instance %s", inst.GetSelfLink())
		}
	}
	if pages := srv.Calls()["instances.aggregatedList"]["ok"]; pages != 3 {
		t.Errorf("aggregatedList calls = %d, want 3 pages of at most 500", pages)
	}
}
