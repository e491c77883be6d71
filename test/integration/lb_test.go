package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

// What the load balancer tests expect: gce.conf sets no node-tags, so the
// firewalls target each node VM's tag that prefixes its name; the shared
// health check is named from the cluster id in ConfigMap
// kube-system/ingress-uid, which startLB creates as the long-standing
// provider would have (not from --cluster-name).
const (
	lbNamespace    = "default"
	lbNodeTag      = "node"
	lbClusterID    = "c0ffee00c0ffee00"
	nodesHC        = "k8s-" + lbClusterID + "-node"
	nodesHCFW      = nodesHC + "-http-hc"
	syncedType     = "LoadBalancerSynced"
	finalizer      = "service.kubernetes.io/load-balancer-cleanup"
	lbConvergeTime = 60 * time.Second
)

var (
	lbArgs       = []string{"--cluster-name=" + clusterName}
	proberRanges = []string{"130.211.0.0/22", "209.85.152.0/22", "209.85.204.0/22", "35.191.0.0/16"}
)

// lbSeed is a node VM with the network tag the firewalls target.
func lbSeed(name, zone string) fakecompute.InstanceSeed {
	s := seed(name, zone)
	s.Tags = []string{lbNodeTag}
	return s
}

// startLB starts an environment with n initialised nodes (node-0.., over the
// region's zones), their VMs plus extra VMs seeded, and a manager.
func startLB(t *testing.T, fake fakecompute.Config, n int, extra ...fakecompute.InstanceSeed) (*harness.Env, *harness.Manager) {
	t.Helper()
	vms := slices.Clone(extra)
	for i := range n {
		vms = append(vms, lbSeed(fmt.Sprintf("node-%d", i), zones[i%len(zones)]))
	}
	env := startEnv(t, fake, vms...)
	createClusterID(t, env, lbClusterID)
	m := startManager(t, env, "m1", lbArgs...)
	for i := range n {
		createNode(t, env, fmt.Sprintf("node-%d", i))
	}
	for i := range n {
		waitInitialised(t, env, fmt.Sprintf("node-%d", i))
	}
	return env, m
}

var zones = []string{"us-central1-a", "us-central1-b", "us-central1-c"}

// createClusterID creates ConfigMap kube-system/ingress-uid as the
// long-standing provider does.
func createClusterID(t *testing.T, env *harness.Env, id string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "ingress-uid"},
		Data: map[string]string{"uid": id, "provider-uid": id}}
	if _, err := env.Admin.CoreV1().ConfigMaps("kube-system").Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// lbService is a TCP :80 LoadBalancer Service.
func lbService(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: lbNamespace, Name: name},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
		},
	}
	for _, m := range mutate {
		m(svc)
	}
	return svc
}

func createService(t *testing.T, env *harness.Env, svc *corev1.Service) *corev1.Service {
	t.Helper()
	created, err := env.Admin.CoreV1().Services(svc.Namespace).Create(t.Context(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service %s: %v", svc.Name, err)
	}
	return created
}

func getService(t *testing.T, env *harness.Env, name string) *corev1.Service {
	t.Helper()
	svc, err := env.Admin.CoreV1().Services(lbNamespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func updateService(t *testing.T, env *harness.Env, name string, change func(*corev1.Service)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := env.Admin.CoreV1().Services(lbNamespace).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(svc)
		_, err = env.Admin.CoreV1().Services(lbNamespace).Update(t.Context(), svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update service %s: %v", name, err)
	}
}

func deleteService(t *testing.T, env *harness.Env, name string) {
	t.Helper()
	if err := env.Admin.CoreV1().Services(lbNamespace).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete service %s: %v", name, err)
	}
}

func waitServiceGone(t *testing.T, env *harness.Env, timeout time.Duration, names ...string) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("services %v gone", names), func(ctx context.Context) (bool, string) {
		var left []string
		for _, name := range names {
			_, err := env.Admin.CoreV1().Services(lbNamespace).Get(ctx, name, metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				left = append(left, name)
			}
		}
		return len(left) == 0, fmt.Sprintf("still there: %v", left)
	})
}

// ingressIP is the Service's first status.loadBalancer.ingress IP.
func ingressIP(svc *corev1.Service) string {
	if len(svc.Status.LoadBalancer.Ingress) == 0 {
		return ""
	}
	return svc.Status.LoadBalancer.Ingress[0].IP
}

