// Package integration runs the manager binary against a real kube-apiserver
// and etcd and the fake Compute API, and checks what a user would see.
package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

var managerBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gce-ccm-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	managerBinary, err = harness.BuildManager(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// startEnv starts a control plane, the fake seeded with instances, and the
// manifests' RBAC; everything stops when the test ends.
func startEnv(t *testing.T, fake fakecompute.Config, instances ...fakecompute.InstanceSeed) *harness.Env {
	t.Helper()
	env, err := harness.Start(t.Context(), harness.Options{Fake: fake, Instances: instances, ManagerBinary: managerBinary})
	if err != nil {
		t.Fatalf("start environment: %v", err)
	}
	t.Cleanup(env.Stop)
	return env
}

// startManager runs one manager for the rest of the test and logs its
// output if the test fails.
func startManager(t *testing.T, env *harness.Env, name string, extra ...string) *harness.Manager {
	t.Helper()
	m, err := env.StartManager(name, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("log of manager %s:\n%s", name, tail(m.Log(), 60))
		}
	})
	return m
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// eventually polls cond until it holds or the timeout passes; the last
// reason it gave is the failure message.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, string)) {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(timeout)
	var why string
	for {
		ok, reason := cond(ctx)
		if ok {
			return
		}
		why = reason
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %s", what, timeout, why)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

const uninitializedTaint = "node.cloudprovider.kubernetes.io/uninitialized"

// createNode registers a node as a kubelet with --cloud-provider=external would.
func createNode(t *testing.T, env *harness.Env, name string) {
	t.Helper()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: uninitializedTaint, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	if _, err := env.Admin.CoreV1().Nodes().Create(t.Context(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func seed(name, zone string) fakecompute.InstanceSeed {
	return fakecompute.InstanceSeed{Name: name, Zone: zone, CanIPForward: true, MachineType: "n2-standard-4"}
}
