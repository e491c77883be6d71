package loadbalancer_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	compute "google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/instances"
	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// The tests here check the order of a sync's writes from a log of when each
// call began and returned (a logical clock, not time), and their
// concurrency with gates: a gate holds each of its calls until all of them
// have begun, which only calls made at the same time can do. A gate that
// is not complete after a generous deadline lets its calls go and reports
// it, so a serialised sync fails the test instead of hanging it.

// callLog wraps the Compute API and records the calls a Balancer makes.
type callLog struct {
	loadbalancer.Compute
	mu    sync.Mutex
	clock int
	calls []*loggedCall
	gates []*gate
	held  map[string]chan struct{}
}

// loggedCall is one call: "method name", and the clock when it began and
// when it returned (0 while it runs).
type loggedCall struct {
	key        string
	start, end int
}

type gate struct {
	keys    []string
	started map[string]bool
	open    chan struct{}
	broken  bool
}

func newCallLog(api loadbalancer.Compute) *callLog {
	return &callLog{Compute: api, held: map[string]chan struct{}{}}
}

// addGate makes the calls with these keys wait for each other.
func (l *callLog) addGate(keys ...string) *gate {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := &gate{keys: keys, started: map[string]bool{}, open: make(chan struct{})}
	l.gates = append(l.gates, g)
	return g
}

// hold makes the call with key wait until the returned func is called.
func (l *callLog) hold(key string) (release func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	l.held[key] = ch
	return sync.OnceFunc(func() { close(ch) })
}

func (l *callLog) record(key string, fn func() error) error {
	l.mu.Lock()
	l.clock++
	c := &loggedCall{key: key, start: l.clock}
	l.calls = append(l.calls, c)
	var wait []*gate
	for _, g := range l.gates {
		if slices.Contains(g.keys, key) && !g.started[key] {
			g.started[key] = true
			if len(g.started) == len(g.keys) {
				close(g.open)
			}
			wait = append(wait, g)
		}
	}
	held := l.held[key]
	l.mu.Unlock()
	for _, g := range wait {
		select {
		case <-g.open:
		case <-time.After(30 * time.Second):
			l.mu.Lock()
			g.broken = true
			l.mu.Unlock()
		}
	}
	if held != nil {
		<-held
	}
	err := fn()
	l.mu.Lock()
	l.clock++
	c.end = l.clock
	l.mu.Unlock()
	return err
}

// call returns the first call with key; the test fails without one.
func (l *callLog) call(t *testing.T, key string) loggedCall {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.calls {
		if c.key == key {
			return *c
		}
	}
	t.Fatalf("no call %s; calls: %v", key, l.keysLocked())
	return loggedCall{}
}

