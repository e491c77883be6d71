package routes_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	kfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/gce/gcetest"
	"github.com/gce-ccm/gce-ccm/pkg/instances"
	"github.com/gce-ccm/gce-ccm/pkg/routes"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// recordingAPI is the Compute API of the routes, recording when each insert
// was sent and how it ended.
type recordingAPI struct {
	routes.Compute
	mu      sync.Mutex
	inserts []insertCall
}

type insertCall struct {
	at, done time.Time // sent, answered
	name     string
	quota    bool
}

func (a *recordingAPI) InsertRoute(ctx context.Context, r *computepb.Route) error {
	at := time.Now()
	err := a.Compute.InsertRoute(ctx, r)
	a.mu.Lock()
	a.inserts = append(a.inserts, insertCall{at: at, done: time.Now(), name: r.GetName(), quota: gce.IsQuotaExceeded(err)})
	a.mu.Unlock()
	return err
}

// quotaProbes are the inserts refused for quota that were sent after the
// first quota error came back.
func quotaProbes(calls []insertCall) []insertCall {
	var known time.Time
	for _, c := range calls {
		if c.quota && (known.IsZero() || c.done.Before(known)) {
			known = c.done
		}
	}
	var out []insertCall
	for _, c := range calls {
		if c.quota && !c.at.Before(known) {
			out = append(out, c)
		}
	}
	return out
}

func (a *recordingAPI) calls() []insertCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.inserts)
}

// cenv is a controller over the fake Compute API and a fake clientset.
type cenv struct {
	fake    *fakecompute.Server
	cloud   *gce.Cloud
	api     *recordingAPI
	routes  *routes.Routes
	metrics *routes.Metrics
	client  *kfake.Clientset
	rec     *record.FakeRecorder

	mu     sync.Mutex
	events []string
	stop   context.CancelFunc
	done   chan struct{}
}

func newCEnv(t *testing.T, cfg fakecompute.Config, vms ...fakecompute.InstanceSeed) *cenv {
	t.Helper()
	srv := gcetest.StartFake(t, cfg, vms...)
	cloud := gcetest.NewCloud(t, srv, gce.Config{ProjectID: "fake-project", NetworkName: "default", LocalZone: "us-central1-a"})
	c := cloud.Config()
	inst := instances.New(cloud, instances.Options{Project: "fake-project", Zones: c.Zones, CacheTTL: 100 * time.Millisecond, IsNotFound: gce.IsNotFound})
	api := &recordingAPI{Compute: cloud}
	m := routes.NewMetrics()
	// Metrics count only once registered.
	metrics.NewKubeRegistry().MustRegister(m.Collectors()...)
	return &cenv{fake: srv, cloud: cloud, api: api, metrics: m, client: kfake.NewClientset(),
		routes: routes.NewWithOptions(api, routes.Options{Instances: inst, NetworkURL: c.NetworkURL(), Metrics: m})}
}

// start runs a controller until stopController or the end of the test.
func (e *cenv) start(t *testing.T, period time.Duration) {
	t.Helper()
	f := informers.NewSharedInformerFactory(e.client, 0)
	e.rec = record.NewFakeRecorder(1000)
	ctrl, err := e.routes.NewController(routes.ControllerOptions{
		ClusterName:  cluster,
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("fd00:10:244::/56")},
		Period:       period,
		Client:       e.client,
		Nodes:        f.Core().V1().Nodes(),
		BackoffBase:  20 * time.Millisecond,
		BackoffMax:   500 * time.Millisecond,
		Recorder:     e.rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done = cancel, make(chan struct{})
	f.Start(ctx.Done())
	go func() {
		defer close(e.done)
		ctrl.Run(ctx)
	}()
	events := e.rec.Events
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-events:
				e.mu.Lock()
				e.events = append(e.events, ev)
				e.mu.Unlock()
			}
		}
	}()
	t.Cleanup(e.stopController)
}

func (e *cenv) stopController() {
	if e.stop != nil {
		e.stop()
		<-e.done
		e.stop = nil
	}
}

