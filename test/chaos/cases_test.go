package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// figures prints one case's result line in a fixed format (the README's
// table is written from these lines) and fails the test when a figure
// breaks a promise.
type figures struct {
	name                 string
	nodes, services      int
	runFor, converge     time.Duration
	st                   state
	exits, calls, failed int
	writes               int
	extra                []string
	convergeBound        time.Duration // 0: none
	allowedExits         bool
	lostList             []string
}

func (f figures) print(t *testing.T) {
	t.Helper()
	sz := size("full", "short")
	line := fmt.Sprintf("CHAOS case=%s size=%s nodes=%d services=%d run=%s converge=%s leaks=%d duplicates=%d unconverged=%d lost=%d manager_exits=%d calls=%d failed_calls=%d writes=%d",
		f.name, sz, f.nodes, f.services, f.runFor.Round(time.Second), f.converge.Round(time.Second),
		len(f.st.leaks), len(f.st.duplicates), len(f.st.unconverged), len(f.lostList), f.exits, f.calls, f.failed, f.writes)
	if f.convergeBound > 0 {
		// A figure, not an assertion: on a busy machine time says little.
		line += fmt.Sprintf(" converge_bound=%s within_bound=%t", f.convergeBound.Round(time.Second), f.converge <= f.convergeBound)
	}
	for _, e := range f.extra {
		line += " " + e
	}
	fmt.Println(line)
	if !f.st.ok() {
		t.Errorf("%s: %s", f.name, f.st)
	}
	if len(f.lostList) > 0 {
		t.Errorf("%s: resources that should have stayed were deleted or replaced: %v", f.name, f.lostList[:min(len(f.lostList), 10)])
	}
	if f.exits > 0 && !f.allowedExits {
		t.Errorf("%s: the manager exited %d times by itself", f.name, f.exits)
	}
}

// converge waits until the checks find nothing wrong and returns how long
// that took and the final state.
func (w *world) converge(timeout time.Duration, bad map[string]bool) (time.Duration, state) {
	w.t.Helper()
	var last state
	start, said := time.Now(), ""
	took := w.waitFor(timeout, "convergence", func(ctx context.Context) (bool, string) {
		st, err := w.check(ctx, bad)
		if err != nil {
			return false, err.Error()
		}
		last = st
		// What holds convergence up, each time it changes.
		if why := st.String(); why != said && !st.ok() {
			said = why
			w.t.Logf("%s: %.400s", time.Since(start).Round(time.Second), why)
		}
		return st.ok(), st.String()
	})
	return took, last
}

func (w *world) finish(f *figures) {
	f.exits = w.unplannedExits()
	f.calls, f.failed, f.writes = callFigures(w.env)
	f.print(w.t)
}