// waitCall waits until a call with key has begun.
func (l *callLog) waitCall(t *testing.T, key string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(l.keys(), key) {
		if time.Now().After(deadline) {
			t.Fatalf("no call %s; calls: %v", key, l.keys())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *callLog) keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keysLocked()
}

func (l *callLog) keysLocked() []string {
	var out []string
	for _, c := range l.calls {
		out = append(out, c.key)
	}
	return out
}

// reset forgets the calls and gates so far.
func (l *callLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls, l.gates = nil, nil
}

func (l *callLog) InsertAddress(ctx context.Context, a *computepb.Address) error {
	return l.record("addresses.insert "+a.GetName(), func() error { return l.Compute.InsertAddress(ctx, a) })
}

func (l *callLog) DeleteAddress(ctx context.Context, name string) error {
	return l.record("addresses.delete "+name, func() error { return l.Compute.DeleteAddress(ctx, name) })
}

func (l *callLog) ListForwardingRules(ctx context.Context, filter string) ([]*computepb.ForwardingRule, error) {
	var out []*computepb.ForwardingRule
	err := l.record("forwardingRules.list", func() (err error) {
		out, err = l.Compute.ListForwardingRules(ctx, filter)
		return err
	})
	return out, err
}

func (l *callLog) InsertForwardingRule(ctx context.Context, fr *computepb.ForwardingRule) error {
	return l.record("forwardingRules.insert "+fr.GetName(), func() error { return l.Compute.InsertForwardingRule(ctx, fr) })
}

func (l *callLog) DeleteForwardingRule(ctx context.Context, name string) error {
	return l.record("forwardingRules.delete "+name, func() error { return l.Compute.DeleteForwardingRule(ctx, name) })
}

func (l *callLog) SetForwardingRuleTarget(ctx context.Context, name, target string) error {
	return l.record("forwardingRules.setTarget "+name, func() error { return l.Compute.SetForwardingRuleTarget(ctx, name, target) })
}

func (l *callLog) InsertTargetPool(ctx context.Context, tp *computepb.TargetPool) error {
	key := "targetPools.insert " + tp.GetName()
	if len(tp.GetHealthChecks()) > 0 {
		key += " with health check"
	}
	return l.record(key, func() error { return l.Compute.InsertTargetPool(ctx, tp) })
}

func (l *callLog) AddHealthCheckToTargetPool(ctx context.Context, name, hc string) error {
	return l.record("targetPools.addHealthCheck "+name, func() error { return l.Compute.AddHealthCheckToTargetPool(ctx, name, hc) })
}

func (l *callLog) InsertFirewall(ctx context.Context, fw *computepb.Firewall) error {
	return l.record("firewalls.insert "+fw.GetName(), func() error { return l.Compute.InsertFirewall(ctx, fw) })
}

func (l *callLog) InsertHTTPHealthCheck(ctx context.Context, hc *gce.HTTPHealthCheck) error {
	return l.record("httpHealthChecks.insert "+hc.Name, func() error { return l.Compute.InsertHTTPHealthCheck(ctx, hc) })
}

// withCallLog gives the env a Balancer that talks to the fake through a
// call log.
func withCallLog(e *env) *callLog {
	l := newCallLog(e.cloud)
	cfg := e.cloud.Config()
	e.lb = loadbalancer.New(l, loadbalancer.Options{Project: project, Region: region, NetworkURL: netURL, NodeTags: []string{nodeTag},
		ClusterID: loadbalancer.StaticClusterID(clusterID),
		Instances: instances.New(e.cloud, instances.Options{Project: project, Zones: cfg.Zones, CacheTTL: time.Minute, IsNotFound: gce.IsNotFound})})
	return l
}

// before reports that a returned before b began.
func before(a, b loggedCall) bool { return a.end != 0 && a.end < b.start }

// TestNewLoadBalancerInTwoSteps: a new load balancer is built in two rounds
// of operations. The address, the target pool and the missing health check
// (and the shared check's firewall) are written at once; the forwarding
// rule waits for the address and the pool, the firewalls that name the IP
// for the address, and the health check is attached to the pool made
// before it beside the rule. The release of the address follows the rule
// and does not hold back EnsureLoadBalancer.
func TestNewLoadBalancerInTwoSteps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		local bool
	}{
		{name: "Cluster traffic policy, shared health check missing"},
		{name: "Local traffic policy", local: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(c *envConfig) { c.fake = fakecompute.Config{Latency: 50 * time.Millisecond} })
			l := withCallLog(e)
			svc := service("web", func(s *v1.Service) {
				if tc.local {
					s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 30123
				}
			})
			lb := lbName(svc)
			hc, hcFW := nodesHC, nodesHFW
			if tc.local {
				hc, hcFW = lb, "k8s-"+lb+"-http-hc"
			}
			addr, pool, hcInsert := "addresses.insert "+lb, "targetPools.insert "+lb, "httpHealthChecks.insert "+hc
			frInsert, fw, attach := "forwardingRules.insert "+lb, "firewalls.insert k8s-fw-"+lb, "targetPools.addHealthCheck "+lb
			release := "addresses.delete " + lb
			first := []string{addr, pool, hcInsert}
			second := []string{frInsert, fw, attach}
			if tc.local {
				second = append(second, "firewalls.insert "+hcFW) // it names the IP
			} else {
				first = append(first, "firewalls.insert "+hcFW)
			}
			g1, g2 := l.addGate(first...), l.addGate(second...)
			letGo := l.hold(release)
			defer letGo()

			st, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes) // returns while the release is held
			if err != nil {
				t.Fatal(err)
			}
			ip := st.Ingress[0].IP
			letGo()
			loadbalancer.WaitForReleases(e.lb)

			if g1.broken || g2.broken {
				t.Fatalf("calls not made at once: first round %v complete %v, second round %v complete %v; calls: %v",
					first, !g1.broken, second, !g2.broken, l.keys())
			}
			for _, c := range []struct{ a, b string }{
				{addr, frInsert}, {pool, frInsert}, {addr, fw}, {hcInsert, attach}, {pool, attach}, {frInsert, release},
			} {
				if a, b := l.call(t, c.a), l.call(t, c.b); !before(a, b) {
					t.Errorf("%s began at %d, before %s returned (%d)", c.b, b.start, c.a, a.end)
				}
			}
			d := e.fake.Dump()
			if len(d.Addresses) != 0 {
				t.Errorf("addresses = %v, want the reservation released", names(d.Addresses))
			}
			if fr := rule(d, lb); fr == nil || fr.IPAddress != ip {
				t.Errorf("forwarding rule = %+v, want one on %s", fr, ip)
			}
			if tp := targetPool(d, lb); tp == nil || len(tp.HealthChecks) != 1 || !strings.HasSuffix(tp.HealthChecks[0], "/"+hc) {
				t.Errorf("target pool = %+v, want it to have health check %s", tp, hc)
			}
			if n, want := total(e.writes()), 8; n != want {
				t.Errorf("writes = %v (%d), want %d: the inserts, the health check's attachment and the release", e.writes(), n, want)
			}
		})
	}
}

