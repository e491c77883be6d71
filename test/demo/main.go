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
	m, err := env.StartManager("manager")
	if err != nil {
		return err
	}

	step("registering the VMs as nodes, tainted uninitialized as kubelets with --cloud-provider=external do")
	for _, in := range seed.Instances {
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: in.Name},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{{
				Key: "node.cloudprovider.kubernetes.io/uninitialized", Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
		}
		if _, err := env.Admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if err := waitNodes(ctx, env, len(seed.Instances), m); err != nil {
		return err
	}
	printNodes(ctx, env)

	fmt.Printf("\nkubeconfig (admin): %s\n", env.CP.AdminKubeconfig)
	fmt.Printf("fake Compute API:   %s/compute/v1/projects/%s/  (control: %s/_fake/dump)\n", env.Fake.URL(), harness.Project, env.Fake.URL())
	fmt.Printf("manager log:        %s\n", m.LogPath)
	fmt.Println("\nRunning; press Ctrl-C to stop every process the demo started.")
	<-ctx.Done()
	return nil
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
			if n.Spec.ProviderID != "" && len(n.Spec.Taints) == 0 {
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

func printNodes(ctx context.Context, env *harness.Env) {
	nodes, err := env.Admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	fmt.Println("\nNodes the manager initialised:")
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  NODE\tPROVIDER ID\tZONE\tTYPE\tADDRESSES\tTAINTS")
	for _, n := range nodes.Items {
		var addrs []string
		for _, a := range n.Status.Addresses {
			addrs = append(addrs, string(a.Type)+"="+a.Address)
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%d\n", n.Name, n.Spec.ProviderID, n.Labels["topology.kubernetes.io/zone"],
			n.Labels["node.kubernetes.io/instance-type"], strings.Join(addrs, " "), len(n.Spec.Taints))
	}
	_ = w.Flush()
}
