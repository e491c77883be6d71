package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/pkg/audit"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

// The audit tests run `gce-cloud-controller-manager audit` against a
// cluster that the manager built (routes and load balancers), then change
// the cluster while no manager runs so that resources leak, plant another
// cluster's lookalikes through the fake's Load, and check what the audit
// reports, deletes and leaves alone.

// auditRun is one run of the audit subcommand.
type auditRun struct {
	code           int
	stdout, stderr string
}

// runAuditCmd runs the manager binary's audit subcommand with the admin's
// kubeconfig and the harness's gce.conf, stdin as its input.
func runAuditCmd(t *testing.T, env *harness.Env, stdin string, args ...string) auditRun {
	t.Helper()
	args = append([]string{"audit", "--cloud-config=" + env.GCEConf, "--kubeconfig=" + env.CP.AdminKubeconfig, "--cluster-name=" + clusterName}, args...)
	cmd := exec.CommandContext(t.Context(), managerBinary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return auditRun{code: exit.ExitCode(), stdout: out.String(), stderr: errOut.String()}
	case err != nil:
		t.Fatalf("run audit: %v", err)
	}
	return auditRun{stdout: out.String(), stderr: errOut.String()}
}

// auditJSON runs the audit with -o json and decodes its report.
func auditJSON(t *testing.T, env *harness.Env, stdin string, args ...string) (audit.Report, auditRun) {
	t.Helper()
	r := runAuditCmd(t, env, stdin, append([]string{"-o", "json"}, args...)...)
	var rep audit.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("audit -o json (exit %d): %v\nstdout:\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
	}
	return rep, r
}

// findingSet is "status kind name" of each finding, sorted.
func findingSet(fs []audit.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s", f.Status, f.Kind, f.Name))
	}
	slices.Sort(out)
	return out
}

// resourceSet is "kind name" of every resource the fake holds but VMs.
func resourceSet(d *fakecompute.Dump) []string {
	var out []string
	for _, r := range d.Routes {
		out = append(out, "route "+r.Name)
	}
	for _, a := range d.Addresses {
		out = append(out, "address "+a.Name)
	}
	for _, r := range d.ForwardingRules {
		out = append(out, "forwardingRule "+r.Name)
	}
	for _, p := range d.TargetPools {
		out = append(out, "targetPool "+p.Name)
	}
	for _, f := range d.Firewalls {
		out = append(out, "firewall "+f.Name)
	}
	for _, h := range d.HTTPHealthChecks {
		out = append(out, "httpHealthCheck "+h.Name)
	}
	for _, b := range d.BackendServices {
		out = append(out, "backendService "+b.Name)
	}
	for _, h := range d.HealthChecks {
		out = append(out, "healthCheck "+h.Name)
	}
	for _, g := range d.InstanceGroups {
		out = append(out, "instanceGroup "+g.Name)
	}
	slices.Sort(out)
	return out
}

// internal asks for an internal load balancer.
func internal(s *corev1.Service) {
	s.Annotations = map[string]string{"networking.gke.io/load-balancer-type": "Internal"}
}

// waitSynced waits until the manager reports the Service's load balancer
// built: condition LoadBalancerSynced True and an ingress IP.
func waitSynced(t *testing.T, env *harness.Env, names ...string) {
	t.Helper()
	for _, name := range names {
		waitCondition(t, env, name, metav1.ConditionTrue, "Synced")
		waitIngress(t, env, name)
	}
}

// ofLB lists "kind name" of the resources whose names contain a load
// balancer's name.
func ofLB(d *fakecompute.Dump, svc *corev1.Service) []string {
	var out []string
	for _, r := range resourceSet(d) {
		if strings.Contains(r, lbNameOf(svc)) {
			out = append(out, r)
		}
	}
	return out
}

