package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// The route scenarios beyond R1/R2 and the comparison with the upstream
// route controller.
//
// gce-ccm runs its own route controller (pkg/routes.Controller); the
// manager's --route-controller=upstream runs k8s.io/cloud-provider's
// instead. With -compare-upstream (the default) every route scenario
// selected is run a second time against the upstream controller, in the
// same run, as the row "<name>/upstream".

var compareUpstream = flag.Bool("compare-upstream", true,
	"run each selected route scenario (R1-R4) a second time with the manager's --route-controller=upstream, as row <name>/upstream")

// joiners is how many nodes join R3's cluster, one a second.
const joiners = 10

func init() {
	i := slices.IndexFunc(scenarios, func(s *scenario) bool { return s.name == "R2" })
	scenarios = slices.Insert(scenarios, i+1,
		&scenario{
			name: "R3",
			describe: func(c *config) string {
				return fmt.Sprintf("in a cluster of %d routed nodes, %d nodes join one a second: creation to route and NetworkUnavailable=False",
					c.n(1000, 10), joiners)
			},
			run: runRouteJoin,
		},
		&scenario{
			name: "R4",
			describe: func(c *config) string {
				return fmt.Sprintf("%d of %d routed nodes deleted at once until their routes are gone", c.n(300, 3), c.n(1000, 10))
			},
			run: runRouteDelete,
		})
}

// upstreamRun is how a route scenario runs as its upstream row (R1's chart
// is drawn for gce-ccm's controller only).
func upstreamRun(name string) func(ctx context.Context, c *config) (*result, error) {
	switch name {
	case "R1":
		return func(ctx context.Context, c *config) (*result, error) {
			return runRoutes(ctx, c, "R1", c.n(1000, 10), false)
		}
	case "R2", "R3", "R4":
		return findScenario(name).run
	}
	return nil
}

// withUpstreamRows adds, after each selected route scenario, its run
// against the upstream route controller.
func withUpstreamRows(selected []*scenario) []*scenario {
	if !*compareUpstream {
		return selected
	}
	var out []*scenario
	for _, s := range selected {
		out = append(out, s)
		run := upstreamRun(s.name)
		if run == nil {
			continue
		}
		name, describe := s.name, s.describe
		out = append(out, &scenario{
			name:     name + "/upstream",
			describe: func(c *config) string { return describe(c) + ", --route-controller=upstream" },
			run: func(ctx context.Context, c *config) (*result, error) {
				uc := *c
				uc.managerArgs = append(slices.Clone(c.managerArgs), "--route-controller=upstream")
				r, err := run(ctx, &uc)
				if r != nil {
					r.Scenario = name + "/upstream"
				}
				return r, err
			},
		})
	}
	return out
}

// setupRouted starts a world with vms VMs and n routed nodes, converged.
func setupRouted(ctx context.Context, c *config, name string, n, vms int) (*world, error) {
	w, err := startWorld(ctx, c, name, worldOpts{routes: true, vms: vms})
	if err != nil {
		return nil, err
	}
	if err := w.createNodes(ctx, 0, n); err != nil {
		w.stop()
		return nil, err
	}
	if err := w.waitNodes(ctx, n, true, timeoutFor(writeBound(n, c))); err != nil {
		w.stop()
		return nil, fmt.Errorf("setup: %w (manager log: %s)", err, w.mgr.LogPath)
	}
	return w, nil
}

