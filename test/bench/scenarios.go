package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The model and its lower bounds.
//
// The fake finishes every operation L after it was accepted and admits
// writes through a token bucket of rate Q and burst B (= Q, one second's
// worth). K writes therefore cannot all be accepted before (K-B)/Q, and the
// last one finishes L later:
//
//	T >= max(0, K-B)/Q + L
//
// A chain of d writes that each need the previous one to have finished
// takes at least d*L whatever the rate. Reads and operation waits are free
// in the model (GCE's read quota is far larger than its write quota), and
// so is everything on the Kubernetes side; the ratio measured/bound is
// therefore what the manager and the upstream controllers add.
func writeBound(k int, c *config) float64 {
	return float64(max(0, k-c.burst()))/c.qps + c.latency.Seconds()
}

// lbChain is the longest chain of dependent writes of a new Service's load
// balancer: the address, the target pool and (when missing) the health
// check, which do not depend on each other, then the forwarding rule, which
// needs the address and the pool, beside the firewalls, which need the IP,
// and the health check's attachment to a pool made before it. The release
// of the address once the rule holds the IP is not on the way to the
// Service's status.
const lbChain = 2

// Per-Service writes of a new load balancer in a cluster whose shared node
// health check exists: address, firewall, target pool, forwarding rule;
// plus one addInstance per 1,000 nodes past the first 200 (the insert
// carries at most 200).
func lbWrites(nodes int) int {
	w := 4
	if nodes > 200 {
		w += (nodes - 200 + 999) / 1000
	}
	return w
}

// sharedLBWrites are written once per cluster: the shared node health check
// and its firewall.
const sharedLBWrites = 2

// scenario is one benchmark.
type scenario struct {
	name     string
	describe func(c *config) string
	run      func(ctx context.Context, c *config) (*result, error)
}

var scenarios = []*scenario{
	{
		name: "R1",
		describe: func(c *config) string {
			return fmt.Sprintf("%d nodes join at once until every route exists", c.n(1000, 10))
		},
		run: func(ctx context.Context, c *config) (*result, error) {
			return runRoutes(ctx, c, "R1", c.n(1000, 10), true)
		},
	},
	{
		name: "R2",
		describe: func(c *config) string {
			return fmt.Sprintf("%d nodes join at once until every route exists", c.n(5000, 50))
		},
		run: func(ctx context.Context, c *config) (*result, error) {
			return runRoutes(ctx, c, "R2", c.n(5000, 50), false)
		},
	},
	{
		name:     "L1",
		describe: func(c *config) string { return fmt.Sprintf("one Service until it has an IP (%d nodes)", lbNodes(c)) },
		run:      func(ctx context.Context, c *config) (*result, error) { return runServices(ctx, c, "L1", 1) },
	},
	{
		name: "L2",
		describe: func(c *config) string {
			return fmt.Sprintf("%d Services created at once until all have IPs (%d nodes)", c.n(200, 5), lbNodes(c))
		},
		run: func(ctx context.Context, c *config) (*result, error) { return runServices(ctx, c, "L2", c.n(200, 5)) },
	},
	{
		name: "I1",
		describe: func(c *config) string {
			return fmt.Sprintf("one internal Service until it has an IP (%d nodes)", lbNodes(c))
		},
		run: func(ctx context.Context, c *config) (*result, error) { return runInternalServices(ctx, c, "I1", 1) },
	},
	{
		name: "I2",
		describe: func(c *config) string {
			return fmt.Sprintf("%d internal Services created at once until all have IPs (%d nodes)", c.n(100, 10), lbNodes(c))
		},
		run: func(ctx context.Context, c *config) (*result, error) {
			return runInternalServices(ctx, c, "I2", c.n(100, 10))
		},
	},
	{
		name: "N1",
		describe: func(c *config) string {
			return fmt.Sprintf("with %d Services, one node joins until every target pool has it", c.n(200, 5))
		},
		run: runNodeJoin,
	},
	{
		name: "S1",
		describe: func(c *config) string {
			return fmt.Sprintf("%d nodes and %d Services left alone for %s: calls per minute", c.n(1000, 10), c.n(200, 5), steadyWindow(c))
		},
		run: runSteady,
	},
	{
		name: "M1",
		describe: func(c *config) string {
			return fmt.Sprintf("manager's peak RSS with %d nodes (routes) and %d Services", c.n(5000, 50), c.n(1000, 10))
		},
		run: runMemory,
	},
}

