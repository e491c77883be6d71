package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

// full is set by `make chaos` (GCE_CCM_CHAOS=full): the sizes the README's
// table quotes. Without it each case runs a short version.
var full = os.Getenv("GCE_CCM_CHAOS") == "full"

var managerBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gce-ccm-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	managerBinary, err = harness.BuildManager(ctx, dir) // once per run
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// size picks the full or the short figure.
func size[T any](fullValue, short T) T {
	if full {
		return fullValue
	}
	return short
}

const (
	clusterName = "chaos"
	clusterID   = "c4a05c4a05c4a05c"
	nodeTag     = "node"
	namespace   = "default"
	clusterCIDR = "10.64.0.0/14"
)

var zones = []string{"us-central1-a", "us-central1-b", "us-central1-c"}

// managerArgs run every controller this suite checks: routes, load
// balancers, nodes.
var managerArgs = []string{
	"--cluster-name=" + clusterName,
	"--configure-cloud-routes=true",
	"--cluster-cidr=" + clusterCIDR,
	"--route-reconciliation-period=5s",
	"--min-resync-period=10s",
}

// world is one running environment: control plane, fake, VMs, and a
// supervised manager (restarted when it exits, as a Deployment would).
type world struct {
	t   *testing.T
	env *harness.Env
	rnd *rand.Rand
	vms []string // every seeded VM name; node i runs on vms[i]

	mu       sync.Mutex
	cur      *harness.Manager
	starts   int
	exits    int // exits the suite did not cause
	killed   bool
	stopping bool
	done     chan struct{}
}

func vmName(i int) string { return fmt.Sprintf("node-%03d", i) }

// podCIDR is node i's pod range, a /24 of clusterCIDR.
func podCIDR(i int) string { return fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256) }

// newWorld seeds vms VMs, starts the control plane, creates the cluster id
// and starts the manager under supervision.
func newWorld(t *testing.T, fake fakecompute.Config, vms int) *world {
	t.Helper()
	return startWorld(t, fake, vms, true)
}

// newBareWorld is newWorld without the supervised manager: the case runs
// its managers itself.
func newBareWorld(t *testing.T, fake fakecompute.Config, vms int) *world {
	t.Helper()
	return startWorld(t, fake, vms, false)
}

func startWorld(t *testing.T, fake fakecompute.Config, vms int, supervised bool) *world {
	t.Helper()
	var seeds []fakecompute.InstanceSeed
	w := &world{t: t, rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)), done: make(chan struct{})}
	for i := range vms {
		name := vmName(i)
		w.vms = append(w.vms, name)
		seeds = append(seeds, fakecompute.InstanceSeed{Name: name, Zone: zones[i%len(zones)], CanIPForward: true,
			MachineType: "n2-standard-4", Tags: []string{nodeTag}})
	}
	env, err := harness.Start(t.Context(), harness.Options{Fake: fake, Instances: seeds, ManagerBinary: managerBinary,
		// Room for 200 nodes' objects and many Services.
		ExtraAPIServerArgs: []string{"--max-requests-inflight=800", "--max-mutating-requests-inflight=400"}})
	if err != nil {
		t.Fatalf("start environment: %v", err)
	}
	w.env = env
	t.Cleanup(func() {
		w.stopManager()
		if t.Failed() {
			if m := w.current(); m != nil {
				t.Logf("end of the last manager's log:\n%s", tail(m.Log(), 40))
			}
		}
		env.Stop()
	})
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "ingress-uid"},
		Data: map[string]string{"uid": clusterID, "provider-uid": clusterID}}
	if _, err := env.Admin.CoreV1().ConfigMaps("kube-system").Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if supervised {
		go w.supervise(managerArgs)
	} else {
		close(w.done)
	}
	return w
}