// TestNewPoolNamesExistingHealthCheck: when the health check exists, the
// pool is created with it (no attachment), still beside the address.
func TestNewPoolNamesExistingHealthCheck(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := withCallLog(e)
	e.ensure(service("first"))
	l.reset()
	e.fake.ResetCalls()

	svc := service("second")
	lb := lbName(svc)
	addr, pool := "addresses.insert "+lb, "targetPools.insert "+lb+" with health check"
	g := l.addGate(addr, pool)
	e.ensure(svc)
	if g.broken {
		t.Fatalf("address and pool not inserted at once; calls: %v", l.keys())
	}
	w := e.writes()
	if w["targetPools.addHealthCheck"] != 0 || w["httpHealthChecks.insert"] != 0 {
		t.Errorf("writes = %v, want the pool made with the existing health check", w)
	}
	if n := total(w); n != 5 {
		t.Errorf("writes = %v, want 5: address, pool, firewall, rule and the release", w)
	}
}

// TestNextSyncWaitsForRelease: a change right after a load balancer was made
// begins only once the release of its address has ended, because its plan
// counts on what exists; the IP survives the recreation of the rule.
func TestNextSyncWaitsForRelease(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := withCallLog(e)
	svc := service("web")
	lb := lbName(svc)
	letGo := l.hold("addresses.delete " + lb)
	defer letGo()
	st, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes) // returns while the release is held
	if err != nil {
		t.Fatal(err)
	}
	ip := st.Ingress[0].IP
	l.waitCall(t, "addresses.delete "+lb)

	l.reset()
	svc.Spec.Ports[0].Port = 8080 // the rule must be recreated on the IP
	done := make(chan string, 1)
	go func() {
		st, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes)
		if err != nil {
			t.Errorf("EnsureLoadBalancer after the port change: %v", err)
			done <- ""
			return
		}
		done <- st.Ingress[0].IP
	}()
	// Give the second sync time to reach its first call if it would make
	// one now; a wrong order is then caught below. (A slow machine can only
	// make this test miss the fault, never fail wrongly.)
	time.Sleep(200 * time.Millisecond)
	if calls := l.keys(); len(calls) != 0 {
		t.Errorf("the second sync called %v while the release of its address was running", calls)
	}
	letGo()
	if got := <-done; got != ip {
		t.Errorf("IP after the port change = %q, want %s", got, ip)
	}
	loadbalancer.WaitForReleases(e.lb)
	if d := e.fake.Dump(); len(d.Addresses) != 0 || rule(d, lb) == nil || rule(d, lb).PortRange != "8080-8080" {
		t.Errorf("addresses %v, rule %+v: want the rule on 8080 and no reservation", names(d.Addresses), rule(d, lb))
	}
}