// auditCluster starts the fake with VMs node-0..n-1 (tag "node") and
// other-0 (another cluster's, tag "other"), the cluster id, a manager with
// routes on, and initialised nodes with pod CIDRs whose routes exist.
func auditCluster(t *testing.T, n int) (*harness.Env, *harness.Manager, []*corev1.Node) {
	t.Helper()
	var vms []fakecompute.InstanceSeed
	for i := range n {
		vms = append(vms, lbSeed(fmt.Sprintf("node-%d", i), zones[i%len(zones)]))
	}
	other := seed("other-0", zones[0])
	other.Tags = []string{"other"}
	vms = append(vms, other)
	env := startEnv(t, fakecompute.Config{}, vms...)
	createClusterID(t, env, lbClusterID)
	m := startManager(t, env, "m1", routeArgs...)
	var nodes []*corev1.Node
	var want []string
	for i := range n {
		name := fmt.Sprintf("node-%d", i)
		cidr := fmt.Sprintf("10.244.%d.0/24", i)
		node := createNodeWithCIDRs(t, env, name, cidr)
		nodes = append(nodes, node)
		want = append(want, fmt.Sprintf("%s-%s %s -> %s", clusterName, node.UID, cidr, name))
	}
	for i := range n {
		waitInitialised(t, env, fmt.Sprintf("node-%d", i))
	}
	wantRoutes(t, env, want...)
	return env, m, nodes
}

func localPolicy(s *corev1.Service) {
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
}

// waitLocalLB waits for an externalTrafficPolicy Local Service's load
// balancer.
func waitLocalLB(t *testing.T, env *harness.Env, name string, instances ...string) *corev1.Service {
	t.Helper()
	svc := getService(t, env, name)
	waitLB(t, env, svc, lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, hcPort: int64(svc.Spec.HealthCheckNodePort), instances: instances})
	return svc
}

// TestAuditHealthyCluster: in a cluster whose routes and load balancers
// (external and internal, Cluster and Local traffic policy) are all
// accounted for, the audit reports nothing and exits 0, and
// --delete --yes writes nothing.
func TestAuditHealthyCluster(t *testing.T) {
	env, m, _ := auditCluster(t, 2)
	nodes := []string{"node-0", "node-1"}
	web := createService(t, env, lbService("web"))
	createService(t, env, lbService("local", localPolicy))
	createService(t, env, lbService("int", internal))
	createService(t, env, lbService("int-local", internal, localPolicy))
	waitLB(t, env, web, lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: nodes})
	waitLocalLB(t, env, "local", nodes...)
	waitSynced(t, env, "int", "int-local")
	m.Stop()
	if d := env.Fake.Dump(); len(d.BackendServices) != 2 || len(d.InstanceGroups) == 0 {
		t.Fatalf("internal load balancers: %d backend services, %d instance groups", len(d.BackendServices), len(d.InstanceGroups))
	}

	env.Fake.ResetCalls()
	rep, r := auditJSON(t, env, "")
	if r.code != audit.ExitClean || len(rep.Findings) != 0 {
		t.Errorf("audit of a healthy cluster: exit %d, findings %v\nstderr: %s", r.code, findingSet(rep.Findings), r.stderr)
	}
	// One paged list per kind, no read of single resources.
	t.Logf("the audit's Compute calls: %v", env.Fake.Calls())
	for method, results := range env.Fake.Calls() {
		n := 0
		for _, c := range results {
			n += c
		}
		if !strings.HasSuffix(method, ".list") && !strings.HasSuffix(method, ".aggregatedList") || n != 1 {
			t.Errorf("the audit called %s %d times; want one list call per kind and nothing else", method, n)
		}
	}
	if rep.Cluster.ID != lbClusterID || rep.Cluster.Name != clusterName {
		t.Errorf("report's cluster %+v, want name %s id %s", rep.Cluster, clusterName, lbClusterID)
	}
	table := runAuditCmd(t, env, "", "--delete", "--yes")
	if table.code != audit.ExitClean || !strings.Contains(table.stdout, "0 leaked, 0 missing, 0 skipped") {
		t.Errorf("audit --delete --yes: exit %d\n%s%s", table.code, table.stdout, table.stderr)
	}
	if w := writes(env); len(w) != 0 {
		t.Errorf("the audit of a healthy cluster wrote to GCE: %v", w)
	}
}

