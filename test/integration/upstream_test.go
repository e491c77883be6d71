package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

// What the upstream fixture (shared/fixtures/upstream, see its README) was
// made with: the project, the cluster name and the cluster id upstream kept
// in the ConfigMap kube-system/ingress-uid.
const (
	upstreamDir       = "../../../shared/fixtures/upstream/" // shared/ is a sibling of the clone
	upstreamProject   = "fixture-project"
	upstreamCluster   = "fixture-cluster"
	upstreamClusterID = "6fae00c0892040ff"
	upstreamNodesHC   = "k8s-" + upstreamClusterID + "-node"
	upstreamNodesHCFW = upstreamNodesHC + "-http-hc"
	upstreamNodeTag   = "fixture-node"
	upstreamLink      = "https://www.googleapis.com/compute/v1/projects/" + upstreamProject + "/"
	netLBFinalizer    = "gke.networking.io/l4-netlb-v1"
	ilbFinalizer      = "gke.networking.io/l4-ilb-v1"
	upstreamConverge  = 90 * time.Second
)

// Resources of another cluster in the same project and network, which
// gce-ccm must leave exactly as they are whatever their names suggest.
const (
	otherRoute   = "other-cluster-0b9f3c2e-5d7a-4e1b-9c3d-2a1f0e9d8c7b"
	otherLB      = "aeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	otherFW      = "k8s-fw-" + otherLB
	otherHC      = "k8s-ffffffffffffffff-node"
	otherHCFW    = otherHC + "-http-hc"
	otherService = "other-namespace/other"
)

// upstreamObjects are the Kubernetes objects of k8s-created.yaml.
type upstreamObjects struct {
	configMap *corev1.ConfigMap
	nodes     []*corev1.Node
	services  []*corev1.Service
}

func readUpstreamObjects(t *testing.T) *upstreamObjects {
	t.Helper()
	f, err := os.Open(upstreamDir + "k8s-created.yaml")
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	defer f.Close()
	objs := &upstreamObjects{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(stripYAMLComments(doc)) == "" {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("k8s-created.yaml: %v", err)
		}
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			objs.configMap = o
		case *corev1.Node:
			objs.nodes = append(objs.nodes, o)
		case *corev1.Service:
			objs.services = append(objs.services, o)
		default:
			t.Fatalf("k8s-created.yaml: unexpected %T", obj)
		}
	}
	if objs.configMap == nil || len(objs.nodes) != 3 || len(objs.services) != 8 {
		t.Fatalf("k8s-created.yaml: configMap %v, %d nodes, %d services; want 1, 3, 8", objs.configMap != nil, len(objs.nodes), len(objs.services))
	}
	return objs
}