// TestChaosFaults: a cluster is built while 10% of Compute calls fail (503
// or a dropped connection), 10% of the operations of writes fail, and
// writes are limited to 5/s; some nodes and Services go while the faults
// last. Once the faults stop, every route and load balancer converges with
// nothing leaked or duplicated.
func TestChaosFaults(t *testing.T) {
	nNodes, nSvcs := size(200, 8), size(50, 8)
	phase := size(3*time.Minute, 10*time.Second)
	w := newWorld(t, fakecompute.Config{Latency: 50 * time.Millisecond}, nNodes)
	faults := []fakecompute.Fault{
		{Method: "*", Fraction: 0.05, Mode: fakecompute.FaultError, Code: 503, Reason: fakecompute.ReasonBackend},
		{Method: "*", Fraction: 0.0526, Mode: fakecompute.FaultDrop}, // 5% of all calls
	}
	for _, m := range writeMethods {
		faults = append(faults, fakecompute.Fault{Method: m, Fraction: 0.1, Mode: fakecompute.FaultOperation, Code: 500, Reason: fakecompute.ReasonInternal})
	}
	for _, f := range faults {
		if err := w.env.Fake.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	w.env.Fake.SetWriteRateLimit(5, 5)
	ctx := t.Context()
	start := time.Now()
	for i := range nNodes {
		if err := w.addNode(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nSvcs {
		if err := w.createService(ctx, service(fmt.Sprintf("svc-%02d", i), kinds[i%len(kinds)])); err != nil {
			t.Fatal(err)
		}
	}
	// Half-way through the faults a tenth of the nodes and Services go.
	time.Sleep(phase / 2)
	gone := max(1, nNodes/10)
	for i := range gone {
		if err := w.removeNode(ctx, nNodes-1-i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range max(1, nSvcs/10) {
		if err := w.deleteService(ctx, fmt.Sprintf("svc-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(phase - phase/2)
	_, failedDuring, _ := callFigures(w.env)
	w.env.Fake.ClearFaults()
	took, st := w.converge(size(30*time.Minute, 3*time.Minute), nil)
	w.finish(&figures{name: "faults", nodes: st.nodes, services: st.services, runFor: time.Since(start), converge: took, st: st,
		extra: []string{fmt.Sprintf("fault_phase=%s failed_during_faults=%d", phase, failedDuring)}})
}

// TestChaosCrashes: the manager is killed (SIGKILL) at random moments while
// Services are created, changed and deleted and nodes join and leave; a new
// manager starts a second after each kill. In the end every live object
// converges, with nothing leaked or duplicated.
func TestChaosCrashes(t *testing.T) {
	nVMs, nNodes, nSvcs, kills := size(40, 8), size(30, 5), size(20, 4), size(20, 3)
	gapMin, gapMax := size(3*time.Second, 2*time.Second), size(15*time.Second, 6*time.Second)
	w := newWorld(t, fakecompute.Config{Latency: 100 * time.Millisecond}, nVMs)
	ctx := t.Context()
	start := time.Now()
	liveNodes := map[int]bool{}
	for i := range nNodes {
		if err := w.addNode(ctx, i); err != nil {
			t.Fatal(err)
		}
		liveNodes[i] = true
	}
	var svcs []string
	for i := range nSvcs {
		name := fmt.Sprintf("svc-%03d", i)
		if err := w.createService(ctx, service(name, kinds[i%len(kinds)])); err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, name)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	ops := map[string]int{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
		next := nSvcs
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(200+rnd.IntN(600)) * time.Millisecond):
			}
			var err error
			switch op := rnd.IntN(10); {
			case op < 3 || len(svcs) < 2:
				name := fmt.Sprintf("svc-%03d", next)
				next++
				err = w.createService(ctx, service(name, kinds[rnd.IntN(len(kinds))]))
				svcs = append(svcs, name)
				ops["create"]++
			case op < 5:
				i := rnd.IntN(len(svcs))
				err = w.deleteService(ctx, svcs[i])
				svcs = slices.Delete(svcs, i, i+1)
				ops["delete"]++
			case op < 8:
				err = w.changeService(ctx, svcs[rnd.IntN(len(svcs))], rnd.IntN(1000))
				ops["change"]++
			case op == 8:
				i := rnd.IntN(nVMs)
				if !liveNodes[i] {
					err = w.addNode(ctx, i)
					liveNodes[i] = true
					ops["node-join"]++
				}
			default:
				i := rnd.IntN(nVMs)
				if liveNodes[i] && len(liveNodes) > 2 {
					err = w.removeNode(ctx, i)
					delete(liveNodes, i)
					ops["node-leave"]++
				}
			}
			if err != nil && ctx.Err() == nil {
				t.Logf("workload: %v", err)
			}
		}
	}()
	for k := range kills {
		time.Sleep(gapMin + time.Duration(w.rnd.Int64N(int64(gapMax-gapMin))))
		w.kill()
		t.Logf("kill %d/%d at %s", k+1, kills, time.Since(start).Round(time.Second))
	}
	close(stop)
	wg.Wait()
	took, st := w.converge(size(20*time.Minute, 3*time.Minute), nil)
	w.finish(&figures{name: "crashes", nodes: st.nodes, services: st.services, runFor: time.Since(start), converge: took, st: st,
		extra: []string{fmt.Sprintf("kills=%d ops=create:%d,change:%d,delete:%d,node-join:%d,node-leave:%d",
			kills, ops["create"], ops["change"], ops["delete"], ops["node-join"], ops["node-leave"])}})
}

// retryDelay is the upstream service controller's wait after the n-th
// failed sync of a Service: 5 s doubling per failure, at most 300 s
// (k8s.io/cloud-provider's minRetryDelay and maxRetryDelay). Failed node
// syncs go through the same per-Service counter.
func retryDelay(n int32) time.Duration {
	d := 5 * time.Second
	for i := int32(1); i < n && d < 300*time.Second; i++ {
		d *= 2
	}
	return min(d, 300*time.Second)
}

// longestRetryDelay is the longest wait in progress among the Services:
// the retry delay after as many failures as SyncLoadBalancerFailed events
// counted.
func (w *world) longestRetryDelay(ctx context.Context) (time.Duration, int32) {
	evs, err := w.env.Admin.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	failures := map[string]int32{}
	for _, e := range evs.Items {
		if e.Reason == "SyncLoadBalancerFailed" {
			failures[e.InvolvedObject.Name] += max(e.Count, 1)
		}
	}
	var most int32
	for _, n := range failures {
		most = max(most, n)
	}
	return retryDelay(most), most
}

// buildAndSnapshot adds nodes [0,n) and Services svc-00.., one of each kind
// in turn, waits until they converge and returns how long that took and
// the resource ids.
func (w *world) buildAndSnapshot(nNodes, nSvcs int) (time.Duration, map[string]uint64) {
	w.t.Helper()
	ctx := w.t.Context()
	for i := range nNodes {
		if err := w.addNode(ctx, i); err != nil {
			w.t.Fatal(err)
		}
	}
	for i := range nSvcs {
		if err := w.createService(ctx, service(fmt.Sprintf("svc-%02d", i), kinds[i%len(kinds)])); err != nil {
			w.t.Fatal(err)
		}
	}
	took, _ := w.converge(size(20*time.Minute, 3*time.Minute), nil)
	return took, ids(w.env.Fake.Dump())
}

// keepUntouched accepts the resources of the Services and node routes
// that a case left alone.
func (w *world) keepUntouched(touched map[string]bool) func(string) bool {
	ctx := w.t.Context()
	keep := map[string]bool{}
	svcs, err := w.env.Admin.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, s := range svcs.Items {
		if !touched[s.Name] {
			keep[lbNameOf(&s)] = true
		}
	}
	nodes, err := w.env.Admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if !touched[n.Name] {
			keep[clusterName+"-"+string(n.UID)] = true
		}
	}
	return func(key string) bool {
		kind, name := key[:strings.LastIndexByte(key, ' ')], key[strings.LastIndexByte(key, ' ')+1:]
		if kind == "route" {
			return keep[name]
		}
		if lb := lbNameFrom(kind, name); lb != "" {
			return keep[lb]
		}
		return false
	}
}

// TestChaosComputeOutage: every Compute call fails with 503 for a while
// (2 minutes in full) while Services and nodes change; when the API comes
// back everything converges and nothing that should stay was deleted. The
// figures compare the time to converge with one retry period of the
// service controller (the longest wait in progress at the outage's end,
// from the failed syncs counted in events) plus the time the same world
// took to build; a figure, not an assertion.
func TestChaosComputeOutage(t *testing.T) {
	nNodes, nSvcs := size(20, 4), size(12, 8)
	outage := size(2*time.Minute, 6*time.Second)
	w := newWorld(t, fakecompute.Config{Latency: 50 * time.Millisecond}, nNodes+2)
	build, before := w.buildAndSnapshot(nNodes, nSvcs)
	ctx := t.Context()
	start := time.Now()
	if err := w.env.Fake.InjectFault(fakecompute.Fault{Method: "*", Fraction: 1, Code: 503, Reason: fakecompute.ReasonBackend}); err != nil {
		t.Fatal(err)
	}
	// Changes while Compute is down: a new Service, a deleted one, a changed
	// one, a node that joins and one that leaves.
	touched := map[string]bool{"svc-00": true, "svc-01": true, "svc-new": true, vmName(nNodes - 1): true}
	keep := w.keepUntouched(touched)
	for _, step := range []func() error{
		func() error { return w.createService(ctx, service("svc-new", "both")) },
		func() error { return w.deleteService(ctx, "svc-00") },
		func() error { return w.changeService(ctx, "svc-01", 0) },
		func() error { return w.addNode(ctx, nNodes) },
		func() error { return w.removeNode(ctx, nNodes-1) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(outage - time.Since(start))
	w.env.Fake.ClearFaults()
	backoff, failures := w.longestRetryDelay(ctx)
	took, st := w.converge(size(20*time.Minute, 3*time.Minute), nil)
	w.finish(&figures{name: "outage", nodes: st.nodes, services: st.services, runFor: time.Since(start), converge: took, st: st,
		convergeBound: backoff + build, lostList: lost(before, ids(w.env.Fake.Dump()), keep),
		extra: []string{fmt.Sprintf("outage=%s most_failed_syncs=%d backoff_at_end=%s build=%s", outage, failures, backoff, build.Round(time.Second))}})
}

// TestChaosControlPlaneRestart: kube-apiserver and etcd are stopped and
// started again while the manager is syncing new Services and nodes. The
// manager loses its lease and exits (as the upstream command does); its
// supervisor starts it again, as a Deployment would. Everything converges
// and nothing that should stay is deleted.
func TestChaosControlPlaneRestart(t *testing.T) {
	nNodes, nSvcs := size(20, 4), size(12, 6)
	down := size(30*time.Second, 3*time.Second)
	w := newWorld(t, fakecompute.Config{Latency: 200 * time.Millisecond}, nNodes+size(10, 2))
	_, before := w.buildAndSnapshot(nNodes, nSvcs)
	ctx := t.Context()
	start := time.Now()
	touched := map[string]bool{"svc-00": true}
	keep := w.keepUntouched(touched)
	// Mid-sync: new Services and nodes, one Service deleted, with slow
	// operations so that the restart finds writes in flight.
	w.env.Fake.SetLatency("", 2*time.Second)
	for i := range size(10, 2) {
		if err := w.addNode(ctx, nNodes+i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range size(8, 3) {
		if err := w.createService(ctx, service(fmt.Sprintf("svc-mid-%02d", i), kinds[i%len(kinds)])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.deleteService(ctx, "svc-00"); err != nil {
		t.Fatal(err)
	}
	var running int
	w.waitFor(time.Minute, "writes in flight", func(context.Context) (bool, string) {
		running = w.env.Fake.RunningOperations()
		return running > 0, "no operation running"
	})
	if err := w.env.CP.Restart(ctx, down); err != nil {
		t.Fatalf("restart control plane: %v", err)
	}
	w.env.Fake.SetLatency("", 200*time.Millisecond)
	took, st := w.converge(size(20*time.Minute, 3*time.Minute), nil)
	w.finish(&figures{name: "controlplane-restart", nodes: st.nodes, services: st.services, runFor: time.Since(start), converge: took, st: st,
		allowedExits: true, lostList: lost(before, ids(w.env.Fake.Dump()), keep),
		extra: []string{fmt.Sprintf("down=%s operations_running_at_restart=%d", down, running)}})
}

// badCase is one Service of the adversarial corpus. want is "bad" (a
// Warning event and LoadBalancerSynced=False InvalidConfiguration), "good"
// (converges) or "either" (one of the two, never anything else).
type badCase struct {
	name   string
	want   string
	mutate func(*corev1.Service)
}

func corpus() []badCase {
	huge := strings.Repeat("x", 100<<10)
	ann := func(k, v string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Annotations = map[string]string{k: v} }
	}
	ports := func(n, step int) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Spec.Ports = nil
			for i := range n {
				s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", i), Protocol: corev1.ProtocolTCP, Port: int32(2000 + i*step)})
			}
		}
	}
	internal := func(mutate func(*corev1.Service)) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Annotations = map[string]string{internalTypeAnnotation: "Internal"}
			mutate(s)
		}
	}
	const subnetAnn = "networking.gke.io/internal-load-balancer-subnet"
	const globalAccessAnn = "networking.gke.io/internal-load-balancer-allow-global-access"
	const tier = "cloud.google.com/network-tier"
	const rangesAnn = "service.beta.kubernetes.io/load-balancer-source-ranges"
	return []badCase{
		{"ip-truncated", "bad", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "198.18.0" }},
		{"ip-word", "bad", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "not-an-ip" }},
		{"ip-cidr", "bad", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "198.18.0.1/32" }},
		{"ip-v6", "bad", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "2001:db8::1" }},
		{"ip-unreserved", "bad", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "198.18.250.250" }},
		{"ranges-v6", "bad", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8", "2001:db8::/32"} }},
		{"ranges-host-bits", "either", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.1.2.3/8"} }},
		{"ranges-annotation-garbage", "bad", ann(rangesAnn, "nonsense")},
		{"ranges-annotation-spaces", "either", ann(rangesAnn, " 10.0.0.0/8 , 192.168.0.0/16 ")},
		{"ranges-annotation-huge", "bad", ann(rangesAnn, huge)},
		{"protocol-sctp", "bad", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = corev1.ProtocolSCTP }},
		{"tier-gold", "bad", ann(tier, "Gold")},
		{"tier-lowercase", "either", ann(tier, "standard")},
		{"tier-huge", "bad", ann(tier, huge)},
		{"type-annotation-typo", "either", ann("networking.gke.io/load-balancer-type", "Interal")},
		{"unrelated-annotation-huge", "good", ann("example.com/blob", huge)},
		{"ports-100-consecutive", "good", ports(100, 1)},
		{"ports-100-spread", "good", ports(100, 2)},
		{"ports-101-spread", "bad", ports(101, 2)},
		{"name-" + strings.Repeat("n", 58), "good", nil}, // 63 characters, the limit
		{"tcp-udp-same-port", "good", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "u", Protocol: corev1.ProtocolUDP, Port: 80})
		}},
		{"internal-tcp-and-udp", "bad", internal(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "u", Protocol: corev1.ProtocolUDP, Port: 53})
		})},
		{"internal-ip-outside-subnet", "bad", internal(func(s *corev1.Service) { s.Spec.LoadBalancerIP = "198.18.0.10" })},
		{"internal-subnet-unknown", "bad", internal(func(s *corev1.Service) { s.Annotations[subnetAnn] = "no-such-subnet" })},
		{"internal-subnet-huge", "bad", internal(func(s *corev1.Service) { s.Annotations[subnetAnn] = huge })},
		{"internal-global-access-maybe", "bad", internal(func(s *corev1.Service) { s.Annotations[globalAccessAnn] = "maybe" })},
		{"internal-ports-100", "good", internal(ports(100, 1))},
	}
}