func waitIngress(t *testing.T, env *harness.Env, name string) string {
	t.Helper()
	var ip string
	eventually(t, lbConvergeTime, "ingress IP of "+name, func(ctx context.Context) (bool, string) {
		svc, err := env.Admin.CoreV1().Services(lbNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ip = ingressIP(svc)
		return ip != "", fmt.Sprintf("status %+v", svc.Status)
	})
	return ip
}

// waitCondition waits for the Service's LoadBalancerSynced condition to have
// status and reason and a message that mentions each of mentions.
func waitCondition(t *testing.T, env *harness.Env, name string, status metav1.ConditionStatus, reason string, mentions ...string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	eventually(t, lbConvergeTime, fmt.Sprintf("%s=%s (%s) on %s", syncedType, status, reason, name), func(ctx context.Context) (bool, string) {
		svc, err := env.Admin.CoreV1().Services(lbNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(svc.Status.Conditions, syncedType)
		if c == nil {
			return false, fmt.Sprintf("no condition in %+v", svc.Status.Conditions)
		}
		got = *c
		if c.Status != status || c.Reason != reason || c.ObservedGeneration != svc.Generation {
			return false, fmt.Sprintf("condition %+v, generation %d", *c, svc.Generation)
		}
		for _, m := range mentions {
			if !strings.Contains(c.Message, m) {
				return false, fmt.Sprintf("message %q does not mention %q", c.Message, m)
			}
		}
		return true, ""
	})
	return got
}

// lbNameOf is the long-standing provider's name for a Service's load
// balancer, computed here independently of the manager.
func lbNameOf(svc *corev1.Service) string {
	name := "a" + strings.ReplaceAll(string(svc.UID), "-", "")
	return name[:min(len(name), 32)]
}

// lbState is what the fake holds of one Service's load balancer, by the
// names the long-standing provider gives them, plus the shared health check.
type lbState struct {
	name      string
	address   *compute.Address
	rules     map[string]*compute.ForwardingRule // by protocol
	ruleNames []string
	pools     []*compute.TargetPool
	firewall  *compute.Firewall
	localHC   *compute.HttpHealthCheck
	localHCFW *compute.Firewall
	nodesHC   *compute.HttpHealthCheck
	nodesHCFW *compute.Firewall
}

func stateOf(d *fakecompute.Dump, lbName string) *lbState {
	st := &lbState{name: lbName, rules: map[string]*compute.ForwardingRule{}}
	for _, a := range d.Addresses {
		if a.Name == lbName {
			st.address = a
		}
	}
	for _, r := range d.ForwardingRules {
		if r.Name == lbName || strings.HasPrefix(r.Name, lbName+"-") {
			st.rules[r.IPProtocol] = r
			st.ruleNames = append(st.ruleNames, r.Name)
		}
	}
	for _, p := range d.TargetPools {
		if p.Name == lbName || p.Name == lbName+"-alt" {
			st.pools = append(st.pools, p)
		}
	}
	for _, f := range d.Firewalls {
		switch f.Name {
		case "k8s-fw-" + lbName:
			st.firewall = f
		case "k8s-" + lbName + "-http-hc":
			st.localHCFW = f
		case nodesHCFW:
			st.nodesHCFW = f
		}
	}
	for _, h := range d.HTTPHealthChecks {
		switch h.Name {
		case lbName:
			st.localHC = h
		case nodesHC:
			st.nodesHC = h
		}
	}
	return st
}

// lbWant is what a Service asks of its load balancer.
type lbWant struct {
	key          string   // namespace/name, in the descriptions
	ip           string   // "" for any
	ownAddress   bool     // an address under the load balancer name holds the IP
	portRanges   []string // "TCP 80-443", one per forwarding rule
	allowed      []string // "tcp:80,443", the firewall's
	sourceRanges []string // default 0.0.0.0/0
	affinity     string   // default NONE
	hcPort       int64    // externalTrafficPolicy Local's healthCheckNodePort; 0 for Cluster
	instances    []string // VM names
}

// check returns what differs from want, "" when nothing does.
func (st *lbState) check(want lbWant) string {
	var why []string
	bad := func(format string, args ...any) { why = append(why, fmt.Sprintf(format, args...)) }
	owned := func(kind, desc string) {
		if !strings.Contains(desc, `"`+want.key+`"`) {
			bad("%s description %q does not name %s", kind, desc, want.key)
		}
	}
	ip := want.ip
	if ip == "" {
		for _, r := range st.rules {
			ip = r.IPAddress
		}
	}
	switch {
	case want.ownAddress && st.address == nil:
		bad("no address %s", st.name)
	case want.ownAddress && st.address.Address != ip:
		bad("address %s holds %s, want %s", st.name, st.address.Address, ip)
	case want.ownAddress:
		owned("address", st.address.Description)
	case st.address != nil:
		bad("address %s exists (%s), want none", st.name, st.address.Address)
	}

	if len(st.pools) != 1 {
		var names []string
		for _, p := range st.pools {
			names = append(names, p.Name)
		}
		bad("target pools %v, want one", names)
		return strings.Join(why, "; ")
	}
	pool := st.pools[0]
	owned("target pool", pool.Description)
	var members []string
	for _, in := range pool.Instances {
		members = append(members, lastSegment(in))
	}
	slices.Sort(members)
	if !slices.Equal(members, want.instances) {
		bad("target pool members %v, want %v", members, want.instances)
	}
	affinity := want.affinity
	if affinity == "" {
		affinity = "NONE"
	}
	if pool.SessionAffinity != affinity {
		bad("target pool affinity %s, want %s", pool.SessionAffinity, affinity)
	}
	wantHC := nodesHC
	if want.hcPort != 0 {
		wantHC = st.name
	}
	if len(pool.HealthChecks) != 1 || lastSegment(pool.HealthChecks[0]) != wantHC {
		bad("target pool health checks %v, want %s", pool.HealthChecks, wantHC)
	}

	var ranges []string
	for proto, r := range st.rules {
		ranges = append(ranges, proto+" "+r.PortRange)
		owned("forwarding rule", r.Description)
		if r.IPAddress != ip {
			bad("%s rule %s has IP %s, want %s", proto, r.Name, r.IPAddress, ip)
		}
		if lastSegment(r.Target) != pool.Name {
			bad("%s rule %s targets %s, want %s", proto, r.Name, r.Target, pool.Name)
		}
	}
	slices.Sort(ranges)
	if !slices.Equal(ranges, want.portRanges) {
		bad("forwarding rules %v, want %v", ranges, want.portRanges)
	}

	sources := want.sourceRanges
	if sources == nil {
		sources = []string{"0.0.0.0/0"}
	}
	if st.firewall == nil {
		bad("no firewall k8s-fw-%s", st.name)
	} else {
		fw := st.firewall
		owned("firewall", fw.Description)
		if got := allowedOf(fw); !slices.Equal(got, want.allowed) {
			bad("firewall allows %v, want %v", got, want.allowed)
		}
		if got := sorted(fw.SourceRanges); !slices.Equal(got, sorted(sources)) {
			bad("firewall source ranges %v, want %v", got, sources)
		}
		if !slices.Equal(fw.TargetTags, []string{lbNodeTag}) {
			bad("firewall target tags %v, want [%s]", fw.TargetTags, lbNodeTag)
		}
		if !slices.Equal(fw.DestinationRanges, []string{ip}) && !slices.Equal(fw.DestinationRanges, []string{ip + "/32"}) {
			bad("firewall destination ranges %v, want [%s]", fw.DestinationRanges, ip)
		}
	}

	if want.hcPort != 0 {
		switch {
		case st.localHC == nil:
			bad("no local health check %s", st.name)
		case st.localHC.Port != want.hcPort || st.localHC.RequestPath != "/healthz":
			bad("local health check probes %d%s, want %d/healthz", st.localHC.Port, st.localHC.RequestPath, want.hcPort)
		}
		switch {
		case st.localHCFW == nil:
			bad("no local health check firewall")
		case !slices.Equal(allowedOf(st.localHCFW), []string{fmt.Sprintf("tcp:%d", want.hcPort)}) ||
			!slices.Equal(sorted(st.localHCFW.SourceRanges), proberRanges):
			bad("local health check firewall allows %v from %v", allowedOf(st.localHCFW), st.localHCFW.SourceRanges)
		}
	} else {
		if st.localHC != nil || st.localHCFW != nil {
			bad("local health check or its firewall exists with externalTrafficPolicy Cluster")
		}
		why = append(why, checkNodesHC(st.nodesHC, st.nodesHCFW)...)
	}
	return strings.Join(why, "; ")
}

func checkNodesHC(hc *compute.HttpHealthCheck, fw *compute.Firewall) []string {
	var why []string
	switch {
	case hc == nil:
		why = append(why, "no shared health check "+nodesHC)
	case hc.Port != 10256 || hc.RequestPath != "/healthz":
		why = append(why, fmt.Sprintf("shared health check probes %d%s, want 10256/healthz", hc.Port, hc.RequestPath))
	}
	switch {
	case fw == nil:
		why = append(why, "no shared health check firewall "+nodesHCFW)
	case !slices.Equal(allowedOf(fw), []string{"tcp:10256"}) || !slices.Equal(sorted(fw.SourceRanges), proberRanges):
		why = append(why, fmt.Sprintf("shared health check firewall allows %v from %v", allowedOf(fw), fw.SourceRanges))
	}
	return why
}

func allowedOf(fw *compute.Firewall) []string {
	var out []string
	for _, a := range fw.Allowed {
		out = append(out, a.IPProtocol+":"+strings.Join(a.Ports, ","))
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// waitLB waits for the Service's load balancer to be what want says, and
// for its status to show the rules' IP, which it returns.
func waitLB(t *testing.T, env *harness.Env, svc *corev1.Service, want lbWant) string {
	t.Helper()
	var ip string
	eventually(t, lbConvergeTime, "load balancer of "+svc.Name, func(ctx context.Context) (ok bool, why string) {
		ip, why = lbReady(ctx, env, env.Fake.Dump(), svc, want)
		return why == "", why
	})
	return ip
}

// waitLBs waits for several Services' load balancers, all as want says.
func waitLBs(t *testing.T, env *harness.Env, timeout time.Duration, want lbWant, svcs ...*corev1.Service) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d load balancers", len(svcs)), func(ctx context.Context) (bool, string) {
		d := env.Fake.Dump()
		var why []string
		for _, svc := range svcs {
			if _, w := lbReady(ctx, env, d, svc, want); w != "" {
				why = append(why, svc.Name+": "+w)
			}
		}
		return len(why) == 0, fmt.Sprintf("%d not ready; %s", len(why), strings.Join(why[:min(len(why), 3)], "; "))
	})
}

// lbReady returns the load balancer's IP and "" when it is what want says
// and the Service's status shows the IP, else what is missing.
func lbReady(ctx context.Context, env *harness.Env, d *fakecompute.Dump, svc *corev1.Service, want lbWant) (ip, why string) {
	want.key = svc.Namespace + "/" + svc.Name
	st := stateOf(d, lbNameOf(svc))
	if why := st.check(want); why != "" {
		return "", why
	}
	cur, err := env.Admin.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
	if err != nil {
		return "", err.Error()
	}
	for _, r := range st.rules {
		ip = r.IPAddress
	}
	if got := ingressIP(cur); got != ip {
		return "", fmt.Sprintf("ingress IP %q, want the rules' %s", got, ip)
	}
	return ip, ""
}

// leftovers lists the fake's resources of a Service: by its load balancer
// name or by the Service named in their description.
func leftovers(d *fakecompute.Dump, svc *corev1.Service) []string {
	lbName, key := lbNameOf(svc), `"`+svc.Namespace+"/"+svc.Name+`"`
	var out []string
	add := func(kind, name, desc string) {
		if strings.Contains(name, lbName) || strings.Contains(desc, key) {
			out = append(out, kind+" "+name)
		}
	}
	for _, a := range d.Addresses {
		add("address", a.Name, a.Description)
	}
	for _, r := range d.ForwardingRules {
		add("forwarding rule", r.Name, r.Description)
	}
	for _, p := range d.TargetPools {
		add("target pool", p.Name, p.Description)
	}
	for _, f := range d.Firewalls {
		add("firewall", f.Name, f.Description)
	}
	for _, h := range d.HTTPHealthChecks {
		add("health check", h.Name, h.Description)
	}
	return out
}

// lbResources lists every load balancer resource in the fake.
func lbResources(d *fakecompute.Dump) []string {
	var out []string
	for _, a := range d.Addresses {
		out = append(out, "address "+a.Name)
	}
	for _, r := range d.ForwardingRules {
		out = append(out, "forwarding rule "+r.Name)
	}
	for _, p := range d.TargetPools {
		out = append(out, "target pool "+p.Name)
	}
	for _, f := range d.Firewalls {
		out = append(out, "firewall "+f.Name)
	}
	for _, h := range d.HTTPHealthChecks {
		out = append(out, "health check "+h.Name)
	}
	return out
}

func waitNoLeftovers(t *testing.T, env *harness.Env, timeout time.Duration, svcs ...*corev1.Service) {
	t.Helper()
	eventually(t, timeout, "no GCE resources of the deleted services", func(context.Context) (bool, string) {
		d := env.Fake.Dump()
		var left []string
		for _, svc := range svcs {
			left = append(left, leftovers(d, svc)...)
		}
		return len(left) == 0, fmt.Sprintf("left: %v", left)
	})
}

// waitNoLBResources waits until the fake holds no load balancer resource.
func waitNoLBResources(t *testing.T, env *harness.Env, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "no load balancer resources", func(context.Context) (bool, string) {
		left := lbResources(env.Fake.Dump())
		return len(left) == 0, fmt.Sprintf("left: %v", left)
	})
}