func stripYAMLComments(doc []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// readUpstreamLBNames returns service-uids.yaml's load balancer names by
// Service name (all in namespace default).
func readUpstreamLBNames(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(upstreamDir + "service-uids.yaml")
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var m map[string]struct {
		UID              string `json:"uid"`
		LoadBalancerName string `json:"loadBalancerName"`
	}
	if err := yaml.UnmarshalStrict(raw, &m); err != nil {
		t.Fatalf("service-uids.yaml: %v", err)
	}
	out := map[string]string{}
	for key, v := range m {
		name, ok := strings.CutPrefix(key, lbNamespace+"/")
		if !ok || v.LoadBalancerName == "" {
			t.Fatalf("service-uids.yaml: unexpected entry %s: %+v", key, v)
		}
		out[name] = v.LoadBalancerName
	}
	return out
}

// createUpstreamObjects creates the fixture's objects as its README says:
// without resourceVersion, uid and managedFields, Nodes without the
// not-ready taint the apiserver adds, Services with their captured
// status.loadBalancer. It returns the created Nodes and Services by name;
// their UIDs are new.
func createUpstreamObjects(t *testing.T, env *harness.Env, objs *upstreamObjects) (map[string]*corev1.Node, map[string]*corev1.Service) {
	t.Helper()
	ctx := t.Context()
	clean := func(m *metav1.ObjectMeta) {
		m.ResourceVersion, m.UID, m.ManagedFields = "", "", nil
	}
	cm := objs.configMap.DeepCopy()
	clean(&cm.ObjectMeta)
	if _, err := env.Admin.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ConfigMap %s: %v", cm.Name, err)
	}

	nodes := map[string]*corev1.Node{}
	for _, fixture := range objs.nodes {
		n := fixture.DeepCopy()
		clean(&n.ObjectMeta)
		if _, err := env.Admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create Node %s: %v", n.Name, err)
		}
		var created *corev1.Node
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := env.Admin.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Spec.Taints = slices.DeleteFunc(cur.Spec.Taints, func(tt corev1.Taint) bool { return tt.Key == corev1.TaintNodeNotReady })
			created, err = env.Admin.CoreV1().Nodes().Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("remove the not-ready taint of Node %s: %v", n.Name, err)
		}
		if len(created.Spec.Taints) != 0 || !cmp.Equal(created.Status.Addresses, fixture.Status.Addresses) {
			t.Fatalf("Node %s as created: taints %v, addresses %v; want none and %v", n.Name, created.Spec.Taints, created.Status.Addresses, fixture.Status.Addresses)
		}
		nodes[n.Name] = created
	}

	services := map[string]*corev1.Service{}
	for _, fixture := range objs.services {
		s := fixture.DeepCopy()
		clean(&s.ObjectMeta)
		s.Status = corev1.ServiceStatus{}
		created, err := env.Admin.CoreV1().Services(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create Service %s: %v", s.Name, err)
		}
		created.Status.LoadBalancer = fixture.Status.LoadBalancer
		if created, err = env.Admin.CoreV1().Services(s.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("set status of Service %s: %v", s.Name, err)
		}
		if !slices.Equal(created.Finalizers, fixture.Finalizers) {
			t.Fatalf("Service %s created with finalizers %v, want %v", s.Name, created.Finalizers, fixture.Finalizers)
		}
		services[s.Name] = created
	}
	return nodes, services
}