// Another cluster's resources that look like ours: a load balancer whose
// pool serves its own VM and uses its own shared health check, that shared
// check and its firewall, and a route whose name begins with our cluster's
// prefix.
const (
	otherClusterID = "ffffffffffffffff"
	otherLBName    = "a0123456789abcdef0123456789abcde"
	otherIP        = "198.18.1.200"
	lookalikeRoute = clusterName + "-b-0f0f0f0f-1111-2222-3333-444444444444"
)

// plantOtherCluster adds another cluster's lookalikes to the fake, modelled
// on the resources of ours (keep's load balancer, the shared health check).
func plantOtherCluster(t *testing.T, env *harness.Env, keep *corev1.Service) {
	t.Helper()
	d := env.Fake.Dump()
	lb := lbNameOf(keep)
	id := uint64(8000000000000000000)
	nextID := func() uint64 { id++; return id }
	rename := func(link, from, to string) string {
		return link[:strings.LastIndexByte(link, '/')+1] + strings.Replace(link[strings.LastIndexByte(link, '/')+1:], from, to, 1)
	}
	otherHC, otherHCFW := "k8s-"+otherClusterID+"-node", "k8s-"+otherClusterID+"-node-http-hc"
	var hcLink string
	for _, h := range d.HTTPHealthChecks {
		if h.Name == nodesHC {
			hc := cloneJSON(t, h)
			hc.Name, hc.SelfLink, hc.Id = otherHC, rename(h.SelfLink, nodesHC, otherHC), nextID()
			hc.Description = fmt.Sprintf(`{"kubernetes.io/service-name":%q}`, otherHC)
			hcLink = hc.SelfLink
			d.HTTPHealthChecks = append(d.HTTPHealthChecks, hc)
		}
	}
	var poolLink, otherVM string
	for _, inst := range d.Instances {
		if inst.Name == "other-0" {
			otherVM = inst.SelfLink
		}
	}
	for _, p := range d.TargetPools {
		if p.Name == lb {
			tp := cloneJSON(t, p)
			tp.Name, tp.SelfLink, tp.Id = otherLBName, rename(p.SelfLink, lb, otherLBName), nextID()
			tp.Instances, tp.HealthChecks = []string{otherVM}, []string{hcLink}
			poolLink = tp.SelfLink
			d.TargetPools = append(d.TargetPools, tp)
		}
	}
	var added []*compute.ForwardingRule
	for _, r := range d.ForwardingRules {
		if r.Name == lb {
			fr := cloneJSON(t, r)
			fr.Name, fr.SelfLink, fr.Id = otherLBName, rename(r.SelfLink, lb, otherLBName), nextID()
			fr.IPAddress, fr.Target = otherIP, poolLink
			added = append(added, fr)
		}
	}
	d.ForwardingRules = append(d.ForwardingRules, added...)
	var fws []*compute.Firewall
	for _, f := range d.Firewalls {
		switch f.Name {
		case "k8s-fw-" + lb:
			fw := cloneJSON(t, f)
			fw.Name, fw.SelfLink, fw.Id = "k8s-fw-"+otherLBName, rename(f.SelfLink, lb, otherLBName), nextID()
			fw.Description = fmt.Sprintf(`{"kubernetes.io/service-name":"default/keep", "kubernetes.io/service-ip":%q}`, otherIP)
			fw.DestinationRanges, fw.TargetTags = []string{otherIP}, []string{"other"}
			fws = append(fws, fw)
		case nodesHCFW:
			fw := cloneJSON(t, f)
			fw.Name, fw.SelfLink, fw.Id = otherHCFW, rename(f.SelfLink, nodesHCFW, otherHCFW), nextID()
			fw.Description = fmt.Sprintf(`{"kubernetes.io/cluster-id":%q}`, otherClusterID)
			fw.TargetTags = []string{"other"}
			fws = append(fws, fw)
		}
	}
	d.Firewalls = append(d.Firewalls, fws...)
	r := cloneJSON(t, d.Routes[0])
	r.Name, r.SelfLink, r.Id = lookalikeRoute, rename(d.Routes[0].SelfLink, d.Routes[0].Name, lookalikeRoute), nextID()
	r.DestRange, r.NextHopInstance = "10.99.0.0/24", otherVM
	d.Routes = append(d.Routes, r)
	if len(added) != 1 || poolLink == "" || hcLink == "" || len(fws) != 2 {
		t.Fatalf("keep's load balancer or the shared health check is not in the fake: rules %d, pool %q, health check %q, firewalls %d", len(added), poolLink, hcLink, len(fws))
	}
	// Load refuses while an operation runs; the stopped manager's last
	// ones end on their own.
	eventually(t, 30*time.Second, "no operation running", func(context.Context) (bool, string) {
		n := env.Fake.RunningOperations()
		return n == 0, fmt.Sprintf("%d running", n)
	})
	if err := env.Fake.Load(d); err != nil {
		t.Fatalf("plant another cluster's resources: %v", err)
	}
}