// waitFinalizer waits until the Service carries the finalizer.
func waitFinalizer(t *testing.T, env *harness.Env, name, fin string) {
	t.Helper()
	eventually(t, lbConvergeTime, fin+" finalizer on "+name, func(ctx context.Context) (bool, string) {
		cur, err := env.Admin.CoreV1().Services(lbNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return slices.Contains(cur.Finalizers, fin), fmt.Sprintf("finalizers %v", cur.Finalizers)
	})
}

// writes returns the write calls the fake saw since its counts were reset,
// by method.
func writes(env *harness.Env) map[string]int {
	out := map[string]int{}
	for method, results := range env.Fake.Calls() {
		if !isWrite(method) {
			continue
		}
		for _, n := range results {
			out[method] += n
		}
	}
	return out
}

// eventCount sums the counts of a Service's events of a reason.
func eventCount(ctx context.Context, env *harness.Env, name, reason string) (int32, error) {
	evs, err := env.Admin.CoreV1().Events(lbNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		return 0, err
	}
	var n int32
	for _, e := range evs.Items {
		if e.Reason == reason {
			n += max(e.Count, 1)
		}
	}
	return n, nil
}

// reserveAddress reserves a static address through the fake's REST API, as
// a user with gcloud would, and returns its IP.
func reserveAddress(t *testing.T, env *harness.Env, name string) string {
	t.Helper()
	base := fmt.Sprintf("%s/compute/v1/projects/%s/regions/us-central1/addresses", env.Fake.URL(), harness.Project)
	body := fmt.Sprintf(`{"name":%q,"description":"reserved by hand"}`, name)
	resp, err := http.Post(base, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reserve address %s: %s", name, resp.Status)
	}
	var ip string
	eventually(t, 30*time.Second, "address "+name+" reserved", func(context.Context) (bool, string) {
		resp, err := http.Get(base + "/" + name)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var a compute.Address
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return false, err.Error()
		}
		ip = a.Address
		return resp.StatusCode == http.StatusOK && ip != "", resp.Status
	})
	return ip
}

