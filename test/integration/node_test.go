package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

func TestNodeInitialization(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, seed("node-a", "us-central1-a"), seed("node-b", "us-central1-b"))
	startManager(t, env, "m1")
	createNode(t, env, "node-a")
	createNode(t, env, "node-b")

	// The cloud-node controller writes the provider ID, the labels, the
	// taint's removal and the addresses in more than one update: wait for
	// all of what is asserted, not for one part of it.
	dump := env.Fake.Dump()
	for _, inst := range dump.Instances {
		zone := inst.Zone[strings.LastIndexByte(inst.Zone, '/')+1:]
		wantLabels := map[string]string{
			"topology.kubernetes.io/zone":      zone,
			"topology.kubernetes.io/region":    "us-central1",
			"node.kubernetes.io/instance-type": "n2-standard-4",
		}
		wantAddrs := []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: inst.NetworkInterfaces[0].NetworkIP},
			{Type: corev1.NodeExternalIP, Address: inst.NetworkInterfaces[0].AccessConfigs[0].NatIP},
			{Type: corev1.NodeHostName, Address: inst.Name + "." + zone + ".c.fake-project.internal"},
		}
		eventually(t, 60*time.Second, "node "+inst.Name+" initialised", func(ctx context.Context) (bool, string) {
			n, err := env.Admin.CoreV1().Nodes().Get(ctx, inst.Name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			var why []string
			if want := "gce://fake-project/" + zone + "/" + inst.Name; n.Spec.ProviderID != want {
				why = append(why, fmt.Sprintf("providerID = %q, want %q", n.Spec.ProviderID, want))
			}
			if hasTaint(n, uninitializedTaint) {
				why = append(why, fmt.Sprintf("taints %v", n.Spec.Taints))
			}
			for k, v := range wantLabels {
				if n.Labels[k] != v {
					why = append(why, fmt.Sprintf("label %s = %q, want %q", k, n.Labels[k], v))
				}
			}
			if diff := cmp.Diff(wantAddrs, n.Status.Addresses); diff != "" {
				why = append(why, "addresses (-want +got):\n"+diff)
			}
			return len(why) == 0, strings.Join(why, "; ")
		})
	}
}

func TestNodeOfDeletedVMIsDeleted(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, seed("node-a", "us-central1-a"), seed("node-gone", "us-central1-a"))
	startManager(t, env, "m1")
	createNode(t, env, "node-a")
	createNode(t, env, "node-gone")
	waitInitialised(t, env, "node-gone")

	deleteVM(t, env, "us-central1-a", "node-gone")
	eventually(t, 60*time.Second, "node-gone deleted", func(ctx context.Context) (bool, string) {
		_, err := env.Admin.CoreV1().Nodes().Get(ctx, "node-gone", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("get node: %v", err)
	})
	if _, err := env.Admin.CoreV1().Nodes().Get(t.Context(), "node-a", metav1.GetOptions{}); err != nil {
		t.Errorf("node-a, whose VM exists, is gone too: %v", err)
	}
}

func TestStoppedVMGetsShutdownTaint(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, seed("node-a", "us-central1-a"))
	startManager(t, env, "m1")
	createNode(t, env, "node-a")
	waitInitialised(t, env, "node-a")

	if err := env.Fake.SetInstanceStatus("", "us-central1-a", "node-a", fakecompute.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	const shutdownTaint = "node.cloudprovider.kubernetes.io/shutdown"
	eventually(t, 60*time.Second, "shutdown taint on node-a", func(ctx context.Context) (bool, string) {
		n, err := env.Admin.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return hasTaint(n, shutdownTaint), fmt.Sprintf("taints %v", n.Spec.Taints)
	})
	// A stopped VM's node is kept: it may start again.
	if _, err := env.Admin.CoreV1().Nodes().Get(t.Context(), "node-a", metav1.GetOptions{}); err != nil {
		t.Errorf("node of a stopped VM was deleted: %v", err)
	}
}

