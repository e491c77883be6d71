package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/framework"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

// TestManifestsApply applies the kustomize base exactly as the README says,
// with the real kubectl, and checks that the apiserver accepted every object.
func TestManifestsApply(t *testing.T) {
	env := startEnv(t, fakecompute.Config{})
	bin, err := framework.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(bin, "kubectl")
	out, err := exec.CommandContext(t.Context(), kubectl, "--kubeconfig", env.CP.AdminKubeconfig,
		"apply", "-k", filepath.Join(root, "manifests"), "--validate=strict").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply -k manifests/: %v\n%s", err, out)
	}
	for _, want := range []string{
		"serviceaccount/gce-cloud-controller-manager",
		"clusterrole.rbac.authorization.k8s.io/system:gce-cloud-controller-manager",
		"configmap/gce-ccm-config",
		"deployment.apps/gce-cloud-controller-manager",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl output lacks %q:\n%s", want, out)
		}
	}
	d, err := env.Admin.AppsV1().Deployments("kube-system").Get(t.Context(), "gce-cloud-controller-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 || d.Spec.Template.Spec.PriorityClassName != "system-cluster-critical" {
		t.Errorf("deployment: replicas %d, priority class %q", *d.Spec.Replicas, d.Spec.Template.Spec.PriorityClassName)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("container root filesystem is not read-only")
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("no /healthz liveness probe")
	}
	cm, err := env.Admin.CoreV1().ConfigMaps("kube-system").Get(t.Context(), "gce-ccm-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Data["gce.conf"], "[global]") {
		t.Errorf("gce.conf ConfigMap content: %q", cm.Data["gce.conf"])
	}
}