// TestReleaseLeftUndoneIsFinished: a release that fails every try (as if
// the manager had stopped before it) leaves the reservation, the load
// balancer working and its IP in status; the next sync releases it and
// writes nothing else.
func TestReleaseLeftUndoneIsFinished(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web")
	lb := lbName(svc)
	if err := e.fake.InjectFault(fakecompute.Fault{Method: "addresses.delete", Count: 100, Code: 403, Reason: "forbidden"}); err != nil {
		t.Fatal(err)
	}
	ip := e.ensure(svc)
	if d := e.fake.Dump(); len(d.Addresses) != 1 || d.Addresses[0].Name != lb || d.Addresses[0].Address != ip || rule(d, lb) == nil {
		t.Fatalf("after a release that failed: addresses %+v, rule %+v; want the reservation of %s and the rule", d.Addresses, rule(d, lb), ip)
	}
	e.fake.ClearFaults()
	e.fake.ResetCalls()
	if got := e.ensure(svc); got != ip {
		t.Errorf("IP = %s, want %s", got, ip)
	}
	if w := e.writes(); total(w) != 1 || w["addresses.delete"] != 1 {
		t.Errorf("writes of the next sync = %v, want only the release", w)
	}
	if d := e.fake.Dump(); len(d.Addresses) != 0 {
		t.Errorf("addresses = %v, want the reservation released", names(d.Addresses))
	}
}

func total(w map[string]int) int {
	n := 0
	for _, c := range w {
		n += c
	}
	return n
}

func targetPool(d *fakecompute.Dump, name string) *compute.TargetPool {
	for _, p := range d.TargetPools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// TestSharedCheckInFlight: a Service that finds another one inserting the
// missing shared health check waits for it and makes its pool with it,
// instead of attaching it later: Services synced together are bounded by
// the write rate, which the extra write would cost. Only the first pays the
// attachment.
func TestSharedCheckInFlight(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := withCallLog(e)
	first, second := service("first"), service("second")
	letGo := l.hold("httpHealthChecks.insert " + nodesHC)
	defer letGo()

	results := make(chan error, 2)
	ensure := func(svc *v1.Service) {
		_, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes)
		results <- err
	}
	go ensure(first)
	l.waitCall(t, "targetPools.insert "+lbName(first)) // made without the check, which is held
	go ensure(second)
	l.waitCall(t, "addresses.insert "+lbName(second)) // its plan is made
	letGo()
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	loadbalancer.WaitForReleases(e.lb)

	hc, pool := l.call(t, "httpHealthChecks.insert "+nodesHC), l.call(t, "targetPools.insert "+lbName(second)+" with health check")
	if !before(hc, pool) {
		t.Errorf("second pool inserted at %d, before the check was made (%d)", pool.start, hc.end)
	}
	if w := e.writes(); w["targetPools.addHealthCheck"] != 1 || w["httpHealthChecks.insert"] != 1 {
		t.Errorf("writes = %v, want one health check insert and one attachment (the first Service's)", w)
	}
	d := e.fake.Dump()
	for _, svc := range []*v1.Service{first, second} {
		if tp := targetPool(d, lbName(svc)); tp == nil || len(tp.HealthChecks) != 1 || !strings.HasSuffix(tp.HealthChecks[0], "/"+nodesHC) {
			t.Errorf("target pool of %s = %+v, want it to have %s", svc.Name, tp, nodesHC)
		}
	}
}

// TestPoolOfLiveRuleHasCheckFirst: a working load balancer whose health
// check changes (traffic policy Cluster to Local) gets a new pool, and its
// rule moves to it only once the pool has the new check, since traffic
// reaches it at once: the pool is made after the check, with it, and never
// without it.
func TestPoolOfLiveRuleHasCheckFirst(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := withCallLog(e)
	svc := service("web")
	lb := lbName(svc)
	ip := e.ensure(svc)
	l.reset()
	e.fake.ResetCalls()

	svc.Spec.ExternalTrafficPolicy, svc.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 30123
	if got := e.ensure(svc); got != ip {
		t.Errorf("IP = %s, want %s", got, ip)
	}
	hc := l.call(t, "httpHealthChecks.insert "+lb)
	pool := l.call(t, "targetPools.insert "+lb+"-alt with health check")
	move := l.call(t, "forwardingRules.setTarget "+lb)
	if !before(hc, pool) || !before(pool, move) {
		t.Errorf("health check %+v, pool %+v, rule moved %+v: want each to begin after the one before returned", hc, pool, move)
	}
	if w := e.writes(); w["targetPools.addHealthCheck"] != 0 {
		t.Errorf("writes = %v, want the new pool made with its check", w)
	}
}
