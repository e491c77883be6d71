package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

const (
	clusterName = "bench"
	// clusterCIDR holds the nodes' pod CIDRs, which are allocated from
	// podCIDRBase on: clear of the service range and the VMs' subnetwork.
	clusterCIDR        = "10.0.0.0/8"
	podCIDRBase        = "10.64.0.0"
	serviceIPRange     = "10.0.0.0/16" // room for M1's 1,000 Services
	uninitializedTaint = "node.cloudprovider.kubernetes.io/uninitialized"
	nodeTag            = "bench-node"
	serviceNamespace   = "default"
	// createWorkers is how many nodes or Services the bench creates at once.
	createWorkers = 32
)

var zones = []string{"us-central1-a", "us-central1-b", "us-central1-c"}

// managerArgs is how the bench runs the manager: product defaults where the
// harness shortens periods for tests, plus the tuning that thousands of
// nodes and hundreds of Services need.
func managerArgs(c *config, routes bool) []string {
	args := []string{
		"--cluster-name=" + clusterName,
		// Back to the product's defaults (the harness shortens them for
		// failover tests; a 1.5s lease request timeout loses the lease on a
		// busy machine, and the manager exits).
		"--leader-elect-lease-duration=15s",
		"--leader-elect-renew-deadline=10s",
		"--leader-elect-retry-period=2s",
		"--node-monitor-period=5s",
		"--instance-cache-ttl=15s",
		"--v=1",
		// client-go's 20 qps would make the route controller's N
		// NetworkUnavailable patches, and the node controller's N node
		// updates, take N/20 seconds. More than kube-apiserver serves (about
		// 200 patches a second on two shared cores) buys nothing and costs
		// memory: the route controller patches all N nodes at once, and
		// every request past the limiter holds a goroutine with a deep stack
		// and its buffers.
		"--kube-api-qps=300",
		"--kube-api-burst=300",
		fmt.Sprintf("--concurrent-service-syncs=%d", serviceSyncs(c)),
		"--concurrent-node-syncs=10",
	}
	if routes {
		args = append(args, "--configure-cloud-routes=true", "--cluster-cidr="+clusterCIDR)
	}
	return args
}

// serviceSyncs is how many Services the manager syncs at once: enough to
// keep the write rate at Q, and no more, since every sync in flight holds
// its node list, target pools and buffers. A new Service takes at least 3 L
// (health check, pool, rule in a chain) for about 4 writes, so Q writes a
// second need about Q*3L/4 syncs; N1's node sync uses as many workers, each
// holding one membership write for L, so it needs Q*L. A quarter more
// absorbs the reads and the scheduling around the writes.
func serviceSyncs(c *config) int {
	return max(10, int(math.Ceil(1.25*c.qps*c.latency.Seconds())))
}

// managerEnv is the manager's environment. GOMEMLIMIT bounds the heap:
// without it the Go runtime lets the heap grow to twice what is live
// before collecting, which at 5,000 nodes and 1,000 Services put the
// manager at 400 MiB. A deployment sets it next to its memory limit.
var managerEnv = []string{"GOMEMLIMIT=200MiB"}

// world is one scenario's control plane, fake and manager.
type world struct {
	cfg   *config
	env   *harness.Env
	admin kubernetes.Interface
	mgr   *harness.Manager
	qps   float64

	nodes    cache.Store
	services cache.Store
	stopInf  context.CancelFunc

	exited atomic.Pointer[string] // why the manager ended, once it has
}

// worldOpts shape a world.
type worldOpts struct {
	routes bool
	vms    int     // VMs seeded into the fake before the manager starts
	qps    float64 // write rate of the fake and the manager; 0 means -qps
}

