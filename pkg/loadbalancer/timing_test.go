package loadbalancer_test

import (
	"testing"
	"time"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestOperationsRunConcurrently: independent resources are written at the
// same time. With every operation lasting a second, the fake is sampled for
// how many operations are in flight at once: a create starts the address,
// the health check, its firewall and the target pool together, and a
// delete removes independent resources together. (How long they take is
// the benchmark's business, not a test's.)
func TestOperationsRunConcurrently(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *envConfig) { c.fake = fakecompute.Config{Latency: time.Second} })
	svc := service("web")

	peak := func(run func() error) int {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- run() }()
		most := 0
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				return most
			case <-time.After(20 * time.Millisecond):
				most = max(most, e.fake.RunningOperations())
			}
		}
	}
	created := peak(func() error {
		_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes)
		return err
	})
	t.Logf("peak in flight: create %d", created)
	if created < 4 {
		t.Errorf("at most %d operations in flight during create, want the address, health check, its firewall and the target pool (4) at once", created)
	}
	loadbalancer.WaitForReleases(e.lb)
	n := 0
	for _, c := range e.writes() {
		n += c
	}
	if n != 8 {
		t.Errorf("writes = %v, want 6 inserts, the health check's attachment to the pool made beside it, and the release of the address", e.writes())
	}
	deleted := peak(func() error { return e.lb.EnsureLoadBalancerDeleted(e.ctx, cluster, svc) })
	t.Logf("peak in flight: delete %d", deleted)
	if deleted < 2 {
		t.Errorf("at most %d operations in flight during delete, want independent deletes (2 or more) at once", deleted)
	}
}