// supervise runs the manager, starting it again a second after it exits.
func (w *world) supervise(args []string) {
	defer close(w.done)
	for {
		w.mu.Lock()
		if w.stopping {
			w.mu.Unlock()
			return
		}
		w.starts++
		name := fmt.Sprintf("m%02d", w.starts)
		w.mu.Unlock()
		m, err := w.env.StartManager(name, args...)
		if err != nil {
			w.t.Errorf("start manager %s: %v", name, err)
			return
		}
		w.mu.Lock()
		w.cur, w.killed = m, false
		w.mu.Unlock()
		_, _ = m.Wait(context.Background())
		w.mu.Lock()
		if !w.killed && !w.stopping {
			w.exits++
			w.t.Logf("manager %s exited by itself:\n%s", name, tail(m.Log(), 15))
		}
		w.mu.Unlock()
		time.Sleep(time.Second)
	}
}

func (w *world) current() *harness.Manager {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// kill ends the running manager with SIGKILL; the supervisor starts the
// next one.
func (w *world) kill() {
	w.mu.Lock()
	m := w.cur
	w.killed = true
	w.mu.Unlock()
	if m != nil {
		m.Kill()
	}
}

func (w *world) stopManager() {
	w.mu.Lock()
	w.stopping = true
	m := w.cur
	w.mu.Unlock()
	if m != nil {
		m.Stop()
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
	}
}

// unplannedExits is how often the manager exited without being killed.
func (w *world) unplannedExits() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.exits
}

// addNode registers node i as a kubelet with --cloud-provider=external and
// kube-controller-manager's IPAM would: uninitialised, with its pod CIDR.
func (w *world) addNode(ctx context.Context, i int) error {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: w.vms[i]},
		Spec: corev1.NodeSpec{PodCIDR: podCIDR(i), PodCIDRs: []string{podCIDR(i)},
			Taints: []corev1.Taint{{Key: "node.cloudprovider.kubernetes.io/uninitialized", Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	_, err := w.env.Admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (w *world) removeNode(ctx context.Context, i int) error {
	err := w.env.Admin.CoreV1().Nodes().Delete(ctx, w.vms[i], metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// kinds of Service the suite creates; each is a LoadBalancer Service, the
// "internal" ones annotated for an internal load balancer (TCP only: an
// internal forwarding rule carries one protocol). A case with n Services
// creates kinds[i%len(kinds)] for i < n, so the first kinds are in every
// short version.
var kinds = []string{"tcp", "internal", "udp", "both", "local", "internal-local", "affinity", "ranges"}

// internalTypeAnnotation asks for an internal load balancer.
const internalTypeAnnotation = "networking.gke.io/load-balancer-type"

func isInternal(svc *corev1.Service) bool {
	return svc.Annotations[internalTypeAnnotation] == "Internal"
}

// service builds a Service of a kind.
func service(name, kind string) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"chaos-kind": kind}},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	switch kind {
	case "udp":
		svc.Spec.Ports = []corev1.ServicePort{{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53}}
	case "both":
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53})
	case "local":
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	case "internal":
		svc.Annotations = map[string]string{internalTypeAnnotation: "Internal"}
	case "internal-local":
		svc.Annotations = map[string]string{internalTypeAnnotation: "Internal"}
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	case "affinity":
		svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	case "ranges":
		svc.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24", "198.51.100.0/25"}
	}
	return svc
}

