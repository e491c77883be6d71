package loadbalancer_test

import (
	"testing"
	"time"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestOperationsRunConcurrently: with every operation taking L, a new load
// balancer takes the length of its longest dependency chain (health check,
// pool, rule: 3L), not the sum of its six operations; its deletion takes
// rule, pool, health check, then the shared firewall (4L).
func TestOperationsRunConcurrently(t *testing.T) {
	t.Parallel()
	const L = 500 * time.Millisecond
	e := setup(t, func(c *envConfig) { c.fake = fakecompute.Config{Latency: L} })
	svc := service("web")
	start := time.Now()
	e.ensure(svc)
	if d := time.Since(start); d < 3*L || d > 4*L {
		t.Errorf("create took %v, want about 3 operations (%v), not 6", d, 3*L)
	}
	n := 0
	for _, c := range e.writes() {
		n += c
	}
	if n != 6 {
		t.Errorf("writes = %v, want 6 inserts", e.writes())
	}
	start = time.Now()
	e.delete(svc)
	if d := time.Since(start); d < 4*L || d > 5*L {
		t.Errorf("delete took %v, want about 4 operations (%v), not 6", d, 4*L)
	}
}