// TestChaosBadInput: the adversarial corpus is created together with good
// Services. Each bad one gets a Warning event and LoadBalancerSynced=False,
// the good ones converge, and the manager never exits.
func TestChaosBadInput(t *testing.T) {
	nNodes, nGood := size(10, 3), size(30, 6)
	w := newWorld(t, fakecompute.Config{}, nNodes)
	ctx := t.Context()
	start := time.Now()
	for i := range nNodes {
		if err := w.addNode(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	cases := corpus()
	want := map[string]string{}
	refused := 0
	for i := range max(nGood, len(cases)) {
		if i < len(cases) {
			c := cases[i]
			svc := service(c.name, "tcp")
			if c.mutate != nil {
				c.mutate(svc)
			}
			if err := w.createService(ctx, svc); err != nil {
				// kube-apiserver's own validation got there first.
				refused++
				t.Logf("kube-apiserver refused %s: %.200s", c.name, err)
			} else {
				want[c.name] = c.want
			}
		}
		if i < nGood {
			name := fmt.Sprintf("good-%02d", i)
			if err := w.createService(ctx, service(name, kinds[i%len(kinds)])); err != nil {
				t.Fatal(err)
			}
			want[name] = "good"
		}
	}
	// Bad ones are known by what the corpus says; "either" ones by their
	// condition, once they have one.
	bad := map[string]bool{}
	var eitherBad []string
	took := w.waitFor(size(10*time.Minute, 2*time.Minute), "good Services converged, bad ones refused", func(ctx context.Context) (bool, string) {
		svcs, err := w.env.Admin.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		clear(bad)
		eitherBad = eitherBad[:0]
		for _, s := range svcs.Items {
			switch want[s.Name] {
			case "bad":
				bad[s.Name] = true
			case "either":
				for _, c := range s.Status.Conditions {
					if c.Type == "LoadBalancerSynced" && c.Status == metav1.ConditionFalse {
						bad[s.Name] = true
						eitherBad = append(eitherBad, s.Name)
					}
				}
			}
		}
		st, err := w.check(ctx, bad)
		if err != nil {
			return false, err.Error()
		}
		return st.ok(), st.String()
	})
	// Each bad one has a Warning event, and no message quotes more than a
	// condition may hold.
	var noEvent, tooLong []string
	w.waitFor(time.Minute, "a Warning event on each bad Service", func(ctx context.Context) (bool, string) {
		noEvent, tooLong = noEvent[:0], tooLong[:0]
		evs, err := w.env.Admin.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		warned := map[string]bool{}
		for _, e := range evs.Items {
			if e.Type == corev1.EventTypeWarning {
				warned[e.InvolvedObject.Name] = true
			}
			if len(e.Message) > 32768 {
				tooLong = append(tooLong, fmt.Sprintf("event on %s (%d bytes)", e.InvolvedObject.Name, len(e.Message)))
			}
		}
		svcs, err := w.env.Admin.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, s := range svcs.Items {
			for _, c := range s.Status.Conditions {
				if len(c.Message) > 32768 {
					tooLong = append(tooLong, fmt.Sprintf("condition of %s (%d bytes)", s.Name, len(c.Message)))
				}
			}
		}
		for name := range bad {
			if !warned[name] {
				noEvent = append(noEvent, name)
			}
		}
		slices.Sort(noEvent)
		return len(noEvent) == 0, fmt.Sprintf("no Warning event on %v", noEvent)
	})
	st, err := w.check(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	// A 100 KB value was once echoed whole into an event and the condition
	// (issue 11; user values are now quoted truncated).
	if len(tooLong) > 0 {
		t.Errorf("messages longer than a condition may hold (32768 bytes): %v", tooLong)
	}
	extra := fmt.Sprintf("corpus=%d refused_by_apiserver=%d bad=%d good=%d either_refused=%v over_32KiB_messages=%d",
		len(cases), refused, len(bad), len(want)-len(bad), eitherBad, len(tooLong))
	slices.Sort(eitherBad)
	w.finish(&figures{name: "bad-input", nodes: st.nodes, services: st.services, runFor: time.Since(start), converge: took, st: st,
		extra: []string{extra}})
}