// createService creates a Service, retrying while the API is unavailable.
func (w *world) createService(ctx context.Context, svc *corev1.Service) error {
	return retryAPI(ctx, func() error {
		_, err := w.env.Admin.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
}

func (w *world) deleteService(ctx context.Context, name string) error {
	return retryAPI(ctx, func() error {
		err := w.env.Admin.CoreV1().Services(namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// changeService applies a change that keeps the Service's kind valid:
// another port, a flipped affinity, other source ranges or another traffic
// policy.
func (w *world) changeService(ctx context.Context, name string, change int) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := w.env.Admin.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch change % 4 {
		case 0:
			p := svc.Spec.Ports[0]
			p.NodePort = 0 // allocated anew
			p.Name, p.Port = fmt.Sprintf("p%d", 1000+len(svc.Spec.Ports)), int32(1000+len(svc.Spec.Ports))
			svc.Spec.Ports = append(svc.Spec.Ports, p)
		case 1:
			if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
				svc.Spec.SessionAffinity, svc.Spec.SessionAffinityConfig = corev1.ServiceAffinityNone, nil
			} else {
				svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			}
		case 2:
			svc.Spec.LoadBalancerSourceRanges = []string{fmt.Sprintf("192.0.2.%d/32", change%250)}
		case 3:
			if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
				svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			} else {
				svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			}
		}
		_, err = w.env.Admin.CoreV1().Services(namespace).Update(ctx, svc, metav1.UpdateOptions{})
		return err
	})
}

// retryAPI retries a call while kube-apiserver is unreachable or busy.
func retryAPI(ctx context.Context, call func() error) error {
	var err error
	for range 60 {
		if err = call(); err == nil || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return err
}

// waitFor polls cond every second until it holds or timeout passes and
// returns how long it took; on timeout the test fails with cond's last
// reason.
func (w *world) waitFor(timeout time.Duration, what string, cond func(ctx context.Context) (bool, string)) time.Duration {
	w.t.Helper()
	start := time.Now()
	var why string
	for {
		ok, reason := cond(w.t.Context())
		if ok {
			return time.Since(start)
		}
		why = reason
		if time.Since(start) > timeout {
			w.t.Fatalf("%s: not true after %s: %s", what, timeout, why)
		}
		select {
		case <-w.t.Context().Done():
			w.t.Fatalf("%s: %v", what, w.t.Context().Err())
		case <-time.After(time.Second):
		}
	}
}

// tail is the end of a log, each line cut to 300 bytes: the bad-input
// case puts 100 KB values in Services.
func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	for i := range l {
		if len(l[i]) > 300 {
			l[i] = l[i][:300] + "..."
		}
	}
	return strings.Join(l, "\n")
}

// writeMethods are the fake's mutating methods of the resources gce-ccm
// writes, for faults that fail operations.
var writeMethods = []string{
	"routes.insert", "routes.delete",
	"addresses.insert", "addresses.delete",
	"forwardingRules.insert", "forwardingRules.delete", "forwardingRules.setTarget",
	"targetPools.insert", "targetPools.delete", "targetPools.addInstance", "targetPools.removeInstance",
	"targetPools.addHealthCheck", "targetPools.removeHealthCheck",
	"firewalls.insert", "firewalls.delete", "firewalls.patch", "firewalls.update",
	"httpHealthChecks.insert", "httpHealthChecks.delete", "httpHealthChecks.patch", "httpHealthChecks.update",
	"forwardingRules.patch",
	"instanceGroups.insert", "instanceGroups.delete", "instanceGroups.addInstances", "instanceGroups.removeInstances",
	"regionBackendServices.insert", "regionBackendServices.delete", "regionBackendServices.patch", "regionBackendServices.update",
	"healthChecks.insert", "healthChecks.delete", "healthChecks.patch", "healthChecks.update",
}

// callFigures sums the fake's call counts: all calls, failed ones (but a
// notFound, which is how the manager learns that something is missing),
// and successful writes.
func callFigures(env *harness.Env) (calls, failed, writes int) {
	for method, results := range env.Fake.Calls() {
		for r, n := range results {
			calls += n
			if r != "ok" && r != fakecompute.ReasonNotFound {
				failed += n
			} else if isWrite(method) {
				writes += n
			}
		}
	}
	return calls, failed, writes
}

func isWrite(method string) bool {
	for _, w := range []string{".insert", ".delete", ".patch", ".update", ".set", ".add", ".remove"} {
		if strings.Contains(method, w) {
			return true
		}
	}
	return false
}