// dropFinalizers lets a Service deleted while no manager runs go, as an
// admin who forces it does; its load balancer leaks.
func dropFinalizers(t *testing.T, env *harness.Env, name string) {
	t.Helper()
	updateService(t, env, name, func(s *corev1.Service) { s.Finalizers = nil })
}

// TestAuditLeaks: routes and load balancers leaked while no manager ran (a
// node deleted; Services deleted with their finalizers forced off, one on a
// user's reserved address, one internal; a Service changed to ClusterIP), a Service
// created meanwhile, and another cluster's lookalikes. The audit reports
// exactly the leaks (with the lookalikes and the user's address skipped and
// the new Service's resources missing); a declined --delete writes
// nothing; --delete --yes removes exactly the leaks; afterwards the audit
// is clean and a second --delete writes nothing.
func TestAuditLeaks(t *testing.T) {
	env, m, nodes := auditCluster(t, 3)
	all := []string{"node-0", "node-1", "node-2"}
	want := lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: all}
	userIP := reserveAddress(t, env, "user-ip")
	svcs := map[string]*corev1.Service{}
	for _, name := range []string{"keep", "gone", "to-clusterip"} {
		svcs[name] = createService(t, env, lbService(name))
	}
	svcs["on-user-ip"] = createService(t, env, lbService("on-user-ip", func(s *corev1.Service) { s.Spec.LoadBalancerIP = userIP }))
	createService(t, env, lbService("gone-local", localPolicy))
	createService(t, env, lbService("int-keep", internal))
	svcs["int-gone"] = createService(t, env, lbService("int-gone", internal, localPolicy))
	for _, name := range []string{"keep", "gone", "to-clusterip"} {
		waitLB(t, env, svcs[name], want)
	}
	waitSynced(t, env, "int-keep", "int-gone")
	onUser := want
	onUser.ip = userIP
	waitLB(t, env, svcs["on-user-ip"], onUser)
	svcs["gone-local"] = waitLocalLB(t, env, "gone-local", all...)
	m.Stop()
	intGone := ofLB(env.Fake.Dump(), svcs["int-gone"])
	if len(intGone) < 4 {
		t.Fatalf("internal load balancer of int-gone: %v", intGone)
	}

	// Leaks: a node, four Services, a type change.
	if err := env.Admin.CoreV1().Nodes().Delete(t.Context(), "node-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gone", "gone-local", "on-user-ip", "int-gone"} {
		deleteService(t, env, name)
		dropFinalizers(t, env, name)
	}
	waitServiceGone(t, env, time.Minute, "gone", "gone-local", "on-user-ip", "int-gone")
	updateService(t, env, "to-clusterip", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP })
	pending := createService(t, env, lbService("pending"))
	plantOtherCluster(t, env, svcs["keep"])

	var wantLeaked []string
	wantLeaked = append(wantLeaked, fmt.Sprintf("leaked route %s-%s", clusterName, nodes[2].UID))
	for _, name := range []string{"gone", "to-clusterip", "on-user-ip", "gone-local"} {
		lb := lbNameOf(svcs[name])
		wantLeaked = append(wantLeaked, "leaked forwardingRule "+lb, "leaked targetPool "+lb, "leaked firewall k8s-fw-"+lb)
	}
	lbLocal := lbNameOf(svcs["gone-local"])
	wantLeaked = append(wantLeaked, "leaked httpHealthCheck "+lbLocal, "leaked firewall k8s-"+lbLocal+"-http-hc")
	for _, r := range intGone {
		wantLeaked = append(wantLeaked, "leaked "+r)
	}
	wantSkipped := []string{
		"skipped address user-ip",
		"skipped route " + lookalikeRoute,
		"skipped forwardingRule " + otherLBName,
		"skipped targetPool " + otherLBName,
		"skipped firewall k8s-fw-" + otherLBName,
		"skipped httpHealthCheck k8s-" + otherClusterID + "-node",
		"skipped firewall k8s-" + otherClusterID + "-node-http-hc",
	}
	lbPending := lbNameOf(pending)
	wantMissing := []string{"missing forwardingRule " + lbPending, "missing targetPool " + lbPending, "missing firewall k8s-fw-" + lbPending}
	wantAll := slices.Sorted(slices.Values(slices.Concat(wantLeaked, wantSkipped, wantMissing)))

	env.Fake.ResetCalls()
	rep, r := auditJSON(t, env, "")
	if diff := cmp.Diff(wantAll, findingSet(rep.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s\nstderr: %s", diff, r.stderr)
	}
	if r.code != audit.ExitFound {
		t.Errorf("audit with leaks: exit %d, want %d", r.code, audit.ExitFound)
	}
	for _, f := range rep.Findings {
		if f.Reason == "" {
			t.Errorf("finding %s %s %s has no reason", f.Status, f.Kind, f.Name)
		}
		if f.Kind == audit.KindForwardingRule && f.Name == lbNameOf(svcs["to-clusterip"]) && !strings.Contains(f.Reason, "not LoadBalancer") {
			t.Errorf("reason of the ClusterIP Service's rule: %q", f.Reason)
		}
		if f.Kind == audit.KindForwardingRule && f.Name == lbNameOf(svcs["gone"]) && !strings.Contains(f.Reason, "no such Service default/gone") {
			t.Errorf("reason of the deleted Service's rule: %q", f.Reason)
		}
		if f.Kind == audit.KindRoute && f.Status == audit.Leaked && !strings.Contains(f.Reason, "node gone") {
			t.Errorf("reason of the deleted node's route: %q", f.Reason)
		}
	}

	// The table names the same leaks.
	table := runAuditCmd(t, env, "")
	t.Logf("audit table:\n%s", table.stdout)
	for _, l := range wantLeaked {
		name := l[strings.LastIndexByte(l, ' ')+1:]
		if !strings.Contains(table.stdout, name) {
			t.Errorf("table lacks %s:\n%s", name, table.stdout)
		}
	}
	if table.code != audit.ExitFound {
		t.Errorf("table audit: exit %d", table.code)
	}

	// Declined: nothing written.
	before := env.Fake.Dump()
	declined := runAuditCmd(t, env, "n\n", "--delete")
	if declined.code != audit.ExitFound || !strings.Contains(declined.stderr, "[y/N]") {
		t.Errorf("declined --delete: exit %d, stderr %q", declined.code, declined.stderr)
	}
	if w := writes(env); len(w) != 0 {
		t.Errorf("a declined --delete wrote: %v", w)
	}

	// Confirmed: exactly the leaks go; the Service still lacks its
	// resources, so the exit says so.
	rep, r = auditJSON(t, env, "", "--delete", "--yes")
	if r.code != audit.ExitFound {
		t.Errorf("--delete --yes with a Service's resources missing: exit %d, want %d; stderr %s", r.code, audit.ExitFound, r.stderr)
	}
	for _, f := range rep.Findings {
		if f.Status == audit.Leaked && f.Result != audit.ResultDeleted {
			t.Errorf("leak %s %s: result %q, want deleted", f.Kind, f.Name, f.Result)
		}
	}
	var gone []string
	after := resourceSet(env.Fake.Dump())
	for _, res := range resourceSet(before) {
		if !slices.Contains(after, res) {
			gone = append(gone, "leaked "+res)
		}
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(wantLeaked)), gone); diff != "" {
		t.Errorf("deleted resources (-leaked +deleted):\n%s", diff)
	}
	for _, res := range after {
		if !slices.Contains(resourceSet(before), res) {
			t.Errorf("--delete created %s", res)
		}
	}
	for _, a := range env.Fake.Dump().Addresses {
		if a.Name == "user-ip" && a.Address != userIP {
			t.Errorf("user's address now holds %s, want %s", a.Address, userIP)
		}
	}

	// Without the pending Service nothing is leaked or missing: exit 0, and
	// --delete writes nothing; the lookalikes are still reported as skipped.
	if err := env.Admin.CoreV1().Services(lbNamespace).Delete(t.Context(), "pending", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitServiceGone(t, env, time.Minute, "pending")
	env.Fake.ResetCalls()
	rep, r = auditJSON(t, env, "", "--delete", "--yes")
	wantSkippedNow := slices.Sorted(slices.Values(wantSkipped))
	wantSkippedNow = slices.DeleteFunc(wantSkippedNow, func(s string) bool { return s == "skipped address user-ip" }) // its rule is gone
	if r.code != audit.ExitClean || !cmp.Equal(wantSkippedNow, findingSet(rep.Findings)) {
		t.Errorf("audit after --delete: exit %d, findings %v, want %v\nstderr: %s", r.code, findingSet(rep.Findings), wantSkippedNow, r.stderr)
	}
	if w := writes(env); len(w) != 0 {
		t.Errorf("--delete with nothing leaked wrote: %v", w)
	}
}