// renameUpstreamState rewrites state-created.json for the re-created
// objects: every old load balancer name becomes the new Service UID's, and
// every route name with an old Node UID gets the new one.
func renameUpstreamState(t *testing.T, objs *upstreamObjects, oldLB map[string]string, nodes map[string]*corev1.Node, services map[string]*corev1.Service) *fakecompute.Dump {
	t.Helper()
	raw, err := os.ReadFile(upstreamDir + "state-created.json")
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var pairs []string
	for name, old := range oldLB {
		svc, ok := services[name]
		if !ok {
			t.Fatalf("service-uids.yaml names %s, which k8s-created.yaml does not hold", name)
		}
		pairs = append(pairs, old, lbNameOf(svc))
	}
	for _, n := range objs.nodes {
		pairs = append(pairs, upstreamCluster+"-"+string(n.UID), upstreamCluster+"-"+string(nodes[n.Name].UID))
	}
	renamed := strings.NewReplacer(pairs...).Replace(string(raw))
	for i := 0; i < len(pairs); i += 2 {
		if strings.Contains(renamed, pairs[i]) {
			t.Fatalf("state after renaming still holds %s", pairs[i])
		}
	}
	d, err := fakecompute.ParseDump([]byte(renamed))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// cloneJSON deep-copies a compute resource.
func cloneJSON[T any](t *testing.T, v *T) *T {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// addOtherCluster adds another cluster's resources to d, modelled on the
// fixture's own: a route with gce-ccm's route description whose range lies
// in this cluster's CIDR and belongs to no Node, a load balancer firewall
// named like ours, and a shared health check and its firewall named like
// ours but with another cluster id.
func addOtherCluster(t *testing.T, d *fakecompute.Dump) {
	t.Helper()
	id := uint64(7000000000000000000)
	nextID := func() uint64 { id++; return id }

	route := cloneJSON(t, d.Routes[0])
	route.Name, route.SelfLink, route.Id = otherRoute, upstreamLink+"global/routes/"+otherRoute, nextID()
	route.DestRange = "10.64.200.0/24"
	route.NextHopInstance = upstreamLink + "zones/us-central1-a/instances/fx-node-a"
	d.Routes = append(d.Routes, route)

	var nodesHC *compute.HttpHealthCheck
	for _, h := range d.HTTPHealthChecks {
		if h.Name == upstreamNodesHC {
			nodesHC = h
		}
	}
	var lbFW, hcFW *compute.Firewall
	for _, f := range d.Firewalls {
		switch {
		case f.Name == upstreamNodesHCFW:
			hcFW = f
		case strings.HasPrefix(f.Name, "k8s-fw-") && lbFW == nil:
			lbFW = f
		}
	}
	if nodesHC == nil || lbFW == nil || hcFW == nil {
		t.Fatal("the fixture lacks the shared health check, its firewall or a load balancer firewall")
	}
	hc := cloneJSON(t, nodesHC)
	hc.Name, hc.SelfLink, hc.Id = otherHC, upstreamLink+"global/httpHealthChecks/"+otherHC, nextID()
	hc.Description = fmt.Sprintf(`{"kubernetes.io/service-name":%q}`, otherHC)
	d.HTTPHealthChecks = append(d.HTTPHealthChecks, hc)

	fw := cloneJSON(t, lbFW)
	fw.Name, fw.SelfLink, fw.Id = otherFW, upstreamLink+"global/firewalls/"+otherFW, nextID()
	fw.Description = fmt.Sprintf(`{"kubernetes.io/service-name":%q, "kubernetes.io/service-ip":"198.18.1.200"}`, otherService)
	fw.DestinationRanges = []string{"198.18.1.200"}
	fw.TargetTags = []string{upstreamNodeTag}
	d.Firewalls = append(d.Firewalls, fw)

	hcfw := cloneJSON(t, hcFW)
	hcfw.Name, hcfw.SelfLink, hcfw.Id = otherHCFW, upstreamLink+"global/firewalls/"+otherHCFW, nextID()
	hcfw.Description = `{"kubernetes.io/cluster-id":"ffffffffffffffff"}`
	hcfw.DestinationRanges = []string{"198.18.1.200"}
	d.Firewalls = append(d.Firewalls, hcfw)
}

// resourcesOf flattens a dump into each resource's JSON by "kind name".
func resourcesOf(t *testing.T, d *fakecompute.Dump) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	add := func(kind, name string, v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		out[kind+" "+name] = m
	}
	for _, x := range d.Instances {
		add("instance", x.Name, x)
	}
	for _, x := range d.Routes {
		add("route", x.Name, x)
	}
	for _, x := range d.Addresses {
		add("address", x.Name, x)
	}
	for _, x := range d.ForwardingRules {
		add("forwardingRule", x.Name, x)
	}
	for _, x := range d.TargetPools {
		add("targetPool", x.Name, x)
	}
	for _, x := range d.Firewalls {
		add("firewall", x.Name, x)
	}
	for _, x := range d.HTTPHealthChecks {
		add("httpHealthCheck", x.Name, x)
	}
	return out
}

// stateDiff lists what differs between two flattened dumps, per resource.
func stateDiff(before, after map[string]map[string]any) []string {
	var out []string
	for key, b := range before {
		a, ok := after[key]
		if !ok {
			out = append(out, key+": deleted")
			continue
		}
		if diff := cmp.Diff(b, a); diff != "" {
			out = append(out, fmt.Sprintf("%s changed (-before +after):\n%s", key, diff))
		}
	}
	for key := range after {
		if _, ok := before[key]; !ok {
			out = append(out, key+": created")
		}
	}
	sort.Strings(out)
	return out
}

// TestUpstreamFixture: gce-ccm adopts the routes and network load balancers
// that the long-standing GCE provider (kubernetes/cloud-provider-gcp) made,
// as captured in shared/fixtures/upstream, without writing to GCE except
// where it deliberately differs; it builds the internal load balancer the
// fixture's internal Service never got (upstream failed on the fake of the
// time), writing only that; deleting the Services cleans up everything of
// theirs; and another cluster's resources stay untouched throughout.
func TestUpstreamFixture(t *testing.T) {
	objs := readUpstreamObjects(t)
	oldLB := readUpstreamLBNames(t)
	env, err := harness.Start(t.Context(), harness.Options{
		Fake:          fakecompute.Config{Project: upstreamProject, Zones: zones},
		ManagerBinary: managerBinary,
		NetworkName:   upstreamLink + "global/networks/default",
		GCEConfExtra: []string{
			"subnetwork-name = " + upstreamLink + "regions/us-central1/subnetworks/default",
			"node-tags = " + upstreamNodeTag,
		},
	})
	if err != nil {
		t.Fatalf("start environment: %v", err)
	}
	t.Cleanup(env.Stop)

	nodes, services := createUpstreamObjects(t, env, objs)
	state := renameUpstreamState(t, objs, oldLB, nodes, services)
	addOtherCluster(t, state)
	if err := env.Fake.Load(state); err != nil {
		t.Fatal(err)
	}
	loaded := env.Fake.Dump()
	before := resourcesOf(t, loaded)
	foreignKeys := []string{"route " + otherRoute, "firewall " + otherFW, "firewall " + otherHCFW, "httpHealthCheck " + otherHC}

	// What the fixture's Services are: the ingress IPs upstream gave them,
	// and which ones are external.
	wantIP := map[string]string{}
	var external, clusterPolicy []string
	var internal *corev1.Service
	for _, fixture := range objs.services {
		svc := services[fixture.Name]
		if svc.Annotations["networking.gke.io/load-balancer-type"] == "Internal" {
			internal = svc
			continue
		}
		external = append(external, svc.Name)
		wantIP[svc.Name] = ingressIP(fixture)
		if svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			clusterPolicy = append(clusterPolicy, svc.Name)
		}
		if wantIP[svc.Name] == "" {
			t.Fatalf("fixture Service %s has no ingress IP", svc.Name)
		}
	}
	if internal == nil || len(external) != 7 {
		t.Fatalf("fixture: internal %v, %d external Services; want one and 7", internal != nil, len(external))
	}

	env.Fake.ResetCalls()
	startManager(t, env, "m1",
		"--cluster-name="+upstreamCluster,
		"--configure-cloud-routes=true",
		"--cluster-cidr=10.64.0.0/14",
		// Faster than upstream's 10s default, and informer resyncs, which
		// are the route controller's periodic reconcile (as in
		// routes_test.go), so that the test sees reconciles sooner; what a
		// reconcile does does not depend on them.
		"--route-reconciliation-period=2s",
		"--min-resync-period=5s",
	)

	// (a), (b), (c): every external Service synced with its fixture IP, the
	// internal one built, and the routes reconciled: the route
	// controller lists, creates what is missing and waits for it before
	// listing again, so a second list means one whole reconcile is done.
	for _, name := range external {
		waitCondition(t, env, name, metav1.ConditionTrue, "Synced")
	}
	waitCondition(t, env, internal.Name, metav1.ConditionTrue, "Synced")
	eventually(t, upstreamConverge, "two route reconciles", func(context.Context) (bool, string) {
		n := env.Fake.Calls()["routes.list"]["ok"]
		return n >= 2, fmt.Sprintf("%d route lists", n)
	})
	adoptionWrites := writes(env)
	t.Logf("calls while adopting: %v", env.Fake.Calls())

	// The only write adoption may make: upstream created the shared
	// health-check firewall with the IP of the first Service it synced
	// (web) as its only destination and never widened it, so the probers
	// could not reach the nodes for the other Cluster-policy LBs; gce-ccm
	// deliberately names no destination there (the firewall serves every
	// such LB's IP), and clearing a list takes one update (PUT), or a patch.
	// Anything else is a finding.
	// The internal Service's load balancer is built, not adopted: its
	// writes are the build's (a group and its members per zone, the shared
	// health check, the backend service, the rule and two firewalls).
	allowedWrites := map[string]int{"firewalls.update": 1, "firewalls.patch": 1,
		"instanceGroups.insert": 3, "instanceGroups.addInstances": 3, "healthChecks.insert": 1,
		"regionBackendServices.insert": 1, "forwardingRules.insert": 1, "firewalls.insert": 2}
	widened := 0
	for method, n := range adoptionWrites {
		if method == "firewalls.update" || method == "firewalls.patch" {
			widened += n
		}
		if n > allowedWrites[method] {
			t.Errorf("adoption wrote %s %d times (allowed: %d)", method, n, allowedWrites[method])
		}
	}
	if widened > 1 {
		t.Errorf("adoption changed firewalls %d times, want at most one (the shared health-check firewall)", widened)
	}

	// The resource diff shows the same from the other side: nothing of the
	// fixture or of the other cluster changed but the shared health-check
	// firewall's destination ranges, which now admit every LB's IP.
	adopted := env.Fake.Dump()
	after := resourcesOf(t, adopted)
	hcFWKey := "firewall " + upstreamNodesHCFW
	if fw := after[hcFWKey]; fw != nil {
		var got []string
		for _, r := range asStrings(fw["destinationRanges"]) {
			got = append(got, strings.TrimSuffix(r, "/32"))
		}
		for _, name := range clusterPolicy {
			if len(got) > 0 && !slices.Contains(got, wantIP[name]) {
				t.Errorf("shared health-check firewall's destination ranges %v do not admit %s's IP %s", got, name, wantIP[name])
			}
		}
	}
	internalKeys := []string{"forwardingRule " + lbNameOf(internal), "firewall k8s-fw-" + lbNameOf(internal), "firewall " + upstreamNodesHC + "-hc"}
	for _, key := range internalKeys {
		if after[key] == nil {
			t.Errorf("internal Service's %s not built", key)
		}
	}
	beforeCmp, afterCmp := withoutDestinations(before, hcFWKey), withoutDestinations(withoutKeys(after, internalKeys), hcFWKey)
	if diff := stateDiff(beforeCmp, afterCmp); len(diff) != 0 {
		t.Errorf("adoption changed GCE resources:\n%s", strings.Join(diff, "\n"))
	}

	for _, name := range external {
		if got := ingressIP(getService(t, env, name)); got != wantIP[name] {
			t.Errorf("Service %s: ingress IP %q, want the fixture's %s", name, got, wantIP[name])
		}
	}
	for _, name := range external {
		if got := getService(t, env, name).Finalizers; !slices.Contains(got, netLBFinalizer) || !slices.Contains(got, finalizer) {
			t.Errorf("Service %s: finalizers %v, want upstream's %s and %s kept", name, got, netLBFinalizer, finalizer)
		}
	}
	if got := getService(t, env, internal.Name); !strings.HasPrefix(ingressIP(got), "10.128.") || !slices.Contains(got.Finalizers, ilbFinalizer) {
		t.Errorf("internal Service: ingress %v, finalizers %v; want an IP of the subnetwork and %s", got.Status.LoadBalancer, got.Finalizers, ilbFinalizer)
	}

	// Quiet afterwards too: one more route reconcile later, nothing more
	// was written.
	lists := env.Fake.Calls()["routes.list"]["ok"]
	eventually(t, upstreamConverge, "two more route reconciles", func(context.Context) (bool, string) {
		n := env.Fake.Calls()["routes.list"]["ok"]
		return n >= lists+2, fmt.Sprintf("%d route lists", n)
	})
	if w := writes(env); !cmp.Equal(w, adoptionWrites) {
		t.Errorf("writes went on after adoption: %v, were %v", w, adoptionWrites)
	}

	// (d): deleting each external Service removes everything of it, in the
	// fixture's order (dns and sticky first) and then the others; the
	// shared health check goes with the last Cluster-policy Service.
	env.Fake.ResetCalls()
	order := []string{"dns", "sticky"}
	for _, name := range external {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	remaining := slices.Clone(clusterPolicy)
	for _, name := range order {
		svc := services[name]
		deleteService(t, env, name)
		waitServiceGone(t, env, upstreamConverge, name)
		waitNoLeftovers(t, env, upstreamConverge, svc)
		remaining = slices.DeleteFunc(remaining, func(s string) bool { return s == name })
		d := env.Fake.Dump()
		var hc *compute.HttpHealthCheck
		for _, h := range d.HTTPHealthChecks {
			if h.Name == upstreamNodesHC {
				hc = h
			}
		}
		if len(remaining) > 0 && hc == nil {
			t.Errorf("after deleting %s: shared health check %s gone while %v use it", name, upstreamNodesHC, remaining)
		}
	}
	eventually(t, upstreamConverge, "shared health check and its firewall gone", func(context.Context) (bool, string) {
		res := resourcesOf(t, env.Fake.Dump())
		var left []string
		for _, key := range []string{"httpHealthCheck " + upstreamNodesHC, hcFWKey} {
			if res[key] != nil {
				left = append(left, key)
			}
		}
		return len(left) == 0, fmt.Sprintf("left: %v", left)
	})
	t.Logf("calls while deleting the external Services: %v", env.Fake.Calls())
	// Deleting writes only deletes, each resource once: 7 rules and pools,
	// 7 load balancer firewalls plus local's and the shared health-check
	// firewalls, local's and the shared health check. Like upstream,
	// gce-ccm also tries the shared health check after each Cluster-policy
	// Service and gets resourceInUseByAnotherResource while pools use it;
	// only the successful deletes are counted here.
	wantDeletes := map[string]int{"forwardingRules.delete": 7, "targetPools.delete": 7, "firewalls.delete": 9, "httpHealthChecks.delete": 2}
	gotDeletes := map[string]int{}
	for method := range writes(env) {
		gotDeletes[method] = env.Fake.Calls()[method]["ok"]
	}
	if diff := cmp.Diff(wantDeletes, gotDeletes); diff != "" {
		t.Errorf("successful writes while deleting the external Services (-want +got):\n%s", diff)
	}

	// What is left is exactly what is no Service's: the VMs and their
	// routes, the user's address (never released, as loaded: no rule uses
	// it now) and the other cluster's resources, unchanged. The internal
	// Service has none.
	final := resourcesOf(t, env.Fake.Dump())
	for _, key := range foreignKeys {
		if diff := cmp.Diff(before[key], final[key]); diff != "" {
			t.Errorf("%s of another cluster changed (-loaded +now):\n%s", key, diff)
		}
	}
	var rest []string
	for key := range final {
		if !strings.HasPrefix(key, "instance ") && !strings.HasPrefix(key, "route ") && !slices.Contains(foreignKeys, key) && !slices.Contains(internalKeys, key) {
			rest = append(rest, key)
		}
	}
	slices.Sort(rest)
	if want := []string{"address user-reserved-ip"}; !slices.Equal(rest, want) {
		t.Errorf("GCE resources left: %v, want %v", rest, want)
	}
	if a := final["address user-reserved-ip"]; a != nil {
		if a["address"] != "198.18.0.4" || a["status"] != fakecompute.AddressReserved || a["description"] != nil {
			t.Errorf("user-reserved-ip after its Service went: %v, want 198.18.0.4 RESERVED with no description", a)
		}
	}
	for _, n := range objs.nodes {
		key := "route " + upstreamCluster + "-" + string(nodes[n.Name].UID)
		if diff := cmp.Diff(before[key], final[key]); diff != "" {
			t.Errorf("%s changed (-loaded +now):\n%s", key, diff)
		}
	}

	// (e): the internal Service goes too, with its internal load balancer
	// and what internal load balancers share (instance groups, the shared
	// health check), and upstream's ILB finalizer.
	deleteService(t, env, internal.Name)
	eventually(t, upstreamConverge, "internal Service gone", func(ctx context.Context) (bool, string) {
		cur, err := env.Admin.CoreV1().Services(lbNamespace).Get(ctx, internal.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("still there with finalizers %v, deletionTimestamp %v", cur.Finalizers, cur.DeletionTimestamp)
	})
	eventually(t, upstreamConverge, "nothing of the internal load balancer left", func(context.Context) (bool, string) {
		d := env.Fake.Dump()
		res := resourcesOf(t, d)
		var left []string
		for _, key := range internalKeys {
			if res[key] != nil {
				left = append(left, key)
			}
		}
		for _, h := range d.HealthChecks {
			left = append(left, "healthCheck "+h.Name)
		}
		for _, b := range d.BackendServices {
			left = append(left, "backendService "+b.Name)
		}
		for _, g := range d.InstanceGroups {
			left = append(left, "instanceGroup "+g.Name)
		}
		return len(left) == 0, fmt.Sprintf("left %v", left)
	})
}

// withoutKeys is res without keys.
func withoutKeys(res map[string]map[string]any, keys []string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for k, v := range res {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

// withoutDestinations is res with the destination ranges of key removed
// and its source ranges sorted: a firewall update that sends the same
// ranges in another order changes nothing it admits.
func withoutDestinations(res map[string]map[string]any, key string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for k, v := range res {
		out[k] = v
	}
	if v := res[key]; v != nil {
		c := map[string]any{}
		for f, x := range v {
			switch f {
			case "destinationRanges":
			case "sourceRanges":
				c[f] = sorted(asStrings(x))
			default:
				c[f] = x
			}
		}
		out[key] = c
	}
	return out
}

func asStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
