package integration

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

const clusterName = "itest"

// routeArgs turn on the route controller for a dual-stack cluster CIDR.
var routeArgs = []string{
	"--configure-cloud-routes=true",
	"--cluster-cidr=10.244.0.0/16,fd00:10:244::/56",
	"--cluster-name=" + clusterName,
	// gce-ccm's route controller lists the routes for repair and garbage
	// collection, and probes an exhausted quota, once per period.
	"--route-reconciliation-period=2s",
	// The informers' resync is the upstream route controller's only
	// periodic retry (--route-controller=upstream).
	"--min-resync-period=5s",
}

// networkCondition is a node's NetworkUnavailable status and reason.
func networkCondition(ctx context.Context, env *harness.Env, node string) (corev1.ConditionStatus, string, string) {
	n, err := env.Admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "", err.Error(), ""
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeNetworkUnavailable {
			return c.Status, c.Reason, c.Message
		}
	}
	return "", "no NetworkUnavailable condition", ""
}

func waitNetworkCondition(t *testing.T, env *harness.Env, node string, status corev1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, 60*time.Second, fmt.Sprintf("NetworkUnavailable=%s (%s) on %s", status, reason, node), func(ctx context.Context) (bool, string) {
		s, r, m := networkCondition(ctx, env, node)
		return s == status && r == reason, fmt.Sprintf("%s (%s): %s", s, r, m)
	})
}