// startWorld starts the control plane and the fake (with the latency and
// rate model), seeds VMs, starts the manager and waits until its
// controllers run.
func startWorld(ctx context.Context, cfg *config, name string, o worldOpts) (_ *world, err error) {
	qps := o.qps
	if qps == 0 {
		qps = cfg.qps
	}
	burst := max(1, int(qps))
	// The manager's bucket refills at the fake's rate and holds less.
	clientBurst := cfg.clientBurst(burst)
	env, err := harness.Start(ctx, harness.Options{
		Fake:               fakecompute.Config{Latency: cfg.latency},
		ManagerBinary:      cfg.manager,
		KeepDir:            cfg.keep,
		ManagerEnv:         append(slices.Clone(managerEnv), cfg.managerEnv...),
		ExtraAPIServerArgs: []string{"--service-cluster-ip-range=" + serviceIPRange},
		GCEConfExtra: []string{
			fmt.Sprintf("api-write-qps = %g", qps),
			fmt.Sprintf("api-write-burst = %d", clientBurst),
			"node-tags = " + nodeTag,
		},
	})
	if err != nil {
		return nil, err
	}
	w := &world{cfg: cfg, env: env, qps: qps}
	defer func() {
		if err != nil {
			w.stop()
		}
	}()
	env.Fake.SetWriteRateLimit(qps, burst)
	if cfg.keep {
		fmt.Fprintf(os.Stderr, "    %s: directory %s\n", name, env.Dir)
	}

	rc := env.CP.AdminConfig()
	rc.QPS, rc.Burst = 5000, 10000
	if w.admin, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, err
	}
	for i := range o.vms {
		if err := env.Fake.AddInstance(vmSeed(i)); err != nil {
			return nil, err
		}
	}

	infCtx, cancel := context.WithCancel(context.Background())
	w.stopInf = cancel
	f := informers.NewSharedInformerFactory(w.admin, 0)
	nodeInf, svcInf := f.Core().V1().Nodes().Informer(), f.Core().V1().Services().Informer()
	w.nodes, w.services = nodeInf.GetStore(), svcInf.GetStore()
	f.Start(infCtx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nodeInf.HasSynced, svcInf.HasSynced) {
		return nil, errors.New("bench informers did not sync")
	}

	if w.mgr, err = env.StartManager("manager", append(managerArgs(cfg, o.routes), cfg.managerArgs...)...); err != nil {
		return nil, err
	}
	go func() {
		code, err := w.mgr.Wait(context.Background())
		why := fmt.Sprintf("the manager exited (code %d, %v); log: %s", code, err, w.mgr.LogPath)
		w.exited.Store(&why)
	}()
	// The measurement starts with the controllers running, as in a
	// cluster that nodes and Services join.
	marker := "Starting service controller"
	if o.routes {
		marker = "Starting route controller"
	}
	if err := poll(ctx, 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
		if _, err := os.Stat(w.mgr.LogPath); err != nil {
			return false, err.Error()
		}
		return strings.Contains(w.mgr.Log(), marker), "manager log lacks " + strconv.Quote(marker) + "; see " + w.mgr.LogPath
	}); err != nil {
		return nil, err
	}
	// Leave the informers of the controllers a moment to sync.
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *world) stop() {
	if w.stopInf != nil {
		w.stopInf()
	}
	w.env.Stop()
}

// vmName is the name of node i and its VM.
func vmName(i int) string { return fmt.Sprintf("%s-%05d", nodeTag, i) }

func vmZone(i int) string { return zones[i%len(zones)] }

func vmSeed(i int) fakecompute.InstanceSeed {
	return fakecompute.InstanceSeed{Name: vmName(i), Zone: vmZone(i), CanIPForward: true,
		MachineType: "n2-standard-4", Tags: []string{nodeTag}}
}

// vmURL is the VM's URL as target pools hold it.
func vmURL(i int) string {
	return "https://www.googleapis.com/compute/v1/projects/" + harness.Project + "/zones/" + vmZone(i) + "/instances/" + vmName(i)
}

// podCIDR is node i's /24.
func podCIDR(i int) string {
	a := netip.MustParseAddr(podCIDRBase).As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i) << 8
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String() + "/24"
}

