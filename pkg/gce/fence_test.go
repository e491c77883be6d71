package gce

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// fakeClock is a settable clock for the fence.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLeaseFence(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var stepDowns []error
	f := &LeaseFence{Valid: 10 * time.Second, Now: clock.Now, StepDown: func(err error) { stepDowns = append(stepDowns, err) }}

	// Never acquired: no write.
	if err := f.Allow(); !IsLeaseLapsed(err) {
		t.Fatalf("before any renewal: Allow() = %v, want a lapsed-lease error", err)
	}
	if len(stepDowns) != 1 {
		t.Fatalf("step-downs before any renewal = %d, want 1", len(stepDowns))
	}
	stepDowns = nil
	f.stepped = false // the same fence, now as a replica that acquires the lease

	f.Renewed(clock.Now())
	clock.Step(9 * time.Second)
	if err := f.Allow(); err != nil {
		t.Fatalf("9s after a renewal: Allow() = %v, want nil", err)
	}
	// A renewal older than the one recorded does not move the deadline back.
	f.Renewed(clock.Now().Add(-30 * time.Second))
	clock.Step(999 * time.Millisecond)
	if err := f.Allow(); err != nil {
		t.Fatalf("9.999s after a renewal: Allow() = %v, want nil", err)
	}
	// Renewed again: valid for another 10s.
	f.Renewed(clock.Now())
	clock.Step(5 * time.Second)
	if err := f.Allow(); err != nil {
		t.Fatalf("5s after the second renewal: Allow() = %v, want nil", err)
	}
	if len(stepDowns) != 0 {
		t.Fatalf("step-downs while the lease is valid: %v", stepDowns)
	}

	// Frozen past the lease: every write refused, one step-down.
	clock.Step(5 * time.Second)
	err := f.Allow()
	if !IsLeaseLapsed(err) {
		t.Fatalf("10s after the last renewal: Allow() = %v, want a lapsed-lease error", err)
	}
	t.Logf("refusal: %v", err)
	if err := f.Allow(); !IsLeaseLapsed(err) {
		t.Fatalf("second write after expiry: Allow() = %v, want a lapsed-lease error", err)
	}
	if len(stepDowns) != 1 || !IsLeaseLapsed(stepDowns[0]) {
		t.Fatalf("step-downs after expiry = %v, want exactly one with the refusal", stepDowns)
	}
}

// TestLeaseFenceWallClock: a wall clock that ran on while the monotonic one
// did not (a suspended machine) closes the fence too.
func TestLeaseFenceWallClock(t *testing.T) {
	t.Parallel()
	renewed := time.Now() // carries a monotonic reading
	now := renewed.Add(time.Second)
	// Same monotonic reading +1s, but a wall clock 20s later.
	suspended := now.Add(19 * time.Second).Round(0)
	f := &LeaseFence{Valid: 10 * time.Second, Now: func() time.Time { return now }}
	f.Renewed(renewed)
	if err := f.Allow(); err != nil {
		t.Fatalf("1s after renewal: %v", err)
	}
	f.Now = func() time.Time { return suspended }
	if err := f.Allow(); !IsLeaseLapsed(err) {
		t.Fatalf("wall clock 20s after renewal: Allow() = %v, want a lapsed-lease error", err)
	}
}

// TestFencedWrites: a Cloud with a closed fence sends no mutation to the
// API at all (the fake counts none), while reads still work; every write
// method goes through the same fenced path.
func TestFencedWrites(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now()}
	stepped := 0
	fence := &LeaseFence{Valid: 10 * time.Second, Now: clock.Now, StepDown: func(error) { stepped++ }}
	fence.Renewed(clock.Now())
	c, srv := newTestCloud(t, fakecompute.Config{}, func(cfg *Config) { cfg.Fence = fence })
	ctx := context.Background()

	if err := c.InsertAddress(ctx, &computepb.Address{Name: ptr("before")}); err != nil {
		t.Fatalf("write while the lease is valid: %v", err)
	}
	clock.Step(11 * time.Second)
	before := srv.Calls()
	writes := map[string]func() error{
		"addresses.insert":        func() error { return c.InsertAddress(ctx, &computepb.Address{Name: ptr("after")}) },
		"addresses.delete":        func() error { return c.DeleteAddress(ctx, "before") },
		"firewalls.delete":        func() error { return c.DeleteFirewall(ctx, "fw") },
		"httpHealthChecks.delete": func() error { return c.DeleteHTTPHealthCheck(ctx, "hc") },
		"targetPools.delete":      func() error { return c.DeleteTargetPool(ctx, "tp") },
		"forwardingRules.delete":  func() error { return c.DeleteForwardingRule(ctx, "fr") },
		"routes.delete":           func() error { return c.DeleteRoute(ctx, "r") },
	}
	for name, w := range writes {
		if err := w(); !IsLeaseLapsed(err) {
			t.Errorf("%s after the lease lapsed: %v, want a lapsed-lease error", name, err)
		}
	}
	after := srv.Calls()
	for name := range writes {
		if got, was := sum(after[name]), sum(before[name]); got != was {
			t.Errorf("%s reached the API %d times after the lease lapsed", name, got-was)
		}
	}
	if stepped != 1 {
		t.Errorf("step-downs = %d, want 1", stepped)
	}
	// Once the lease lapsed nothing goes to Compute, reads neither: the
	// connections refuse to write (the process is stepping down).
	reads := sum(srv.Calls()["addresses.get"])
	if _, err := c.GetAddress(ctx, "before"); !IsLeaseLapsed(err) {
		t.Errorf("a read with the fence closed: %v, want a lapsed-lease error", err)
	}
	if n := sum(srv.Calls()["addresses.get"]); n != reads {
		t.Errorf("a read reached the API after the lease lapsed")
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// lapsingFence allows its first n checks and refuses the rest: the lease
// lapses between send's check and the transport's (a process frozen while
// the client library encodes the request).
type lapsingFence struct {
	mu      sync.Mutex
	allowed int
	checks  int
}

func (f *lapsingFence) Allow() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	if f.checks <= f.allowed {
		return nil
	}
	return fmt.Errorf("%w: test", ErrLeaseLapsed)
}

// The transport looks at the fence again right before a write request goes
// to a connection: a lease that lapsed after send's check stops the write
// there, without a retry, and reads still pass.
func TestFencedTransport(t *testing.T) {
	t.Parallel()
	fence := &lapsingFence{allowed: 1}
	c, srv := newTestCloud(t, fakecompute.Config{}, func(cfg *Config) { cfg.Fence = fence })
	ctx := context.Background()
	err := c.InsertAddress(ctx, &computepb.Address{Name: ptr("late")})
	if !IsLeaseLapsed(err) {
		t.Fatalf("write whose lease lapsed after send's check: %v, want a lapsed-lease error", err)
	}
	if n := sum(srv.Calls()["addresses.insert"]); n != 0 {
		t.Errorf("addresses.insert reached the API %d times", n)
	}
	if fence.checks != 2 {
		t.Errorf("fence checked %d times, want 2 (send, transport; no retry)", fence.checks)
	}
	if _, err := c.GetAddress(ctx, "late"); !IsNotFound(err) {
		t.Errorf("a read with the fence closed: %v, want not found", err)
	}
}