// createNodeWithCIDRs registers a node that already has its pod CIDRs, as
// kube-controller-manager's IPAM would give it.
func createNodeWithCIDRs(t *testing.T, env *harness.Env, name string, cidrs ...string) *corev1.Node {
	t.Helper()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.NodeSpec{PodCIDR: cidrs[0], PodCIDRs: cidrs,
			Taints: []corev1.Taint{{Key: uninitializedTaint, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	created, err := env.Admin.CoreV1().Nodes().Create(t.Context(), n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// routeTable is the fake's routes as "name destRange -> instance".
func routeTable(env *harness.Env) []string {
	var out []string
	for _, r := range env.Fake.Dump().Routes {
		out = append(out, fmt.Sprintf("%s %s -> %s", r.Name, r.DestRange, r.NextHopInstance[strings.LastIndexByte(r.NextHopInstance, '/')+1:]))
	}
	sort.Strings(out)
	return out
}

func wantRoutes(t *testing.T, env *harness.Env, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want)) // a copy: callers reuse their slice
	eventually(t, 90*time.Second, "route table", func(context.Context) (bool, string) {
		got := routeTable(env)
		return strings.Join(got, "\n") == strings.Join(want, "\n"), fmt.Sprintf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	})
}

func networkAvailable(t *testing.T, env *harness.Env, node string) {
	t.Helper()
	eventually(t, 60*time.Second, "NetworkUnavailable=False on "+node, func(ctx context.Context) (bool, string) {
		n, err := env.Admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeNetworkUnavailable {
				return c.Status == corev1.ConditionFalse, fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, c.Reason)
			}
		}
		return false, "no NetworkUnavailable condition"
	})
}

func TestRoutesFollowNodes(t *testing.T) {
	env := startEnv(t, fakecompute.Config{Latency: 100 * time.Millisecond, ExtraNetworks: []string{"other-net"}},
		seed("node-a", "us-central1-a"), seed("node-b", "us-central1-b"), seed("node-c", "us-central1-c"))
	// Routes that are not ours, which must survive untouched although the
	// route controller would delete them as stale (their CIDRs are in the
	// cluster CIDR and belong to no node) if gce-ccm reported them as ours.
	for _, r := range []string{
		`{"name":"other-cluster-route","network":"global/networks/default","destRange":"10.244.50.0/24","nextHopInstance":"zones/us-central1-a/instances/node-a","description":"k8s-node-route"}`,
		`{"name":"itest-by-hand","network":"global/networks/default","destRange":"10.244.51.0/24","nextHopInstance":"zones/us-central1-a/instances/node-a","description":"made by a person"}`,
		// Our prefix and description, but on another network.
		`{"name":"itest-other-network","network":"global/networks/other-net","destRange":"10.244.99.0/24","nextHopInstance":"zones/us-central1-a/instances/node-a","description":"k8s-node-route"}`,
	} {
		insertRouteJSON(t, env, r)
	}
	foreign := routeTable(env)
	startManager(t, env, "m1", routeArgs...)

	a := createNodeWithCIDRs(t, env, "node-a", "10.244.1.0/24")
	b := createNodeWithCIDRs(t, env, "node-b", "10.244.2.0/24", "fd00:10:244:2::/64")
	c := createNodeWithCIDRs(t, env, "node-c", "10.244.3.0/24")
	want := append([]string{
		"itest-" + string(a.UID) + " 10.244.1.0/24 -> node-a",
		"itest-" + string(b.UID) + " 10.244.2.0/24 -> node-b",
		"itest-" + strings.ReplaceAll(string(b.UID), "-", "") + "-v6 fd00:10:244:2::/64 -> node-b",
		"itest-" + string(c.UID) + " 10.244.3.0/24 -> node-c",
	}, foreign...)
	wantRoutes(t, env, want...)
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		networkAvailable(t, env, n)
	}

	// A route whose next hop was changed behind our back is repaired. The
	// manager may put its own route back between our delete and our
	// insert (a 409): then the swap is tried again.
	hijacked := fmt.Sprintf(`{"name":"itest-%s","network":"global/networks/default","destRange":"10.244.1.0/24","nextHopInstance":"zones/us-central1-c/instances/node-c","description":"k8s-node-route"}`, a.UID)
	for attempt := 1; ; attempt++ {
		deleteRouteByName(t, env, "itest-"+string(a.UID))
		status := postRouteJSON(t, env, hijacked)
		if status == http.StatusOK {
			break
		}
		if status != http.StatusConflict || attempt == 5 {
			t.Fatalf("insert route %s: %d (attempt %d)", hijacked, status, attempt)
		}
	}
	wantRoutes(t, env, want...)

	// A deleted node's route goes; the others and the foreign ones stay.
	if err := env.Admin.CoreV1().Nodes().Delete(t.Context(), "node-c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wantRoutes(t, env, append(want[:3:3], foreign...)...)
}

func TestRoutesRefuseVMWithoutIPForward(t *testing.T) {
	noForward := seed("node-nofwd", "us-central1-a")
	noForward.CanIPForward = false
	env := startEnv(t, fakecompute.Config{}, seed("node-a", "us-central1-a"), noForward)
	startManager(t, env, "m1", routeArgs...)
	a := createNodeWithCIDRs(t, env, "node-a", "10.244.1.0/24")
	createNodeWithCIDRs(t, env, "node-nofwd", "10.244.2.0/24")

	wantRoutes(t, env, "itest-"+string(a.UID)+" 10.244.1.0/24 -> node-a")
	waitEvent(t, env, "node-nofwd", "FailedToCreateRoute", "canIpForward")
	waitNetworkCondition(t, env, "node-nofwd", corev1.ConditionTrue, "VMCannotForward")
	if got := routeTable(env); len(got) != 1 {
		t.Errorf("routes = %v, want only node-a's", got)
	}

	// The admin turns IP forwarding on as GCE allows it: stop the VM,
	// update canIpForward, start it. The route follows.
	enableIPForward(t, env, "us-central1-a", "node-nofwd")
	nofwd, err := env.Admin.CoreV1().Nodes().Get(t.Context(), "node-nofwd", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantRoutes(t, env, "itest-"+string(a.UID)+" 10.244.1.0/24 -> node-a", "itest-"+string(nofwd.UID)+" 10.244.2.0/24 -> node-nofwd")
}

// enableIPForward sets canIpForward on a VM through the Compute API with the
// client the long-standing provider uses, as an admin would: stop, update,
// start, each waited for.
func enableIPForward(t *testing.T, env *harness.Env, zone, name string) {
	t.Helper()
	ctx := t.Context()
	svc, err := compute.NewService(ctx, option.WithEndpoint(env.Fake.URL()+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	wait := func(what string, op *compute.Operation, err error) {
		t.Helper()
		for err == nil && op.Status != "DONE" {
			op, err = svc.ZoneOperations.Wait(harness.Project, zone, op.Name).Context(ctx).Do()
		}
		if err == nil && op.Error != nil {
			err = fmt.Errorf("operation %s: %v", op.Name, op.Error.Errors[0].Message)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", what, name, err)
		}
	}
	op, err := svc.Instances.Stop(harness.Project, zone, name).Context(ctx).Do()
	wait("stop", op, err)
	vm, err := svc.Instances.Get(harness.Project, zone, name).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	vm.CanIpForward = true
	op, err = svc.Instances.Update(harness.Project, zone, name, vm).Context(ctx).Do()
	wait("update", op, err)
	op, err = svc.Instances.Start(harness.Project, zone, name).Context(ctx).Do()
	wait("start", op, err)
}

// TestRoutesNodeNamedByFQDN covers kubelets that register under their VM's
// FQDN: the node's route is created once, and later reconciles write
// nothing (before, every reconcile deleted the route as belonging to no node
// and created it again).
func TestRoutesNodeNamedByFQDN(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, seed("vm-1", "us-central1-a"), seed("vm-2", "us-central1-b"))
	startManager(t, env, "m1", routeArgs...)
	fqdn := createNodeWithCIDRs(t, env, "vm-1.us-central1-a.c."+harness.Project+".internal", "10.244.1.0/24")
	plain := createNodeWithCIDRs(t, env, "vm-2", "10.244.2.0/24")
	wantRoutes(t, env, "itest-"+string(fqdn.UID)+" 10.244.1.0/24 -> vm-1", "itest-"+string(plain.UID)+" 10.244.2.0/24 -> vm-2")
	networkAvailable(t, env, fqdn.Name)
	waitInitialised(t, env, fqdn.Name) // its provider ID is set: both ways of naming the VM are exercised

	env.Fake.ResetCalls()
	// Three route lists by the manager: at least two whole reconciles.
	eventually(t, 60*time.Second, "route reconciles", func(context.Context) (bool, string) {
		n := env.Fake.Calls()["routes.list"]["ok"]
		return n >= 3, fmt.Sprintf("%d lists", n)
	})
	for method, results := range env.Fake.Calls() {
		if isWrite(method) {
			t.Errorf("reconcile of unchanged routes wrote: %s %v", method, results)
		}
	}
	wantRoutes(t, env, "itest-"+string(fqdn.UID)+" 10.244.1.0/24 -> vm-1", "itest-"+string(plain.UID)+" 10.244.2.0/24 -> vm-2")
}

func TestRoutesQuotaExhaustedThenRaised(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, seed("node-a", "us-central1-a"), seed("node-b", "us-central1-a"))
	if err := env.Fake.SetQuota(fakecompute.QuotaRoutes, 1); err != nil {
		t.Fatal(err)
	}
	startManager(t, env, "m1", routeArgs...)
	a := createNodeWithCIDRs(t, env, "node-a", "10.244.1.0/24")
	wantRoutes(t, env, "itest-"+string(a.UID)+" 10.244.1.0/24 -> node-a")
	b := createNodeWithCIDRs(t, env, "node-b", "10.244.2.0/24")
	waitEvent(t, env, "node-b", "FailedToCreateRoute", "quota STATIC_ROUTES_PER_NETWORK is exhausted (limit 1)")
	waitNetworkCondition(t, env, "node-b", corev1.ConditionTrue, "RouteQuotaExceeded")

	if err := env.Fake.SetQuota(fakecompute.QuotaRoutes, 10); err != nil {
		t.Fatal(err)
	}
	wantRoutes(t, env, "itest-"+string(a.UID)+" 10.244.1.0/24 -> node-a", "itest-"+string(b.UID)+" 10.244.2.0/24 -> node-b")
}

func TestRoutesRestartCausesNoWrites(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, seed("node-a", "us-central1-a"), seed("node-b", "us-central1-b"))
	m := startManager(t, env, "m1", routeArgs...)
	a := createNodeWithCIDRs(t, env, "node-a", "10.244.1.0/24")
	b := createNodeWithCIDRs(t, env, "node-b", "10.244.2.0/24")
	wantRoutes(t, env, "itest-"+string(a.UID)+" 10.244.1.0/24 -> node-a", "itest-"+string(b.UID)+" 10.244.2.0/24 -> node-b")
	networkAvailable(t, env, "node-a")
	networkAvailable(t, env, "node-b")
	m.Stop()

	env.Fake.ResetCalls()
	startManager(t, env, "m2", routeArgs...)
	// Wait for the new manager to have reconciled routes at least twice.
	eventually(t, 60*time.Second, "route lists by the restarted manager", func(context.Context) (bool, string) {
		n := env.Fake.Calls()["routes.list"]["ok"]
		return n >= 2, fmt.Sprintf("%d lists", n)
	})
	for method, results := range env.Fake.Calls() {
		if isWrite(method) {
			t.Errorf("restart wrote: %s %v", method, results)
		}
	}
}

func TestRoutesConvergeUnderFaults(t *testing.T) {
	var vms []fakecompute.InstanceSeed
	for i := range 12 {
		vms = append(vms, seed(fmt.Sprintf("node-%02d", i), []string{"us-central1-a", "us-central1-b", "us-central1-c"}[i%3]))
	}
	env := startEnv(t, fakecompute.Config{Latency: 50 * time.Millisecond}, vms...)
	for _, f := range []fakecompute.Fault{
		{Method: "routes.insert", Fraction: 0.3, Count: 6, Mode: fakecompute.FaultError, Code: 503, Reason: "backendError"},
		{Method: "routes.insert", Fraction: 0.3, Count: 4, Mode: fakecompute.FaultOperation, Code: 500, Reason: "internalError"},
		{Method: "routes.insert", Count: 2, Mode: fakecompute.FaultDrop},
		{Method: "routes.list", Count: 2, Mode: fakecompute.FaultError, Code: 503},
		{Method: "globalOperations.wait", Fraction: 0.2, Count: 4, Mode: fakecompute.FaultError, Code: 503},
	} {
		if err := env.Fake.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	env.Fake.SetWriteRateLimit(5, 3)
	startManager(t, env, "m1", routeArgs...)
	var want []string
	for i, vm := range vms {
		n := createNodeWithCIDRs(t, env, vm.Name, fmt.Sprintf("10.244.%d.0/24", i+1))
		want = append(want, fmt.Sprintf("itest-%s 10.244.%d.0/24 -> %s", n.UID, i+1, vm.Name))
	}
	wantRoutes(t, env, want...)
}

// Regression (issue 11): a route with the node's route name, range and next
// hop that was made by hand (not our description) is not the node's route:
// the node stays NetworkUnavailable=True with the reason and an event, and
// no insert is sent for it (before, one 409 per reconcile).
func TestRoutesNameTakenByRouteNotOurs(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, seed("node-a", "us-central1-a"))
	startManager(t, env, "m1", routeArgs...)
	// The node first, so that its UID, which names its route, is known;
	// its pod CIDR comes later, as kube-controller-manager's IPAM gives it.
	createNode(t, env, "node-a")
	a, err := env.Admin.CoreV1().Nodes().Get(t.Context(), "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name := "itest-" + string(a.UID)
	insertRouteJSON(t, env, fmt.Sprintf(`{"name":%q,"network":"global/networks/default","destRange":"10.244.1.0/24",`+
		`"nextHopInstance":"zones/us-central1-a/instances/node-a","description":"made by hand"}`, name))
	env.Fake.ResetCalls()
	a.Spec.PodCIDR, a.Spec.PodCIDRs = "10.244.1.0/24", []string{"10.244.1.0/24"}
	if _, err := env.Admin.CoreV1().Nodes().Update(t.Context(), a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNetworkCondition(t, env, "node-a", corev1.ConditionTrue, "RouteNameTaken")
	waitEvent(t, env, "node-a", "FailedToCreateRoute", "not a pod route of this cluster")
	// Several periods later: still no write.
	eventually(t, 60*time.Second, "route lists", func(context.Context) (bool, string) {
		n := env.Fake.Calls()["routes.list"]["ok"]
		return n >= 3, fmt.Sprintf("%d lists", n)
	})
	for method, results := range env.Fake.Calls() {
		if isWrite(method) {
			t.Errorf("wrote for a route name held by a route not ours: %s %v", method, results)
		}
	}
	if s, _, _ := networkCondition(t.Context(), env, "node-a"); s != corev1.ConditionTrue {
		t.Errorf("node-a NetworkUnavailable=%s on a route that is not ours", s)
	}
}

// TestRoutesLeaderFailoverMidway: the leader dies while the routes of 30
// new nodes are being made; the new leader finishes them from one list,
// writing none twice and deleting none.
func TestRoutesLeaderFailoverMidway(t *testing.T) {
	const n = 30
	var vms []fakecompute.InstanceSeed
	for i := range n {
		vms = append(vms, seed(fmt.Sprintf("node-%02d", i), []string{"us-central1-a", "us-central1-b", "us-central1-c"}[i%3]))
	}
	// Writes at 5 per second, each done after 300ms: the routes take
	// about six seconds, and the leader dies after the first.
	env, err := harness.Start(t.Context(), harness.Options{Fake: fakecompute.Config{Latency: 300 * time.Millisecond}, Instances: vms,
		ManagerBinary: managerBinary, GCEConfExtra: []string{"api-write-qps = 5", "api-write-burst = 1"}})
	if err != nil {
		t.Fatalf("start environment: %v", err)
	}
	t.Cleanup(env.Stop)
	m1 := startManager(t, env, "m1", routeArgs...)
	m2 := startManager(t, env, "m2", routeArgs...)
	eventually(t, 60*time.Second, "a leader", func(context.Context) (bool, string) {
		return strings.Contains(m1.Log()+m2.Log(), "Starting route controller"), "no route controller started"
	})
	leader, survivor := m1, m2
	if !strings.Contains(m1.Log(), "Starting route controller") {
		leader, survivor = m2, m1
	}

	var want []string
	for i, vm := range vms {
		node := createNodeWithCIDRs(t, env, vm.Name, fmt.Sprintf("10.244.%d.0/24", i+1))
		want = append(want, fmt.Sprintf("itest-%s 10.244.%d.0/24 -> %s", node.UID, i+1, vm.Name))
	}
	eventually(t, 60*time.Second, "the first route", func(context.Context) (bool, string) {
		got := len(env.Fake.Dump().Routes)
		return got > 0, fmt.Sprintf("%d routes", got)
	})
	leader.Kill()
	if got := len(env.Fake.Dump().Routes); got >= n {
		t.Logf("the leader made all %d routes before it died; the failover is not mid-way on this run", got)
	}
	eventually(t, 90*time.Second, "the survivor leads", func(context.Context) (bool, string) {
		return strings.Contains(survivor.Log(), "Starting route controller"), "survivor has not started its route controller"
	})
	wantRoutes(t, env, want...)
	for _, vm := range vms {
		networkAvailable(t, env, vm.Name)
	}
	calls := env.Fake.Calls()
	if got := calls["routes.insert"]["ok"]; got > n {
		t.Errorf("routes.insert accepted %d times for %d routes", got, n)
	}
	if got := calls["routes.delete"]; len(got) != 0 {
		t.Errorf("routes deleted across the failover: %v", got)
	}
}

// TestRoutesUpstreamControllerSelectable: --route-controller=upstream runs
// k8s.io/cloud-provider's route controller (kept for comparison); any other
// value is refused at start.
func TestRoutesUpstreamControllerSelectable(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, seed("node-a", "us-central1-a"))
	m := startManager(t, env, "m1", append(slices.Clone(routeArgs), "--route-controller=upstream")...)
	a := createNodeWithCIDRs(t, env, "node-a", "10.244.1.0/24")
	wantRoutes(t, env, "itest-"+string(a.UID)+" 10.244.1.0/24 -> node-a")
	waitNetworkCondition(t, env, "node-a", corev1.ConditionFalse, "RouteCreated")
	if strings.Contains(m.Log(), "route controller\" cluster") || !strings.Contains(m.Log(), "Starting route controller") {
		t.Errorf("the manager log does not show the upstream route controller:\n%s", tail(m.Log(), 30))
	}

	bad, err := env.StartManager("bad", "--route-controller=mine")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	code, err := bad.Wait(ctx)
	if err != nil {
		bad.Kill()
		t.Fatalf("manager did not exit: %v\n%s", err, tail(bad.Log(), 20))
	}
	if code == 0 || !strings.Contains(bad.Log(), `want "gce-ccm" or "upstream", got "mine"`) {
		t.Errorf("--route-controller=mine: exit code %d, output:\n%s", code, tail(bad.Log(), 10))
	}
}

func isWrite(method string) bool {
	for _, w := range []string{".insert", ".delete", ".patch", ".update", ".set", ".add", ".remove"} {
		if strings.Contains(method, w) {
			return true
		}
	}
	return false
}

func waitEvent(t *testing.T, env *harness.Env, node, reason, mentions string) {
	t.Helper()
	eventually(t, 60*time.Second, reason+" event on "+node, func(ctx context.Context) (bool, string) {
		evs, err := env.Admin.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + node})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range evs.Items {
			if e.Reason == reason && e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, mentions) {
				return true, ""
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return false, fmt.Sprintf("events: %v", seen)
	})
}

func insertRouteJSON(t *testing.T, env *harness.Env, body string) {
	t.Helper()
	if status := postRouteJSON(t, env, body); status != http.StatusOK {
		t.Fatalf("insert route %s: %d", body, status)
	}
}

// postRouteJSON inserts a route through the fake's REST API and returns the
// HTTP status; the fake applies an accepted insert at once.
func postRouteJSON(t *testing.T, env *harness.Env, body string) int {
	t.Helper()
	url := fmt.Sprintf("%s/compute/v1/projects/%s/global/routes", env.Fake.URL(), harness.Project)
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func deleteRouteByName(t *testing.T, env *harness.Env, name string) {
	t.Helper()
	deleteAndWait(t, env, "global/routes/"+name)
}