// createNodes registers nodes [from, to) as kubelets with
// --cloud-provider=external do (tainted uninitialized, no provider ID), with
// the pod CIDR that kube-controller-manager's IPAM would give them, and
// reports them Ready.
func (w *world) createNodes(ctx context.Context, from, to int) error {
	readyPatch := func() []byte {
		now := metav1.Now().UTC().Format(time.RFC3339)
		return []byte(`{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"bench",` +
			`"lastHeartbeatTime":"` + now + `","lastTransitionTime":"` + now + `"}]}}`)
	}
	return parallel(ctx, to-from, createWorkers, func(ctx context.Context, k int) error {
		i := from + k
		cidr := podCIDR(i)
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: vmName(i)},
			Spec: corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr},
				Taints: []corev1.Taint{{Key: uninitializedTaint, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
		}
		if _, err := w.admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
		// Node lifecycle checks reach the cloud only for nodes that are not
		// Ready; a cluster's nodes are Ready.
		if _, err := w.admin.CoreV1().Nodes().PatchStatus(ctx, n.Name, readyPatch()); err != nil {
			return fmt.Errorf("report node %s Ready: %w", n.Name, err)
		}
		return nil
	})
}

// createServices creates Services [from, to) of type LoadBalancer.
func (w *world) createServices(ctx context.Context, from, to int) error {
	return parallel(ctx, to-from, createWorkers, func(ctx context.Context, k int) error {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%04d", from+k), Namespace: serviceNamespace},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeLoadBalancer,
				Selector: map[string]string{"app": "bench"},
				Ports:    []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}},
			},
		}
		if _, err := w.admin.CoreV1().Services(serviceNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create service %s: %w", s.Name, err)
		}
		return nil
	})
}

// nodeCounts counts nodes that the route controller marked network
// available and those the node controller initialised.
func (w *world) nodeCounts() (available, initialised int) {
	for _, obj := range w.nodes.List() {
		n := obj.(*corev1.Node)
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeNetworkUnavailable && c.Status == corev1.ConditionFalse {
				available++
			}
		}
		if n.Spec.ProviderID != "" && !hasTaint(n, uninitializedTaint) {
			initialised++
		}
	}
	return available, initialised
}

// servicesWithIP counts LoadBalancer Services that have an ingress IP.
func (w *world) servicesWithIP() int {
	k := 0
	for _, obj := range w.services.List() {
		s := obj.(*corev1.Service)
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer && len(s.Status.LoadBalancer.Ingress) > 0 && s.Status.LoadBalancer.Ingress[0].IP != "" {
			k++
		}
	}
	return k
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// waitNodes waits until want nodes are initialised (and, with routes,
// network available).
func (w *world) waitNodes(ctx context.Context, want int, routes bool, timeout time.Duration) error {
	return w.poll(ctx, timeout, 200*time.Millisecond, func() (bool, string) {
		avail, init := w.nodeCounts()
		if routes && avail < want {
			return false, fmt.Sprintf("%d of %d nodes NetworkUnavailable=False", avail, want)
		}
		return init >= want, fmt.Sprintf("%d of %d nodes initialised", init, want)
	})
}

// waitServices waits until want Services have an IP.
func (w *world) waitServices(ctx context.Context, want int, timeout time.Duration) error {
	// The informer's cache is local, so a fine step costs nothing; a coarse
	// one would be a tenth of L1's bound.
	return w.poll(ctx, timeout, 20*time.Millisecond, func() (bool, string) {
		got := w.servicesWithIP()
		return got >= want, fmt.Sprintf("%d of %d Services have an IP", got, want)
	})
}

// poll is poll that gives up as soon as the manager has exited.
func (w *world) poll(ctx context.Context, timeout, interval time.Duration, cond func() (bool, string)) error {
	var exited error
	err := poll(ctx, timeout, interval, func() (bool, string) {
		if why := w.exited.Load(); why != nil {
			exited = errors.New(*why)
			return true, ""
		}
		return cond()
	})
	if exited != nil {
		return exited
	}
	return err
}

// resetCalls starts counting Compute API calls afresh.
func (w *world) resetCalls() { w.env.Fake.ResetCalls() }

// peakRSS is the manager's peak resident set (VmHWM) in MiB.
func (w *world) peakRSS() (float64, error) {
	return procStatusMiB(w.mgr.PID(), "VmHWM")
}

func procStatusMiB(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			f := strings.Fields(v) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseFloat(f[0], 64)
				return kb / 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// parallel runs fn for 0..n-1 on workers goroutines; the first error stops
// the rest.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// poll calls cond every interval until it holds; after timeout the last
// reason it gave is the error.
func poll(ctx context.Context, timeout, interval time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s: %s", timeout, why)
		}
		if err := sleep(ctx, interval); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