// lbNodes is the cluster size of the load balancer scenarios: enough that a
// pool is not trivial, small enough that one insert carries all members.
func lbNodes(c *config) int { return c.n(100, 3) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// timeoutFor gives a phase that the model says takes bound seconds room for
// a slow, shared machine.
func timeoutFor(bound float64) time.Duration {
	return time.Duration(bound*5+180) * time.Second
}

// finish fills what every scenario reports: calls and peak RSS.
func finish(w *world, r *result) error {
	r.setCalls(w.env.Fake.Calls())
	rss, err := w.peakRSS()
	if err != nil {
		return err
	}
	r.PeakRSSMiB = rss
	// What the resident set is made of now: the heap and stacks (anon)
	// and the pages of the 90 MB binary that were touched (file).
	for _, f := range []string{"RssAnon", "RssFile"} {
		if v, err := procStatusMiB(w.mgr.PID(), f); err == nil {
			r.extra(strings.ToLower(f[:1])+f[1:]+"MiB", v)
		}
	}
	if r.BoundSeconds > 0 {
		r.Ratio = r.Seconds / r.BoundSeconds
	}
	return nil
}

// runRoutes: n nodes join a running cluster at once; done when every node
// is NetworkUnavailable=False and every route exists. The bound is n route
// inserts at Q/s plus the last one's L.
func runRoutes(ctx context.Context, c *config, name string, n int, chart bool) (*result, error) {
	w, err := startWorld(ctx, c, name, worldOpts{routes: true, vms: n})
	if err != nil {
		return nil, err
	}
	defer w.stop()
	r := &result{Scenario: name, Nodes: n, BoundSeconds: writeBound(n, c),
		Bound: "max(0, N-B)/Q + L", Target: "<=1.05x, 1 write/route, 0 403"}

	w.resetCalls()
	s := startSampler(w, 250*time.Millisecond)
	prof := startProfile(w, name, seconds(r.BoundSeconds*1.3))
	t0 := time.Now()
	if err := w.createNodes(ctx, 0, n); err != nil {
		s.stop()
		return nil, err
	}
	created := time.Since(t0)
	err = w.poll(ctx, timeoutFor(r.BoundSeconds), 100*time.Millisecond, func() (bool, string) {
		avail, _ := w.nodeCounts()
		if avail < n {
			return false, fmt.Sprintf("%d of %d nodes NetworkUnavailable=False", avail, n)
		}
		routes := len(w.env.Fake.Dump().Routes)
		return routes >= n, fmt.Sprintf("%d of %d routes", routes, n)
	})
	r.Seconds = time.Since(t0).Seconds()
	points := s.stop()
	prof.stop()
	if err != nil {
		return nil, fmt.Errorf("%w (manager log: %s)", err, w.mgr.LogPath)
	}
	if err := finish(w, r); err != nil {
		return nil, err
	}
	inserts := r.writesBy()["routes.insert"]
	r.extra("writesPerRoute", float64(r.Writes)/float64(n))
	r.extra("routeInsertsPerRoute", float64(inserts)/float64(n))
	r.extra("nodeCreationSeconds", created.Seconds())
	if first := firstAt(points, func(p sample) bool { return p.available > 0 }); first >= 0 {
		r.extra("firstNodeAvailableSeconds", first)
	}
	r.Met = r.Ratio <= 1.05 && r.Writes == n && r.Forbidden403 == 0
	if chart {
		path := filepath.Join(c.out, "route-convergence.svg")
		if err := writeChart(path, name, n, c, points, r); err != nil {
			return nil, err
		}
		r.Chart = path
	}
	return r, nil
}

// runServices: count Services of type LoadBalancer are created at once in a
// cluster of lbNodes nodes; done when every one has an IP.
func runServices(ctx context.Context, c *config, name string, count int) (*result, error) {
	nodes := lbNodes(c)
	w, err := startWorld(ctx, c, name, worldOpts{vms: nodes})
	if err != nil {
		return nil, err
	}
	defer w.stop()
	if err := w.createNodes(ctx, 0, nodes); err != nil {
		return nil, err
	}
	if err := w.waitNodes(ctx, nodes, false, 3*time.Minute); err != nil {
		return nil, err
	}
	k := count*lbWrites(nodes) + sharedLBWrites
	r := &result{Scenario: name, Nodes: nodes, Services: count}
	r.BoundSeconds = max(writeBound(k, c), lbChain*c.latency.Seconds())
	r.Bound = fmt.Sprintf("max((K-B)/Q + L, %dL), K=%d writes", lbChain, k)
	if count == 1 {
		r.Target = "<=1.1x (2.2 L)"
	} else {
		r.Target = "<=1.5x"
	}

	w.resetCalls()
	prof := startProfile(w, name, seconds(r.BoundSeconds*1.3))
	t0 := time.Now()
	if err := w.createServices(ctx, 0, count); err != nil {
		return nil, err
	}
	err = w.waitServices(ctx, count, timeoutFor(r.BoundSeconds))
	r.Seconds = time.Since(t0).Seconds()
	prof.stop()
	if err != nil {
		return nil, fmt.Errorf("%w (manager log: %s)", err, w.mgr.LogPath)
	}
	if err := finish(w, r); err != nil {
		return nil, err
	}
	if count == 1 {
		inL := r.Seconds / c.latency.Seconds()
		r.extra("timeInL", inL)
		r.Met = r.Ratio <= 1.1
	} else {
		r.Met = r.Ratio <= 1.5
	}
	r.extra("writesPerService", float64(r.Writes)/float64(count))
	return r, nil
}

// runNodeJoin: with count Services converged, one node joins; done when
// every target pool holds its VM. The bound is one addInstance per pool.
func runNodeJoin(ctx context.Context, c *config) (*result, error) {
	nodes, count := lbNodes(c), c.n(200, 5)
	// The joining node's VM exists before its kubelet registers.
	w, err := startWorld(ctx, c, "N1", worldOpts{vms: nodes + 1})
	if err != nil {
		return nil, err
	}
	defer w.stop()
	if err := w.createNodes(ctx, 0, nodes); err != nil {
		return nil, err
	}
	if err := w.waitNodes(ctx, nodes, false, 3*time.Minute); err != nil {
		return nil, err
	}
	if err := w.createServices(ctx, 0, count); err != nil {
		return nil, err
	}
	if err := w.waitServices(ctx, count, timeoutFor(writeBound(count*lbWrites(nodes), c))); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	r := &result{Scenario: "N1", Nodes: nodes + 1, Services: count, BoundSeconds: writeBound(count, c),
		Bound: "max(0, S-B)/Q + L", Target: "<=2x, membership writes only"}

	w.resetCalls()
	url := vmURL(nodes)
	prof := startProfile(w, "N1", seconds(r.BoundSeconds*1.3))
	t0 := time.Now()
	if err := w.createNodes(ctx, nodes, nodes+1); err != nil {
		return nil, err
	}
	// The fake shows a change as soon as it accepts it; the change is done
	// when its operation is, which the manager's wait on it tells.
	// A fine step: the first check is a cheap count, and a coarse step
	// would be a tenth of the bound.
	err = w.poll(ctx, timeoutFor(r.BoundSeconds), 20*time.Millisecond, func() (bool, string) {
		if waited := w.env.Fake.Calls()["regionOperations.wait"]["ok"]; waited < count {
			return false, fmt.Sprintf("%d of %d membership operations waited for", waited, count)
		}
		with := 0
		for _, tp := range w.env.Fake.Dump().TargetPools {
			if slices.Contains(tp.Instances, url) {
				with++
			}
		}
		return with >= count, fmt.Sprintf("%d of %d target pools hold the new VM", with, count)
	})
	r.Seconds = time.Since(t0).Seconds()
	prof.stop()
	if err != nil {
		return nil, fmt.Errorf("%w (manager log: %s)", err, w.mgr.LogPath)
	}
	if err := finish(w, r); err != nil {
		return nil, err
	}
	var other []string
	for m, n := range r.writesBy() {
		if m != "targetPools.addInstance" {
			other = append(other, fmt.Sprintf("%s=%d", m, n))
		}
	}
	if len(other) > 0 {
		slices.Sort(other)
		r.note("writes other than target pool membership: %s", strings.Join(other, ", "))
	}
	r.Met = r.Ratio <= 2 && len(other) == 0
	return r, nil
}

// steadyWindow is how long S1 watches a converged cluster: several route
// reconcile periods (the informers' resync, --min-resync-period 1m).
func steadyWindow(c *config) time.Duration {
	if c.quick {
		return 30 * time.Second
	}
	return max(30*time.Second, time.Duration(float64(3*time.Minute)*c.scale))
}

// runSteady: a converged cluster of nodes with routes and Services is left
// alone; it should write nothing and read little.
func runSteady(ctx context.Context, c *config) (*result, error) {
	nodes, count := c.n(1000, 10), c.n(200, 5)
	window := steadyWindow(c)
	w, err := startWorld(ctx, c, "S1", worldOpts{routes: true, vms: nodes})
	if err != nil {
		return nil, err
	}
	defer w.stop()
	if err := w.createNodes(ctx, 0, nodes); err != nil {
		return nil, err
	}
	if err := w.waitNodes(ctx, nodes, true, timeoutFor(writeBound(nodes, c))); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	if err := w.createServices(ctx, 0, count); err != nil {
		return nil, err
	}
	if err := w.waitServices(ctx, count, timeoutFor(writeBound(count*lbWrites(nodes), c))); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	if err := sleep(ctx, 5*time.Second); err != nil {
		return nil, err
	}

	w.resetCalls()
	if err := sleep(ctx, window); err != nil {
		return nil, err
	}
	r := &result{Scenario: "S1", Nodes: nodes, Services: count, Seconds: window.Seconds(), Target: "0 writes, reads <= allowance"}
	if err := finish(w, r); err != nil {
		return nil, err
	}
	// The allowance: one paged route list per --route-reconciliation-period
	// (10s by default) by gce-ccm's route controller, and one paged
	// aggregated instance list per --instance-cache-ttl (15s) while the
	// node controller's status updates (every --node-status-update-frequency,
	// 5m) look nodes up; Ready nodes need nothing from the node lifecycle
	// controller and unchanged nodes nothing from the service controller.
	pages := float64((nodes + 499) / 500)
	minutes := window.Minutes()
	allowance := pages*(math.Floor(window.Seconds()/10)+1) + pages*(math.Floor(minutes/5)+1)
	r.Ratio = float64(r.Reads) / allowance
	r.extra("readsPerMinute", float64(r.Reads)/minutes)
	r.extra("writesPerMinute", float64(r.Writes)/minutes)
	r.extra("waitsPerMinute", float64(r.Waits)/minutes)
	r.extra("readAllowance", allowance)
	r.Met = r.Writes == 0 && float64(r.Reads) <= allowance
	return r, nil
}

// memoryQPSFactor speeds M1's setup up: M1 measures memory, not time, so
// the fake and the manager write at ten times Q.
const memoryQPSFactor = 10

// runMemory: the manager's peak RSS once it has converged a cluster of
// thousands of nodes with routes and a thousand Services.
func runMemory(ctx context.Context, c *config) (*result, error) {
	nodes, count := c.n(5000, 50), c.n(1000, 10)
	qps := c.qps * memoryQPSFactor
	w, err := startWorld(ctx, c, "M1", worldOpts{routes: true, vms: nodes, qps: qps})
	if err != nil {
		return nil, err
	}
	defer w.stop()
	r := &result{Scenario: "M1", Nodes: nodes, Services: count, Target: "peak RSS < 300 MiB"}
	w.resetCalls()
	prof := startProfile(w, "M1", 2*time.Minute)
	t0 := time.Now()
	if err := w.createNodes(ctx, 0, nodes); err != nil {
		return nil, err
	}
	mc := *c
	mc.qps = qps
	if err := w.waitNodes(ctx, nodes, true, timeoutFor(writeBound(nodes, &mc))); err != nil {
		return nil, fmt.Errorf("nodes: %w (manager log: %s)", err, w.mgr.LogPath)
	}
	if err := w.createServices(ctx, 0, count); err != nil {
		return nil, err
	}
	if err := w.waitServices(ctx, count, timeoutFor(writeBound(count*lbWrites(nodes), &mc))); err != nil {
		return nil, fmt.Errorf("services: %w (manager log: %s)", err, w.mgr.LogPath)
	}
	r.Seconds = time.Since(t0).Seconds()
	prof.stop()
	if err := finish(w, r); err != nil {
		return nil, err
	}
	if rss, err := procStatusMiB(w.mgr.PID(), "VmRSS"); err == nil {
		r.extra("rssAtEndMiB", rss)
	}
	r.note("writes at %g/s (%dx Q): M1 measures memory, not time", qps, memoryQPSFactor)
	r.Met = r.PeakRSSMiB < 300
	return r, nil
}