func TestBadConfigExitsWithMessage(t *testing.T) {
	env := startEnv(t, fakecompute.Config{})
	tests := []struct {
		name, conf, want string
		args             []string // flags; with them conf is the harness's good one
	}{
		{name: "unknown key", conf: "[global]\nproject-id = fake-project\nnetwork-nmae = default\n", want: "network-nmae"},
		{name: "bad value", conf: "[global]\nproject-id = fake-project\nmultizone = often\n", want: "multizone"},
		{name: "bad endpoint", conf: "[global]\nproject-id = fake-project\napi-endpoint = not a url\n", want: "api-endpoint"},
		// Route names begin with the cluster name, and routes with the
		// cluster's prefix are taken for its own: two clusters left on the
		// default name would delete each other's routes.
		{name: "default cluster name with routes", want: "--allow-default-cluster-name",
			args: []string{"--configure-cloud-routes=true", "--cluster-name=kubernetes", "--cluster-cidr=10.64.0.0/14"}},
		{name: "bad prober range", want: "--cloud-provider-gce-lb-src-cidrs", args: []string{"--cloud-provider-gce-lb-src-cidrs=130.211.0.0/22,nonsense"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.conf != "" {
				conf := filepath.Join(env.Dir, strings.ReplaceAll(tc.name, " ", "-")+".conf")
				if err := os.WriteFile(conf, []byte(tc.conf), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--cloud-config="+conf)
			}
			m, err := env.StartManager("bad-"+strings.ReplaceAll(tc.name, " ", "-"), args...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			code, err := m.Wait(ctx)
			if err != nil {
				m.Kill()
				t.Fatalf("manager did not exit: %v\n%s", err, tail(m.Log(), 20))
			}
			if code == 0 {
				t.Errorf("exit code 0 for bad input")
			}
			if !strings.Contains(m.Log(), tc.want) {
				t.Errorf("output does not name %q:\n%s", tc.want, tail(m.Log(), 20))
			}
		})
	}
}

func TestLeaderElectionFailover(t *testing.T) {
	env := startEnv(t, fakecompute.Config{}, seed("node-a", "us-central1-a"), seed("node-b", "us-central1-a"))
	m1 := startManager(t, env, "m1")
	m2 := startManager(t, env, "m2")
	createNode(t, env, "node-a")
	waitInitialised(t, env, "node-a")

	leader := func(ctx context.Context) string {
		l, err := env.Admin.CoordinationV1().Leases("kube-system").Get(ctx, "cloud-controller-manager", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	first := leader(t.Context())
	if first == "" {
		t.Fatal("no leader lease after a node was initialised")
	}
	// Exactly one manager acts: only the leader logs the node controller's start.
	started := 0
	for _, m := range []interface{ Log() string }{m1, m2} {
		if strings.Contains(m.Log(), `Started "cloud-node-controller"`) {
			started++
		}
	}
	if started != 1 {
		t.Errorf("%d managers started the node controller, want 1", started)
	}

	// Kill the leader (as a crash would); the other takes over and acts.
	victim, survivor := m1, m2
	if !strings.Contains(m1.Log(), "Successfully acquired lease") {
		victim, survivor = m2, m1
	}
	victim.Kill()
	eventually(t, 60*time.Second, "a new leader", func(ctx context.Context) (bool, string) {
		now := leader(ctx)
		return now != "" && now != first, "holder " + now
	})
	createNode(t, env, "node-b")
	waitInitialised(t, env, "node-b")
	eventually(t, 60*time.Second, "survivor "+survivor.Name+" logs that it acquired the lease", func(context.Context) (bool, string) {
		return strings.Contains(survivor.Log(), "Successfully acquired lease"), "not in its log"
	})
}

func waitInitialised(t *testing.T, env *harness.Env, name string) {
	t.Helper()
	eventually(t, 60*time.Second, "node "+name+" initialised", func(ctx context.Context) (bool, string) {
		n, err := env.Admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return n.Spec.ProviderID != "" && !hasTaint(n, uninitializedTaint), fmt.Sprintf("providerID %q taints %v", n.Spec.ProviderID, n.Spec.Taints)
	})
}

// deleteVM deletes a VM through the Compute API, as a person would.
func deleteVM(t *testing.T, env *harness.Env, zone, name string) {
	t.Helper()
	deleteAndWait(t, env, fmt.Sprintf("zones/%s/instances/%s", zone, name))
}

// deleteAndWait deletes a resource (a path below the project) through the
// fake's REST API and waits until its delete operation has ended.
func deleteAndWait(t *testing.T, env *harness.Env, path string) {
	t.Helper()
	url := fmt.Sprintf("%s/compute/v1/projects/%s/%s", env.Fake.URL(), harness.Project, path)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delete %s: %s", path, resp.Status)
	}
	eventually(t, 30*time.Second, path+" deleted", func(ctx context.Context) (bool, string) {
		resp, err := http.Get(url)
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusNotFound, resp.Status
	})
}

func hasTaint(n *corev1.Node, key string) bool {
	return slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == key })
}

// TestNodeDualStackNodeIP registers nodes as kubelets with a dual-stack
// --node-ip and --cloud-provider=external do: with the annotation
// alpha.kubernetes.io/provided-node-ip naming both addresses. The cloud-node
// controller initialises a node only when the cloud reports every one of
// them, so the VM's IPv6 address must be among the node addresses.
func TestNodeDualStackNodeIP(t *testing.T) {
	const providedNodeIP = "alpha.kubernetes.io/provided-node-ip"
	internal := seed("node-v6-int", "us-central1-a")
	internal.InternalIP, internal.ExternalIP, internal.InternalIPv6 = "10.128.0.21", "198.18.0.21", "fd20::1:0:21:0:0"
	external := seed("node-v6-ext", "us-central1-b")
	external.InternalIP, external.NoExternalIP, external.ExternalIPv6 = "10.128.0.22", true, "2600:1900:4000:1:0:22::"
	env := startEnv(t, fakecompute.Config{}, internal, external)
	startManager(t, env, "m1")

	for _, tc := range []struct {
		vm     fakecompute.InstanceSeed
		nodeIP string
		want   []corev1.NodeAddress
	}{
		{internal, "10.128.0.21,fd20::1:0:21:0:0", []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "10.128.0.21"},
			{Type: corev1.NodeInternalIP, Address: "fd20::1:0:21:0:0"},
			{Type: corev1.NodeExternalIP, Address: "198.18.0.21"},
			{Type: corev1.NodeHostName, Address: "node-v6-int.us-central1-a.c.fake-project.internal"},
		}},
		{external, "10.128.0.22,2600:1900:4000:1:0:22::", []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "10.128.0.22"},
			{Type: corev1.NodeInternalIP, Address: "2600:1900:4000:1:0:22::"},
			{Type: corev1.NodeHostName, Address: "node-v6-ext.us-central1-b.c.fake-project.internal"},
		}},
	} {
		t.Run(tc.vm.Name, func(t *testing.T) {
			n := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: tc.vm.Name, Annotations: map[string]string{providedNodeIP: tc.nodeIP}},
				Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: uninitializedTaint, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
			}
			if _, err := env.Admin.CoreV1().Nodes().Create(t.Context(), n, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			// The controller removes the taint and writes the addresses in
			// separate updates: wait for both.
			eventually(t, 60*time.Second, "node "+tc.vm.Name+" initialised with its dual-stack addresses", func(ctx context.Context) (bool, string) {
				n, err := env.Admin.CoreV1().Nodes().Get(ctx, tc.vm.Name, metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				diff := cmp.Diff(tc.want, n.Status.Addresses)
				return !hasTaint(n, uninitializedTaint) && diff == "",
					fmt.Sprintf("taints %v, addresses (-want +got):\n%s", n.Spec.Taints, diff)
			})
		})
	}
}