// TestLBCreate: a LoadBalancer Service gets every GCE resource of a network
// load balancer and the forwarding rule's IP in its status.
func TestLBCreate(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{Latency: 20 * time.Millisecond}, 3)
	start := time.Now()
	svc := createService(t, env, lbService("web"))
	ip := waitIngress(t, env, "web")
	t.Logf("ingress IP after %s", time.Since(start).Round(time.Millisecond))

	// The status, the resources, the condition and the finalizer are
	// separate writes: each is waited for, not read once after another.
	want := lbWant{ip: ip, portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"},
		instances: []string{"node-0", "node-1", "node-2"}}
	waitLB(t, env, svc, want)
	eventually(t, lbConvergeTime, "forwarding rule named as the load balancer", func(context.Context) (bool, string) {
		st := stateOf(env.Fake.Dump(), lbNameOf(svc))
		rule := st.rules["TCP"]
		return rule != nil && rule.Name == lbNameOf(svc), fmt.Sprintf("forwarding rule names %v, want [%s]", st.ruleNames, lbNameOf(svc))
	})
	waitCondition(t, env, "web", metav1.ConditionTrue, "Synced", ip)
	waitFinalizer(t, env, "web", finalizer)
	// Events are written asynchronously: wait for it.
	eventually(t, lbConvergeTime, "EnsuredLoadBalancer event", func(ctx context.Context) (bool, string) {
		n, err := eventCount(ctx, env, "web", "EnsuredLoadBalancer")
		return err == nil && n > 0, fmt.Sprintf("%d events, %v", n, err)
	})
}