func (e *cenv) addNode(t *testing.T, name, uid string, cidrs ...string) {
	t.Helper()
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: k8stypes.UID(uid)},
		Spec: v1.NodeSpec{PodCIDR: cidrs[0], PodCIDRs: cidrs}}
	if _, err := e.client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *cenv) condition(name string) (status v1.ConditionStatus, reason, message string) {
	n, err := e.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", err.Error(), ""
	}
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeNetworkUnavailable {
			return c.Status, c.Reason, c.Message
		}
	}
	return "", "no condition", ""
}

func (e *cenv) waitCondition(t *testing.T, name string, status v1.ConditionStatus, reason string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("NetworkUnavailable=%s (%s) on %s", status, reason, name), func() (bool, string) {
		s, r, m := e.condition(name)
		return s == status && r == reason, fmt.Sprintf("%s (%s): %s", s, r, m)
	})
}

func (e *cenv) waitEvent(t *testing.T, mentions ...string) {
	t.Helper()
	waitFor(t, "event mentioning "+strings.Join(mentions, ", "), func() (bool, string) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, ev := range e.events {
			all := true
			for _, m := range mentions {
				all = all && strings.Contains(ev, m)
			}
			if all {
				return true, ""
			}
		}
		return false, strings.Join(e.events, "\n")
	})
}

// table is the fake's routes as "name destRange -> vm".
func (e *cenv) table() []string {
	var out []string
	for _, r := range e.fake.Dump().Routes {
		out = append(out, fmt.Sprintf("%s %s -> %s", r.Name, r.DestRange, r.NextHopInstance[strings.LastIndexByte(r.NextHopInstance, '/')+1:]))
	}
	sort.Strings(out)
	return out
}

func (e *cenv) waitTable(t *testing.T, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	waitFor(t, "route table", func() (bool, string) {
		got := e.table()
		return slices.Equal(got, want), fmt.Sprintf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	})
}

func (e *cenv) waitLists(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d route lists", n), func() (bool, string) {
		got := e.fake.Calls()["routes.list"]["ok"]
		return got >= n, fmt.Sprintf("%d lists", got)
	})
}