// runRouteJoin (R3): with n nodes routed, joiners nodes join one a second;
// each one's time from its creation to NetworkUnavailable=False, which
// either controller sets only once the node's route operation is done, so
// the route exists by then (checked at the end). The bound is one insert's
// L; the target holds the median and the maximum to 1.5 L.
func runRouteJoin(ctx context.Context, c *config) (*result, error) {
	n := c.n(1000, 10)
	w, err := setupRouted(ctx, c, "R3", n, n+joiners)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	r := &result{Scenario: "R3", Nodes: n + joiners, BoundSeconds: c.latency.Seconds(), Bound: "L (one insert)",
		Target: "median and max <=1.5 L, 1 write/joiner"}

	// Each joiner's NetworkUnavailable=False, seen as it happens.
	var mu sync.Mutex
	created, ready := map[string]time.Time{}, map[string]time.Time{}
	infCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := informers.NewSharedInformerFactory(w.admin, 0)
	inf := f.Core().V1().Nodes().Informer()
	see := func(obj any) {
		node, ok := obj.(*corev1.Node)
		if !ok {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if _, joining := created[node.Name]; !joining {
			return
		}
		if _, done := ready[node.Name]; done {
			return
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeNetworkUnavailable && cond.Status == corev1.ConditionFalse {
				ready[node.Name] = now
			}
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: see, UpdateFunc: func(_, o any) { see(o) }}); err != nil {
		return nil, err
	}
	f.Start(infCtx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("R3 informer did not sync")
	}

	w.resetCalls()
	prof := startProfile(w, "R3", seconds(joiners+3*c.latency.Seconds()))
	t0 := time.Now()
	for i := range joiners {
		if err := sleep(ctx, time.Until(t0.Add(time.Duration(i)*time.Second))); err != nil {
			return nil, err
		}
		mu.Lock()
		created[vmName(n+i)] = time.Now()
		mu.Unlock()
		if err := w.createNodes(ctx, n+i, n+i+1); err != nil {
			return nil, err
		}
	}
	err = w.poll(ctx, timeoutFor(float64(joiners)+30), 50*time.Millisecond, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(ready) == joiners, fmt.Sprintf("%d of %d joiners NetworkUnavailable=False", len(ready), joiners)
	})
	prof.stop()
	if err != nil {
		return nil, fmt.Errorf("%w (manager log: %s)", err, w.mgr.LogPath)
	}
	routes := map[string]bool{}
	for _, rt := range w.env.Fake.Dump().Routes {
		routes[rt.DestRange] = true
	}
	var times []float64
	mu.Lock()
	for i := range joiners {
		name := vmName(n + i)
		times = append(times, ready[name].Sub(created[name]).Seconds())
		if !routes[podCIDR(n+i)] {
			r.note("joiner %s is NetworkUnavailable=False without a route for %s", name, podCIDR(n+i))
		}
	}
	mu.Unlock()
	slices.Sort(times)
	median := (times[(joiners-1)/2] + times[joiners/2]) / 2
	r.Seconds = times[len(times)-1]
	if err := finish(w, r); err != nil {
		return nil, err
	}
	L := c.latency.Seconds()
	r.extra("medianSeconds", median)
	r.extra("maxSeconds", times[len(times)-1])
	r.extra("minSeconds", times[0])
	r.extra("medianInL", median/L)
	r.extra("maxInL", times[len(times)-1]/L)
	inserts := r.writesBy()["routes.insert"]
	r.extra("routeInsertsPerJoiner", float64(inserts)/joiners)
	r.Met = median <= 1.5*L && times[len(times)-1] <= 1.5*L && r.Writes == joiners && len(r.Notes) == 0
	return r, nil
}

// runRouteDelete (R4): with n nodes routed, k are deleted at once; done
// when none of their routes is left. The bound is k deletes at Q/s plus the
// last one's L, as for inserts.
func runRouteDelete(ctx context.Context, c *config) (*result, error) {
	n, k := c.n(1000, 10), c.n(300, 3)
	w, err := setupRouted(ctx, c, "R4", n, n)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	r := &result{Scenario: "R4", Nodes: n, BoundSeconds: writeBound(k, c), Bound: fmt.Sprintf("max(0, K-B)/Q + L, K=%d deletes", k),
		Target: "<=1.1x, 1 write/route, 0 403"}
	gone := map[string]bool{}
	for i := range k {
		gone[podCIDR(i)] = true
	}

	w.resetCalls()
	prof := startProfile(w, "R4", seconds(r.BoundSeconds*1.3))
	t0 := time.Now()
	if err := parallel(ctx, k, createWorkers, func(ctx context.Context, i int) error {
		if err := w.admin.CoreV1().Nodes().Delete(ctx, vmName(i), metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("delete node %s: %w", vmName(i), err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	deleted := time.Since(t0)
	err = w.poll(ctx, timeoutFor(r.BoundSeconds), 100*time.Millisecond, func() (bool, string) {
		left, total := 0, 0
		for _, rt := range w.env.Fake.Dump().Routes {
			total++
			if gone[rt.DestRange] {
				left++
			}
		}
		if left > 0 {
			return false, fmt.Sprintf("%d of %d routes of deleted nodes left (%d routes)", left, k, total)
		}
		// The fake shows a delete as soon as it accepts it; it is done
		// when its operation is, which the manager's wait on it tells.
		waited := w.env.Fake.Calls()["globalOperations.wait"]["ok"]
		return waited >= k, fmt.Sprintf("%d of %d delete operations waited for", waited, k)
	})
	r.Seconds = time.Since(t0).Seconds()
	prof.stop()
	if err != nil {
		return nil, fmt.Errorf("%w (manager log: %s)", err, w.mgr.LogPath)
	}
	if err := finish(w, r); err != nil {
		return nil, err
	}
	if left := len(w.env.Fake.Dump().Routes); left != n-k {
		r.note("%d routes left, want the other %d nodes' %d", left, n-k, n-k)
	}
	r.extra("writesPerRoute", float64(r.Writes)/float64(k))
	r.extra("nodeDeletionSeconds", deleted.Seconds())
	r.Met = r.Ratio <= 1.1 && r.Writes == k && r.Forbidden403 == 0 && len(r.Notes) == 0
	return r, nil
}