// TestLBChangesConverge: each change of the Service converges with the IP
// kept, and node changes only touch target pool membership.
func TestLBChangesConverge(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{Latency: 20 * time.Millisecond}, 3, lbSeed("node-3", "us-central1-b"))
	svc := createService(t, env, lbService("web"))
	want := lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0", "node-1", "node-2"}}
	ip := waitLB(t, env, svc, want)
	lbName := lbNameOf(svc)

	step := func(name string, change func(*corev1.Service), adjust func(*lbWant)) {
		t.Helper()
		start := time.Now()
		updateService(t, env, "web", change)
		adjust(&want)
		if got := waitLB(t, env, svc, want); got != ip {
			t.Fatalf("%s: IP changed from %s to %s", name, ip, got)
		}
		t.Logf("%s: converged in %s", name, time.Since(start).Round(time.Millisecond))
	}

	step("ports", func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443})
	}, func(w *lbWant) {
		w.portRanges, w.allowed = []string{"TCP 80-443"}, []string{"tcp:80,443"}
	})
	step("add UDP", func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53})
	}, func(w *lbWant) {
		w.portRanges, w.allowed = []string{"TCP 80-443", "UDP 53-53"}, []string{"tcp:80,443", "udp:53"}
		// Two rules share the IP, which GCE allows only on a reserved
		// address: the Service keeps one.
		w.ownAddress = true
	})
	eventually(t, lbConvergeTime, "TCP rule kept and a -udp rule added", func(context.Context) (bool, string) {
		st := stateOf(env.Fake.Dump(), lbName)
		return slices.Equal(sorted(st.ruleNames), []string{lbName, lbName + "-udp"}),
			fmt.Sprintf("forwarding rules %v, want the TCP rule kept as %s and %s-udp added", st.ruleNames, lbName, lbName)
	})
	step("session affinity ClientIP", func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	}, func(w *lbWant) { w.affinity = "CLIENT_IP" })

	step("externalTrafficPolicy Local", func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}, func(w *lbWant) {
		w.hcPort = int64(getService(t, env, "web").Spec.HealthCheckNodePort)
	})
	if want.hcPort == 0 {
		t.Fatal("no healthCheckNodePort allocated")
	}
	// It was the only Cluster-policy service: the shared check goes.
	eventually(t, lbConvergeTime, "shared health check gone", func(context.Context) (bool, string) {
		st := stateOf(env.Fake.Dump(), lbName)
		return st.nodesHC == nil && st.nodesHCFW == nil, fmt.Sprintf("health check %v, firewall %v", st.nodesHC != nil, st.nodesHCFW != nil)
	})
	step("externalTrafficPolicy Cluster again", func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}, func(w *lbWant) { w.hcPort = 0 })
	step("source ranges annotation", func(s *corev1.Service) {
		s.Annotations = map[string]string{corev1.AnnotationLoadBalancerSourceRangesKey: "192.0.2.0/24"}
	}, func(w *lbWant) { w.sourceRanges = []string{"192.0.2.0/24"} })
	step("source ranges field over the annotation", func(s *corev1.Service) {
		s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24", "198.51.100.7/32"}
	}, func(w *lbWant) { w.sourceRanges = []string{"198.51.100.7/32", "203.0.113.0/24"} })
	waitCondition(t, env, "web", metav1.ConditionTrue, "Synced", ip)

	// A node change touches target pool membership only.
	nodeChange := func(name string, change func(ctx context.Context) error, members []string, wantWrites map[string]int) {
		t.Helper()
		env.Fake.ResetCalls()
		if err := change(t.Context()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want.instances = members
		waitLB(t, env, svc, want)
		if diff := cmp.Diff(wantWrites, writes(env)); diff != "" {
			t.Errorf("writes for %s (-want +got):\n%s", name, diff)
		}
	}
	label := func(value *string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			patch := fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, corev1.LabelNodeExcludeBalancers)
			if value != nil {
				patch = fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, corev1.LabelNodeExcludeBalancers, *value)
			}
			_, err := env.Admin.CoreV1().Nodes().Patch(ctx, "node-3", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			return err
		}
	}
	three, four := []string{"node-0", "node-1", "node-2"}, []string{"node-0", "node-1", "node-2", "node-3"}
	nodeChange("a new node", func(context.Context) error {
		createNode(t, env, "node-3")
		waitInitialised(t, env, "node-3") // its provider ID changes nothing more
		return nil
	}, four, map[string]int{"targetPools.addInstance": 1})
	nodeChange("an excluded node", label(new("true")), three, map[string]int{"targetPools.removeInstance": 1})
	nodeChange("a node no longer excluded", label(nil), four, map[string]int{"targetPools.addInstance": 1})
	nodeChange("a removed node", func(ctx context.Context) error {
		return env.Admin.CoreV1().Nodes().Delete(ctx, "node-3", metav1.DeleteOptions{})
	}, three, map[string]int{"targetPools.removeInstance": 1})
	waitCondition(t, env, "web", metav1.ConditionTrue, "Synced", ip)
}

// TestLBTypeChange: a Service that stops being a LoadBalancer loses its load
// balancer, its finalizer, its ingress and its condition.
func TestLBTypeChange(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 1)
	svc := createService(t, env, lbService("web"))
	waitLB(t, env, svc, lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0"}})
	waitCondition(t, env, "web", metav1.ConditionTrue, "Synced")

	updateService(t, env, "web", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP })
	eventually(t, lbConvergeTime, "load balancer removed", func(ctx context.Context) (bool, string) {
		cur, err := env.Admin.CoreV1().Services(lbNamespace).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		left := lbResources(env.Fake.Dump())
		return len(left) == 0 && len(cur.Finalizers) == 0 && ingressIP(cur) == "" && len(cur.Status.Conditions) == 0,
			fmt.Sprintf("GCE %v, finalizers %v, status %+v", left, cur.Finalizers, cur.Status)
	})
}

// TestLBUserStaticAddress: a user's reserved address is used as
// loadBalancerIP and outlives the Service.
func TestLBUserStaticAddress(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 2)
	userIP := reserveAddress(t, env, "user-ip")
	svc := createService(t, env, lbService("web", func(s *corev1.Service) { s.Spec.LoadBalancerIP = userIP }))
	waitLB(t, env, svc, lbWant{ip: userIP, portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0", "node-1"}})

	deleteService(t, env, "web")
	waitServiceGone(t, env, lbConvergeTime, "web")
	waitNoLeftovers(t, env, lbConvergeTime, svc)
	// RESERVED again once no rule uses it; never deleted.
	eventually(t, lbConvergeTime, "user's address reserved after the Service went", func(context.Context) (bool, string) {
		var user *compute.Address
		for _, a := range env.Fake.Dump().Addresses {
			if a.Name == "user-ip" {
				user = a
			}
		}
		return user != nil && user.Address == userIP && user.Status == fakecompute.AddressReserved,
			fmt.Sprintf("user's address %+v, want %s reserved", user, userIP)
	})
}

// TestLBDelete: deleting Services removes all of their resources; the shared
// health check goes with the last Cluster-policy Service.
func TestLBDelete(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{Latency: 20 * time.Millisecond}, 2)
	want := lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0", "node-1"}}
	first := createService(t, env, lbService("first"))
	second := createService(t, env, lbService("second"))
	waitLB(t, env, first, want)
	waitLB(t, env, second, want)

	deleteService(t, env, "first")
	waitServiceGone(t, env, lbConvergeTime, "first")
	waitNoLeftovers(t, env, lbConvergeTime, first)
	// The shared health check stays for the second service.
	if _, why := lbReady(t.Context(), env, env.Fake.Dump(), second, want); why != "" {
		t.Errorf("second load balancer after the first was deleted: %s", why)
	}

	deleteService(t, env, "second")
	waitServiceGone(t, env, lbConvergeTime, "second")
	waitNoLBResources(t, env, lbConvergeTime)
}

