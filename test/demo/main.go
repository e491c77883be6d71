// Command demo shows gce-ccm at work on this machine: it starts etcd,
// kube-apiserver, the fake Compute API seeded with a few VMs and the manager,
// registers the VMs as nodes the way kubelets with --cloud-provider=external
// do, and prints what the manager did. It runs until Ctrl-C and then stops
// every process it started. `make demo` builds what it needs and runs it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(root, "hack", "demo-seed.yaml"))
	if err != nil {
		return err
	}
	seed, err := fakecompute.ParseSeed(data)
	if err != nil {
		return err
	}
	binDir, err := os.MkdirTemp("", "gce-ccm-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	step("building the manager")
	manager, err := harness.BuildManager(ctx, binDir)
	if err != nil {
		return err
	}
	step("starting etcd, kube-apiserver and the fake Compute API")
	env, err := harness.Start(ctx, harness.Options{
		Fake:          fakecompute.Config{Latency: 200 * time.Millisecond},
		Instances:     seed.Instances,
		ManagerBinary: manager,
	})
	if err != nil {
		return err
	}
	defer func() {
		step("stopping everything")
		env.Stop()
	}()
	step("starting gce-cloud-controller-manager (log: " + filepath.Join(env.Dir, "manager.log") + ")")
	m, err := env.StartManager("manager", "--configure-cloud-routes=true", "--cluster-cidr=10.244.0.0/16",
		"--cluster-name=demo", "--min-resync-period=10s")
	if err != nil {
		return err
	}

	step("registering the VMs as nodes, tainted uninitialized as kubelets with --cloud-provider=external do")
	for i, in := range seed.Instances {
		cidr := fmt.Sprintf("10.244.%d.0/24", i+1)
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: in.Name},
			Spec: corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr}, Taints: []corev1.Taint{{
				Key: uninitialized, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
		}
		if _, err := env.Admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if err := waitNodes(ctx, env, len(seed.Instances), m); err != nil {
		return err
	}
	printNodes(ctx, env)
	if err := waitFor(ctx, "a route per node", func() bool { return len(env.Fake.Dump().Routes) == len(seed.Instances) }); err != nil {
		return err
	}
	printRoutes(env)

	step("creating Service default/web of type LoadBalancer (TCP 80)")
	svc, err := createService(ctx, env)
	if err != nil {
		return err
	}
	var ip string
	if err := waitFor(ctx, "an external IP for default/web", func() bool {
		s, err := env.Admin.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return false
		}
		ip = s.Status.LoadBalancer.Ingress[0].IP
		return true
	}); err != nil {
		return err
	}
	fmt.Printf("\nService default/web: status.loadBalancer.ingress = %s\n", ip)
	printLoadBalancer(env)

	bin, _ := os.LookupEnv("GCE_CCM_TEST_BIN")
	fmt.Printf("\nkubectl:            %s --kubeconfig %s get nodes,services\n", filepath.Join(bin, "kubectl"), env.CP.AdminKubeconfig)
	fmt.Printf("kubeconfig (admin): %s\n", env.CP.AdminKubeconfig)
	fmt.Printf("fake Compute API:   %s/compute/v1/projects/%s/  (control: %s/_fake/dump)\n", env.Fake.URL(), harness.Project, env.Fake.URL())
	fmt.Printf("manager log:        %s\n", m.LogPath)
	fmt.Println("\nRunning; press Ctrl-C to stop every process the demo started.")
	<-ctx.Done()
	return nil
}

const uninitialized = "node.cloudprovider.kubernetes.io/uninitialized"

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

func step(s string) { fmt.Fprintf(os.Stderr, "==> %s\n", s) }

func waitNodes(ctx context.Context, env *harness.Env, want int, m *harness.Manager) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		nodes, err := env.Admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		done := 0
		for _, n := range nodes.Items {
			if n.Spec.ProviderID != "" && !hasTaint(&n, uninitialized) {
				done++
			}
		}
		if done == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d nodes initialised after 2 minutes; manager log: %s", done, want, m.LogPath)
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func waitFor(ctx context.Context, what string, cond func() bool) error {
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after 2 minutes", what)
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-time.After(300 * time.Millisecond):
		}
	}
	return nil
}

func createService(ctx context.Context, env *harness.Env) (*corev1.Service, error) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	return env.Admin.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
}

func last(link string) string { return link[strings.LastIndexByte(link, '/')+1:] }

func printRoutes(env *harness.Env) {
	fmt.Println("\nGCE routes the manager created (one per pod CIDR, next hop the node's VM):")
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  NAME\tDEST RANGE\tNEXT HOP\tDESCRIPTION")
	for _, r := range env.Fake.Dump().Routes {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", r.Name, r.DestRange, last(r.NextHopInstance), r.Description)
	}
	_ = w.Flush()
}

func printLoadBalancer(env *harness.Env) {
	d := env.Fake.Dump()
	fmt.Println("GCE resources behind it:")
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	for _, a := range d.Addresses {
		fmt.Fprintf(w, "  address\t%s\t%s %s\n", a.Name, a.Address, a.Status)
	}
	for _, f := range d.ForwardingRules {
		fmt.Fprintf(w, "  forwarding rule\t%s\t%s %s %s -> %s\n", f.Name, f.IPAddress, f.IPProtocol, f.PortRange+strings.Join(f.Ports, ","), last(f.Target))
	}
	for _, p := range d.TargetPools {
		var vms []string
		for _, i := range p.Instances {
			vms = append(vms, last(i))
		}
		var hcs []string
		for _, h := range p.HealthChecks {
			hcs = append(hcs, last(h))
		}
		fmt.Fprintf(w, "  target pool\t%s\t%s; health check %s\n", p.Name, strings.Join(vms, ","), strings.Join(hcs, ","))
	}
	for _, h := range d.HTTPHealthChecks {
		fmt.Fprintf(w, "  health check\t%s\tport %d %s\n", h.Name, h.Port, h.RequestPath)
	}
	for _, f := range d.Firewalls {
		var allowed []string
		for _, a := range f.Allowed {
			allowed = append(allowed, a.IPProtocol+":"+strings.Join(a.Ports, ","))
		}
		fmt.Fprintf(w, "  firewall\t%s\t%s from %s to tags %s\n", f.Name, strings.Join(allowed, " "), strings.Join(f.SourceRanges, ","), strings.Join(f.TargetTags, ","))
	}
	_ = w.Flush()
}

func printNodes(ctx context.Context, env *harness.Env) {
	nodes, err := env.Admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	fmt.Println("\nNodes the manager initialised:")
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  NODE\tPROVIDER ID\tZONE\tTYPE\tADDRESSES\tUNINITIALIZED")
	for _, n := range nodes.Items {
		var addrs []string
		for _, a := range n.Status.Addresses {
			addrs = append(addrs, string(a.Type)+"="+a.Address)
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%v\n", n.Name, n.Spec.ProviderID, n.Labels["topology.kubernetes.io/zone"],
			n.Labels["node.kubernetes.io/instance-type"], strings.Join(addrs, " "), hasTaint(&n, uninitialized))
	}
	_ = w.Flush()
}