// TestAuditBadInput: bad flags and configuration end with a message and
// exit 2, before anything is read.
func TestAuditBadInput(t *testing.T) {
	env := startEnv(t, fakecompute.Config{})
	badConf := filepath.Join(t.TempDir(), "gce.conf")
	if err := os.WriteFile(badConf, []byte("[global]\nproject-id = fake-project\nno-such-key = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		mentions string
	}{
		{"unknown flag", []string{"--no-such-flag"}, "unknown flag"},
		{"bad output", []string{"-o", "yaml"}, "--output"},
		{"yes without delete", []string{"--yes"}, "--yes"},
		{"missing gce.conf", []string{"--cloud-config=/nonexistent/gce.conf"}, "--cloud-config"},
		{"missing kubeconfig", []string{"--kubeconfig=/nonexistent/kubeconfig"}, "kubeconfig"},
		{"unknown gce.conf key", []string{"--cloud-config=" + badConf}, "no-such-key"},
	} {
		r := runAuditCmd(t, env, "", tc.args...)
		if r.code != audit.ExitUsage || !strings.Contains(r.stderr, tc.mentions) {
			t.Errorf("%s: exit %d, stderr %q; want %d mentioning %q", tc.name, r.code, r.stderr, audit.ExitUsage, tc.mentions)
		}
	}
	cmd := exec.CommandContext(context.Background(), managerBinary, "audit", "--cloud-config="+env.GCEConf)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != audit.ExitUsage || !strings.Contains(string(out), "--cluster-name is required") {
		t.Errorf("audit without --cluster-name: %v\n%s", err, out)
	}
}