// TestLBDeletedWhileManagerDown: the cleanup finalizer keeps a Service
// deleted while no manager ran until the next manager removes its load
// balancer.
func TestLBDeletedWhileManagerDown(t *testing.T) {
	env, m := startLB(t, fakecompute.Config{}, 2)
	svc := createService(t, env, lbService("web"))
	waitLB(t, env, svc, lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0", "node-1"}})

	m.Stop()
	deleteService(t, env, "web")
	// The finalizer keeps the Service until its load balancer is gone.
	if cur := getService(t, env, "web"); cur.DeletionTimestamp == nil || !slices.Contains(cur.Finalizers, finalizer) {
		t.Fatalf("deleted Service: deletionTimestamp %v, finalizers %v; want it kept by %s", cur.DeletionTimestamp, cur.Finalizers, finalizer)
	}
	if left := leftovers(env.Fake.Dump(), svc); len(left) == 0 {
		t.Fatal("the load balancer went while no manager ran")
	}

	startManager(t, env, "m2", lbArgs...)
	waitServiceGone(t, env, lbConvergeTime, "web")
	waitNoLBResources(t, env, lbConvergeTime)
}

// TestLBBadInput: input GCE cannot serve gives a Warning event and a False
// condition naming the field and value, writes nothing, keeps the working
// load balancer and its IP, and does not hold up other Services.
func TestLBBadInput(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 2)
	svc := createService(t, env, lbService("web"))
	want := lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0", "node-1"}}
	ip := waitLB(t, env, svc, want)
	waitCondition(t, env, "web", metav1.ConditionTrue, "Synced")
	lbName := lbNameOf(svc)
	before := env.Fake.Dump()

	tierKey := "cloud.google.com/network-tier"
	cases := []struct {
		name         string
		change, undo func(*corev1.Service)
		field, value string
	}{
		{"malformed loadBalancerIP", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "198.18.0" },
			func(s *corev1.Service) { s.Spec.LoadBalancerIP = "" }, "spec.loadBalancerIP", "198.18.0"},
		{"loadBalancerIP not reserved", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "198.18.200.200" },
			func(s *corev1.Service) { s.Spec.LoadBalancerIP = "" }, "spec.loadBalancerIP", "198.18.200.200"},
		{"IPv6 source range", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8", "2001:db8::/32"} },
			func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = nil }, "spec.loadBalancerSourceRanges", "2001:db8::/32"},
		{"SCTP", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = corev1.ProtocolSCTP },
			func(s *corev1.Service) { s.Spec.Ports[0].Protocol = corev1.ProtocolTCP }, "spec.ports[0].protocol", "SCTP"},
		{"unknown network tier", func(s *corev1.Service) { s.Annotations = map[string]string{tierKey: "Gold"} },
			func(s *corev1.Service) { delete(s.Annotations, tierKey) }, "metadata.annotations[" + tierKey + "]", "Gold"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env.Fake.ResetCalls()
			updateService(t, env, "web", tc.change)
			quoted := fmt.Sprintf("%q", tc.value)
			waitEvent(t, env, "web", "SyncLoadBalancerFailed", tc.field+" "+quoted)
			c := waitCondition(t, env, "web", metav1.ConditionFalse, "InvalidConfiguration", tc.field, quoted)
			t.Logf("condition message: %s", c.Message)
			if w := writes(env); len(w) != 0 {
				t.Errorf("bad input wrote %v", w)
			}
			if got := ingressIP(getService(t, env, "web")); got != ip {
				t.Errorf("ingress IP %q, want %s kept", got, ip)
			}
			updateService(t, env, "web", tc.undo)
			waitCondition(t, env, "web", metav1.ConditionTrue, "Synced", ip)
			if w := writes(env); len(w) != 0 {
				t.Errorf("undoing bad input wrote %v", w)
			}
		})
	}
	if diff := cmp.Diff(stateOf(before, lbName), stateOf(env.Fake.Dump(), lbName), cmp.AllowUnexported(lbState{})); diff != "" {
		t.Errorf("load balancer changed (-before +after):\n%s", diff)
	}

	// While one Service is bad, others converge.
	updateService(t, env, "web", cases[3].change)
	waitCondition(t, env, "web", metav1.ConditionFalse, "InvalidConfiguration", "SCTP")
	other := createService(t, env, lbService("other"))
	waitLB(t, env, other, want)
	waitCondition(t, env, "other", metav1.ConditionTrue, "Synced")
	if got, why := lbReady(t.Context(), env, env.Fake.Dump(), svc, want); why != "" || got != ip {
		t.Errorf("bad Service's load balancer: IP %s (was %s) %s", got, ip, why)
	}
}

// TestLBForeignClassLeftAlone: a Service with another loadBalancerClass gets
// no GCE resources, status, finalizer or event from gce-ccm.
func TestLBForeignClassLeftAlone(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 1)
	foreign := createService(t, env, lbService("foreign", func(s *corev1.Service) {
		s.Spec.LoadBalancerClass = new("example.com/other-lb")
	}))
	// A Service created after it converging means the controller has seen both.
	web := createService(t, env, lbService("web"))
	waitLB(t, env, web, lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0"}})

	if left := leftovers(env.Fake.Dump(), foreign); len(left) != 0 {
		t.Errorf("GCE resources of the foreign-class Service: %v", left)
	}
	cur := getService(t, env, "foreign")
	if len(cur.Status.LoadBalancer.Ingress) != 0 || len(cur.Status.Conditions) != 0 || len(cur.Finalizers) != 0 {
		t.Errorf("foreign-class Service was touched: finalizers %v, status %+v", cur.Finalizers, cur.Status)
	}
	evs, err := env.Admin.CoreV1().Events(lbNamespace).List(t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.name=foreign"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		t.Errorf("event on the foreign-class Service: %s %s", e.Reason, e.Message)
	}
}