func (e *cenv) writes() map[string]map[string]int {
	out := map[string]map[string]int{}
	for m, r := range e.fake.Calls() {
		if strings.HasSuffix(m, ".insert") || strings.HasSuffix(m, ".delete") {
			out[m] = r
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after 60s: %s", what, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	uidB = "bbbbbbbb-0000-4000-8000-000000000002"
	uidC = "cccccccc-0000-4000-8000-000000000003"
)

func TestControllerRoutesFollowNodes(t *testing.T) {
	t.Parallel()
	e := newCEnv(t, fakecompute.Config{ExtraNetworks: []string{"other-net"}}, vm("node-a", true), vm("node-b", true), vm("node-c", true))
	// Not ours, all with CIDRs in the cluster CIDR that no node has: a
	// route controller that took them for its own would delete them.
	for _, r := range []*computepb.Route{
		{Name: ptr("otherclstr-route"), Network: ptr(netURL), DestRange: ptr("10.244.50.0/24"), NextHopInstance: ptr(instURL + "node-a"), Description: ptr(routes.Description)},
		{Name: ptr(cluster + "-by-hand"), Network: ptr(netURL), DestRange: ptr("10.244.51.0/24"), NextHopInstance: ptr(instURL + "node-a"), Description: ptr("made by hand")},
		{Name: ptr(cluster + "-other-network"), Network: ptr(strings.Replace(netURL, "/default", "/other-net", 1)), DestRange: ptr("10.244.52.0/24"),
			NextHopInstance: ptr(instURL + "node-a"), Description: ptr(routes.Description)},
	} {
		if err := e.cloud.InsertRoute(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	foreign := e.table()
	e.fake.ResetCalls()
	e.start(t, 200*time.Millisecond)
	e.addNode(t, "node-a", uidA, "10.244.1.0/24")
	e.addNode(t, "node-b", uidB, "10.244.2.0/24", "fd00:10:244:2::/64")
	e.addNode(t, "node-c", uidC, "10.244.3.0/24")
	want := append([]string{
		cluster + "-" + uidA + " 10.244.1.0/24 -> node-a",
		cluster + "-" + uidB + " 10.244.2.0/24 -> node-b",
		cluster + "-" + strings.ReplaceAll(uidB, "-", "") + "-v6 fd00:10:244:2::/64 -> node-b",
		cluster + "-" + uidC + " 10.244.3.0/24 -> node-c",
	}, foreign...)
	e.waitTable(t, want...)
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		e.waitCondition(t, n, v1.ConditionFalse, routes.ReasonRouteCreated)
	}
	if got := e.fake.Calls()["routes.insert"]["ok"]; got != 4 {
		t.Errorf("routes.insert = %d, want exactly 4 (one per route)", got)
	}
	if got := e.fake.Calls()["routes.get"]; len(got) != 0 {
		t.Errorf("per-route GETs: %v", got)
	}
	if got, err := testutil.GetGaugeMetricValue(e.metrics.Owned); err != nil || got != 4 {
		t.Errorf("routes owned gauge = %g (%v), want 4", got, err)
	}

	// A route whose next hop was changed behind our back is repaired at
	// the next list.
	ctx := context.Background()
	if err := e.cloud.DeleteRoute(ctx, cluster+"-"+uidA); err != nil {
		t.Fatal(err)
	}
	if err := e.cloud.InsertRoute(ctx, &computepb.Route{Name: ptr(cluster + "-" + uidA), Network: ptr(netURL), DestRange: ptr("10.244.1.0/24"),
		NextHopInstance: ptr(instURL + "node-c"), Description: ptr(routes.Description)}); err != nil {
		t.Fatal(err)
	}
	e.waitTable(t, want...)

	// A deleted node's routes go; every other route stays.
	if err := e.client.CoreV1().Nodes().Delete(ctx, "node-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitTable(t, append([]string{want[0], want[3]}, foreign...)...)

	// Converged: further periods write nothing.
	e.fake.ResetCalls()
	e.waitLists(t, 3)
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes in a converged cluster: %v", w)
	}
}

func TestControllerRestartWritesNothing(t *testing.T) {
	t.Parallel()
	e := newCEnv(t, fakecompute.Config{}, vm("node-a", true), vm("node-b", true))
	e.start(t, 200*time.Millisecond)
	e.addNode(t, "node-a", uidA, "10.244.1.0/24", "fd00:10:244:1::/64")
	e.addNode(t, "node-b", uidB, "10.244.2.0/24")
	e.waitCondition(t, "node-a", v1.ConditionFalse, routes.ReasonRouteCreated)
	e.waitCondition(t, "node-b", v1.ConditionFalse, routes.ReasonRouteCreated)
	e.stopController()

	e.fake.ResetCalls()
	e.client.ClearActions()
	e.start(t, 200*time.Millisecond)
	e.waitLists(t, 3)
	if w := e.writes(); len(w) != 0 {
		t.Errorf("restart wrote: %v", w)
	}
	for _, a := range e.client.Actions() {
		if a.GetVerb() == "patch" {
			t.Errorf("restart patched: %v", a)
		}
	}
	if len(e.table()) != 3 {
		t.Errorf("routes = %v, want 3", e.table())
	}
}

// Regression (issue 11): a route with our name, range and next hop that
// fails the ownership check is not the node's route: the node is told so,
// stays NetworkUnavailable=True, and no insert is tried (before, every
// reconcile sent one and got 409).
func TestControllerRouteNameTakenByRouteNotOurs(t *testing.T) {
	t.Parallel()
	e := newCEnv(t, fakecompute.Config{}, vm("node-a", true))
	name := cluster + "-" + uidA
	if err := e.cloud.InsertRoute(context.Background(), &computepb.Route{Name: ptr(name), Network: ptr(netURL), DestRange: ptr("10.244.1.0/24"),
		NextHopInstance: ptr(instURL + "node-a"), Description: ptr("made by hand")}); err != nil {
		t.Fatal(err)
	}
	e.fake.ResetCalls()
	e.start(t, 100*time.Millisecond)
	e.addNode(t, "node-a", uidA, "10.244.1.0/24")
	e.waitCondition(t, "node-a", v1.ConditionTrue, routes.ReasonRouteNameTaken)
	e.waitEvent(t, "FailedToCreateRoute", name, "not a pod route of this cluster", "made by hand")
	e.waitLists(t, 5)
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes for a name held by a route not ours: %v", w)
	}
	if rs := e.fake.Dump().Routes; len(rs) != 1 || rs[0].Description != "made by hand" {
		t.Errorf("routes = %+v, want the hand-made one untouched", rs)
	}

	// Its owner deletes it: the node gets its route.
	if err := e.cloud.DeleteRoute(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	e.waitCondition(t, "node-a", v1.ConditionFalse, routes.ReasonRouteCreated)
	e.waitTable(t, name+" 10.244.1.0/24 -> node-a")
}

// Regression (issue 11): at the route quota, one insert per period is
// tried, not one per failing node per reconcile; each waiting node says
// why; a raised quota is used at the next probe.
func TestControllerQuotaOneInsertPerPeriod(t *testing.T) {
	t.Parallel()
	const period = 300 * time.Millisecond
	e := newCEnv(t, fakecompute.Config{}, vm("node-a", true), vm("node-b", true), vm("node-c", true), vm("node-d", true), vm("node-e", true))
	if err := e.fake.SetQuota(fakecompute.QuotaRoutes, 1); err != nil {
		t.Fatal(err)
	}
	e.start(t, period)
	e.addNode(t, "node-a", uidA, "10.244.1.0/24")
	e.waitCondition(t, "node-a", v1.ConditionFalse, routes.ReasonRouteCreated)
	waiting := []string{"node-b", "node-c", "node-d", "node-e"}
	for i, n := range waiting {
		e.addNode(t, n, fmt.Sprintf("%08d-0000-4000-8000-000000000000", i+10), fmt.Sprintf("10.244.%d.0/24", i+10))
	}
	for _, n := range waiting {
		e.waitCondition(t, n, v1.ConditionTrue, routes.ReasonQuotaExceeded)
	}
	e.waitEvent(t, "FailedToCreateRoute", "quota STATIC_ROUTES_PER_NETWORK is exhausted (limit 1)")
	// However slow the machine, once the controller knows the quota is
	// exhausted (the first quota error came back), its probes cannot come
	// closer together than the period. Inserts sent before that, while
	// nothing said the quota was full, may overlap (seen under load: the
	// first two waiting nodes' inserts 0.9 ms apart).
	var probes []insertCall
	waitFor(t, "two probes after the first quota error", func() (bool, string) {
		probes = quotaProbes(e.api.calls())
		return len(probes) >= 2, fmt.Sprintf("%d", len(probes))
	})
	for i := 1; i < len(probes); i++ {
		if gap := probes[i].at.Sub(probes[i-1].at); gap < period {
			t.Errorf("two probes at the quota %v apart, want at least the period %v: %+v", gap, period, e.api.calls())
		}
	}

	if err := e.fake.SetQuota(fakecompute.QuotaRoutes, 10); err != nil {
		t.Fatal(err)
	}
	for _, n := range waiting {
		e.waitCondition(t, n, v1.ConditionFalse, routes.ReasonRouteCreated)
	}
	if got := len(e.fake.Dump().Routes); got != 5 {
		t.Errorf("%d routes, want 5", got)
	}
}

func TestControllerRefusesVMWithoutIPForward(t *testing.T) {
	t.Parallel()
	e := newCEnv(t, fakecompute.Config{}, vm("no-forward", false))
	e.start(t, 100*time.Millisecond)
	e.addNode(t, "no-forward", uidA, "10.244.1.0/24")
	e.waitCondition(t, "no-forward", v1.ConditionTrue, routes.ReasonNoIPForward)
	e.waitEvent(t, "FailedToCreateRoute", "canIpForward=false", "no-forward")
	if got, err := testutil.GetCounterMetricValue(e.metrics.NoIPForward); err != nil || got < 1 {
		t.Errorf("routes_vm_without_ip_forward_total = %g (%v), want >= 1", got, err)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes for a VM that cannot forward: %v", w)
	}
}

func TestControllerRetriesFailedInserts(t *testing.T) {
	t.Parallel()
	e := newCEnv(t, fakecompute.Config{}, vm("node-a", true), vm("node-b", true))
	for _, f := range []fakecompute.Fault{
		{Method: "routes.insert", Count: 3, Mode: fakecompute.FaultError, Code: 503, Reason: "backendError"},
		{Method: "routes.insert", Count: 1, Mode: fakecompute.FaultOperation, Code: 500, Reason: "internalError"},
		{Method: "routes.list", Count: 2, Mode: fakecompute.FaultError, Code: 503},
	} {
		if err := e.fake.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	// A period far longer than the test: only the per-node backoff retries.
	e.start(t, time.Hour)
	e.addNode(t, "node-a", uidA, "10.244.1.0/24")
	e.addNode(t, "node-b", uidB, "10.244.2.0/24")
	e.waitTable(t, cluster+"-"+uidA+" 10.244.1.0/24 -> node-a", cluster+"-"+uidB+" 10.244.2.0/24 -> node-b")
	e.waitCondition(t, "node-a", v1.ConditionFalse, routes.ReasonRouteCreated)
	e.waitCondition(t, "node-b", v1.ConditionFalse, routes.ReasonRouteCreated)
}

// A node whose pod CIDR changes gets its route replaced; a node deleted and
// registered again under the same name (a new UID) loses the old route.
func TestControllerNodeChanges(t *testing.T) {
	t.Parallel()
	e := newCEnv(t, fakecompute.Config{}, vm("node-a", true))
	e.start(t, time.Hour)
	ctx := context.Background()
	e.addNode(t, "node-a", uidA, "10.244.1.0/24")
	e.waitTable(t, cluster+"-"+uidA+" 10.244.1.0/24 -> node-a")

	n, err := e.client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.7.0/24", []string{"10.244.7.0/24"}
	if _, err := e.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitTable(t, cluster+"-"+uidA+" 10.244.7.0/24 -> node-a")

	if err := e.client.CoreV1().Nodes().Delete(ctx, "node-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.addNode(t, "node-a", uidB, "10.244.8.0/24")
	e.waitTable(t, cluster+"-"+uidB+" 10.244.8.0/24 -> node-a")
}

// Regression (issue 11), for the upstream route controller too: CreateRoute
// checks ownership before anything else, and a listed name held by a route
// not ours costs no insert.
func TestCreateRouteNameTakenByRouteNotOurs(t *testing.T) {
	t.Parallel()
	e := setup(t, vm("node-a", true))
	ctx := context.Background()
	name := cluster + "-" + uidA
	e.insertRaw(t, &computepb.Route{Name: ptr(name), Network: ptr(netURL), DestRange: ptr("10.244.1.0/24"),
		NextHopInstance: ptr(instURL + "node-a"), Description: ptr("made by hand")})
	err := e.routes.CreateRoute(ctx, cluster, uidA, route("node-a", "10.244.1.0/24"))
	if err == nil || !strings.Contains(err.Error(), "not a pod route of this cluster") {
		t.Fatalf("err = %v, want the name refused as taken by a route not ours", err)
	}
	if _, err := e.routes.ListRoutes(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	e.fake.ResetCalls()
	if err := e.routes.CreateRoute(ctx, cluster, uidA, route("node-a", "10.244.1.0/24")); err == nil {
		t.Fatal("second create succeeded")
	}
	if got := e.fake.Calls()["routes.insert"]; len(got) != 0 {
		t.Errorf("inserts for a listed name that is not ours: %v", got)
	}
}

// Regression (issue 11), for the upstream route controller too: at the
// quota one insert per period goes out; the others fail without a call.
func TestCreateRouteQuotaGate(t *testing.T) {
	t.Parallel()
	e := setup(t, vm("node-a", true), vm("node-b", true), vm("node-c", true))
	e.routes.SetQuotaRetryPeriod(time.Hour)
	if err := e.fake.SetQuota(fakecompute.QuotaRoutes, 0); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, n := range []string{"node-a", "node-b", "node-c"} {
		err := e.routes.CreateRoute(ctx, cluster, fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), route(n, fmt.Sprintf("10.244.%d.0/24", i+1)))
		if !gce.IsQuotaExceeded(err) || !strings.Contains(err.Error(), "STATIC_ROUTES_PER_NETWORK") {
			t.Errorf("create for %s: err = %v, want the quota error", n, err)
		}
	}
	if got := e.fake.Calls()["routes.insert"]; sum(got) != 1 {
		t.Errorf("routes.insert calls = %v, want 1", got)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
