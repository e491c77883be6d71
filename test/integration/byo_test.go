package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/framework"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

// TestBYOOverlay applies deploy/byo/overlay with the real kubectl, as its
// README says, checks what the apiserver holds (the cluster's gce.conf,
// parsed by gce-ccm's parser; the manager's flags, image and replicas), and
// runs the manager with the Deployment's own flags against the fake: a
// node of the kit's cluster is initialised and gets its pod route, named
// after the kit's cluster name.
func TestBYOOverlay(t *testing.T) {
	const (
		name = "my-cluster"
		vm   = name + "-worker-1"
		cidr = "10.244.1.0/24"
	)
	s := seed(vm, zones[0])
	s.Tags = []string{name + "-node"}
	env := startEnv(t, fakecompute.Config{}, s)
	bin, err := framework.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(root, "deploy", "byo", "overlay")
	out, err := exec.CommandContext(t.Context(), filepath.Join(bin, "kubectl"), "--kubeconfig", env.CP.AdminKubeconfig,
		"apply", "-k", overlay, "--validate=strict").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply -k deploy/byo/overlay: %v\n%s", err, out)
	}

	cm, err := env.Admin.CoreV1().ConfigMaps("kube-system").Get(t.Context(), "gce-ccm-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(overlay, "gce.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["gce.conf"] != string(file) {
		t.Errorf("ConfigMap gce.conf is not the overlay's:\n%s", cm.Data["gce.conf"])
	}
	cfg, err := gce.ParseConfig(strings.NewReader(cm.Data["gce.conf"]))
	if err != nil {
		t.Fatalf("the applied gce.conf does not parse: %v", err)
	}
	if len(cfg.NodeTags) != 1 || cfg.NodeTags[0] != name+"-node" {
		t.Errorf("gce.conf node-tags %v, want [%s-node]", cfg.NodeTags, name)
	}

	d, err := env.Admin.AppsV1().Deployments("kube-system").Get(t.Context(), "gce-cloud-controller-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if *d.Spec.Replicas != 1 || !strings.HasPrefix(c.Image, "registry.example.com/gce-cloud-controller-manager:") {
		t.Errorf("deployment: replicas %d, image %q", *d.Spec.Replicas, c.Image)
	}
	for _, want := range []string{"--cluster-name=" + name, "--cluster-cidr=10.244.0.0/16", "--configure-cloud-routes=true", "--allocate-node-cidrs=false"} {
		if !strings.Contains(strings.Join(c.Args, " "), want) {
			t.Errorf("manager args %v lack %s", c.Args, want)
		}
	}

	// The Deployment's flags, but for where gce.conf is and the port, which
	// are the harness's.
	var args []string
	for _, a := range c.Args {
		if !strings.HasPrefix(a, "--cloud-config=") && !strings.HasPrefix(a, "--secure-port=") {
			args = append(args, a)
		}
	}
	createClusterID(t, env, lbClusterID)
	startManager(t, env, "byo", args...)
	node := createNodeWithCIDRs(t, env, vm, cidr)
	waitInitialised(t, env, vm)
	wantRoutes(t, env, fmt.Sprintf("%s-%s %s -> %s", name, node.UID, cidr, vm))
}