// TestLBRestartCausesNoWrites: a new manager that finds every load balancer
// in place writes nothing, to GCE or to the Services.
func TestLBRestartCausesNoWrites(t *testing.T) {
	env, m := startLB(t, fakecompute.Config{}, 3)
	userIP := reserveAddress(t, env, "user-ip")
	base := lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0", "node-1", "node-2"}}
	local, mixed, static := base, base, base
	mixed.portRanges, mixed.allowed = []string{"TCP 80-80", "UDP 53-53"}, []string{"tcp:80", "udp:53"}
	mixed.affinity, mixed.sourceRanges = "CLIENT_IP", []string{"203.0.113.0/24"}
	mixed.ownAddress = true // two rules share the IP: only a reserved address allows it
	static.ip = userIP
	svcs := []*corev1.Service{
		createService(t, env, lbService("web")),
		createService(t, env, lbService("local", func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		})),
		createService(t, env, lbService("mixed", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53})
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24"}
		})),
		createService(t, env, lbService("static", func(s *corev1.Service) { s.Spec.LoadBalancerIP = userIP })),
	}
	local.hcPort = int64(svcs[1].Spec.HealthCheckNodePort)
	for i, w := range []lbWant{base, local, mixed, static} {
		waitLB(t, env, svcs[i], w)
		waitCondition(t, env, svcs[i].Name, metav1.ConditionTrue, "Synced")
	}
	// Counted once the first manager is gone: an event it had still in
	// flight would otherwise pass for one of the second manager's.
	m.Stop()
	versions := map[string]string{}
	ensured := map[string]int32{}
	for _, svc := range svcs {
		versions[svc.Name] = getService(t, env, svc.Name).ResourceVersion
		n, err := eventCount(t.Context(), env, svc.Name, "EnsuredLoadBalancer")
		if err != nil {
			t.Fatal(err)
		}
		ensured[svc.Name] = n
	}

	env.Fake.ResetCalls()
	startManager(t, env, "m2", lbArgs...)
	eventually(t, lbConvergeTime, "every Service ensured by the restarted manager", func(ctx context.Context) (bool, string) {
		for _, svc := range svcs {
			n, err := eventCount(ctx, env, svc.Name, "EnsuredLoadBalancer")
			if err != nil {
				return false, err.Error()
			}
			if n <= ensured[svc.Name] {
				return false, svc.Name + " not ensured yet"
			}
		}
		return true, ""
	})
	if w := writes(env); len(w) != 0 {
		t.Errorf("restart wrote to GCE: %v", w)
	}
	for _, svc := range svcs {
		if rv := getService(t, env, svc.Name).ResourceVersion; rv != versions[svc.Name] {
			t.Errorf("restart wrote Service %s: resourceVersion %s, was %s", svc.Name, rv, versions[svc.Name])
		}
	}
}

// TestLBConvergeUnderFaults: with failing calls, failed operations and a write
// rate limit, 20 Services converge and their deletion leaves nothing behind.
func TestLBConvergeUnderFaults(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{Latency: 30 * time.Millisecond}, 3)
	for _, f := range []fakecompute.Fault{
		{Method: "*", Fraction: 0.05, Count: 20, Mode: fakecompute.FaultError, Code: 503, Reason: "backendError"},
		{Method: "addresses.insert", Fraction: 0.3, Count: 4, Mode: fakecompute.FaultOperation, Code: 500, Reason: "internalError"},
		{Method: "forwardingRules.insert", Fraction: 0.3, Count: 5, Mode: fakecompute.FaultError, Code: 503, Reason: "backendError"},
		{Method: "targetPools.insert", Fraction: 0.3, Count: 4, Mode: fakecompute.FaultOperation, Code: 500, Reason: "internalError"},
		{Method: "firewalls.insert", Count: 2, Mode: fakecompute.FaultDrop},
		{Method: "forwardingRules.delete", Fraction: 0.3, Count: 4, Mode: fakecompute.FaultOperation, Code: 500, Reason: "internalError"},
		{Method: "targetPools.delete", Fraction: 0.3, Count: 4, Mode: fakecompute.FaultError, Code: 503, Reason: "backendError"},
		{Method: "regionOperations.wait", Fraction: 0.1, Count: 5, Mode: fakecompute.FaultError, Code: 503},
	} {
		if err := env.Fake.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	env.Fake.SetWriteRateLimit(15, 10)

	const n = 20
	want := lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0", "node-1", "node-2"}}
	var svcs []*corev1.Service
	var names []string
	start := time.Now()
	for i := range n {
		svc := createService(t, env, lbService(fmt.Sprintf("web-%02d", i)))
		svcs = append(svcs, svc)
		names = append(names, svc.Name)
	}
	waitLBs(t, env, 3*time.Minute, want, svcs...)
	t.Logf("%d load balancers converged in %s; calls %v", n, time.Since(start).Round(time.Millisecond), failures(env))

	start = time.Now()
	for _, name := range names {
		deleteService(t, env, name)
	}
	waitServiceGone(t, env, 3*time.Minute, names...)
	waitNoLBResources(t, env, lbConvergeTime)
	t.Logf("deleted in %s", time.Since(start).Round(time.Millisecond))
}

// failures counts the calls that did not succeed, by result.
func failures(env *harness.Env) map[string]int {
	out := map[string]int{}
	for _, results := range env.Fake.Calls() {
		for r, c := range results {
			if r != "ok" {
				out[r] += c
			}
		}
	}
	return out
}

// TestLBClusterIDCreatedWhenMissing: without ConfigMap kube-system/ingress-uid
// the manager creates it, as the long-standing provider does, with the RBAC
// of manifests/, and names the shared health check from it, not from
// --cluster-name.
func TestLBClusterIDCreatedWhenMissing(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, lbSeed("node-0", zones[0]))
	startManager(t, env, "m1", lbArgs...)
	createNode(t, env, "node-0")
	waitInitialised(t, env, "node-0")
	var id string
	eventually(t, lbConvergeTime, "ConfigMap kube-system/ingress-uid", func(ctx context.Context) (bool, string) {
		cm, err := env.Admin.CoreV1().ConfigMaps("kube-system").Get(ctx, "ingress-uid", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		id = cm.Data["provider-uid"]
		ok := regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) && cm.Data["uid"] == id
		return ok, fmt.Sprintf("data %v", cm.Data)
	})
	createService(t, env, lbService("web"))
	ip := waitIngress(t, env, "web")
	eventually(t, lbConvergeTime, "shared health check named from the cluster id", func(context.Context) (bool, string) {
		var hcs []string
		for _, h := range env.Fake.Dump().HTTPHealthChecks {
			hcs = append(hcs, h.Name)
		}
		return slices.Equal(hcs, []string{"k8s-" + id + "-node"}),
			fmt.Sprintf("health checks %v, want the shared one named from the cluster id %s", hcs, id)
	})
	waitCondition(t, env, "web", metav1.ConditionTrue, "Synced", ip)
}

// TestLBLegacyClasses: the long-standing provider's own classes are gce-ccm's
// to serve, though the upstream service controller skips every Service with
// a class: the external one gets its load balancer, the internal one an
// internal load balancer (never a public one), and both delete cleanly.
func TestLBLegacyClasses(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 1)
	ext := createService(t, env, lbService("ext", func(s *corev1.Service) {
		s.Spec.LoadBalancerClass = new("networking.gke.io/l4-regional-external-legacy")
	}))
	in := createService(t, env, lbService("in", func(s *corev1.Service) {
		s.Spec.LoadBalancerClass = new("networking.gke.io/l4-regional-internal-legacy")
	}))
	ip := waitLB(t, env, ext, lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0"}})
	waitCondition(t, env, "ext", metav1.ConditionTrue, "Synced", ip)
	inIP := waitILB(t, env, in, ilbWant{ports: []string{"80"}, nodes: []string{"node-0"}})
	waitCondition(t, env, "in", metav1.ConditionTrue, "Synced", inIP)
	if ext := externalOf(env.Fake.Dump(), in); len(ext) != 0 {
		t.Errorf("external resources of the internal-class Service: %v", ext)
	}
	if cur := getService(t, env, "ext"); cur.Spec.LoadBalancerClass == nil || len(cur.Annotations) != 0 {
		t.Errorf("the external-class Service was rewritten: class %v, annotations %v", cur.Spec.LoadBalancerClass, cur.Annotations)
	}
	deleteService(t, env, "ext")
	deleteService(t, env, "in")
	waitServiceGone(t, env, lbConvergeTime, "ext", "in")
	waitNoLeftovers(t, env, lbConvergeTime, ext, in)
	waitNoResourcesAtAll(t, env, lbConvergeTime)
}

// TestLBBecomesInternal: a Service that gains the internal annotation must
// stop being public: its external load balancer is deleted and an internal
// one replaces it, with its IP in the status; the finalizers follow, and
// an event says why (TestILBSwitchKinds goes both ways).
func TestLBBecomesInternal(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 1)
	svc := createService(t, env, lbService("db"))
	ip := waitLB(t, env, svc, lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0"}})
	waitCondition(t, env, "db", metav1.ConditionTrue, "Synced", ip)
	// Added as the long-standing provider adds it; a write of its own.
	waitFinalizer(t, env, "db", "gke.networking.io/l4-netlb-v1")
	updateService(t, env, "db", func(s *corev1.Service) {
		s.Annotations = map[string]string{"networking.gke.io/load-balancer-type": "Internal"}
	})
	internalIP := waitILB(t, env, svc, ilbWant{ports: []string{"80"}, nodes: []string{"node-0"}})
	waitCondition(t, env, "db", metav1.ConditionTrue, "Synced", internalIP)
	eventually(t, lbConvergeTime, "no external load balancer", func(context.Context) (bool, string) {
		left := externalOf(env.Fake.Dump(), svc)
		return len(left) == 0, fmt.Sprintf("left %v", left)
	})
	waitFinalizers(t, env, "db", []string{ilbFinalizer}, []string{netFinalizer})
	eventually(t, lbConvergeTime, "ExternalLoadBalancerDeleted event", func(ctx context.Context) (bool, string) {
		n, err := eventCount(ctx, env, "db", "ExternalLoadBalancerDeleted")
		return err == nil && n > 0, fmt.Sprintf("%d events, %v", n, err)
	})
	deleteService(t, env, "db")
	waitServiceGone(t, env, lbConvergeTime, "db")
	waitNoResourcesAtAll(t, env, lbConvergeTime)
}

// TestLBStaticAddressQuota: a project's static address quota is small (3
// here); ten Services created at once all get their load balancers and
// distinct IPs, because each reservation is released once its forwarding
// rule holds the IP. Those whose reservation hits the quota at first
// converge through the service controller's retries.
func TestLBStaticAddressQuota(t *testing.T) {
	env, _ := startLB(t, fakecompute.Config{}, 1)
	if err := env.Fake.SetQuota(fakecompute.QuotaAddresses, 3); err != nil {
		t.Fatal(err)
	}
	var svcs []*corev1.Service
	for i := range 10 {
		svcs = append(svcs, createService(t, env, lbService(fmt.Sprintf("web-%d", i))))
	}
	// Retries back off 5 s, 10 s, 20 s, ... after quota errors.
	waitLBs(t, env, 3*lbConvergeTime, lbWant{portRanges: []string{"TCP 80-80"}, allowed: []string{"tcp:80"}, instances: []string{"node-0"}}, svcs...)
	ips := map[string]bool{}
	for _, svc := range svcs {
		ips[ingressIP(getService(t, env, svc.Name))] = true
	}
	if len(ips) != 10 {
		t.Errorf("%d distinct IPs, want 10", len(ips))
	}
	// Each release runs once the Service's rule holds the IP, beside the
	// status write.
	eventually(t, lbConvergeTime, "no address left reserved", func(context.Context) (bool, string) {
		d := env.Fake.Dump()
		return len(d.Addresses) == 0, fmt.Sprintf("%d addresses left reserved, want none", len(d.Addresses))
	})
}
