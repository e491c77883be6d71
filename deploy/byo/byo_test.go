// Package byo holds the tests of the bring-your-own-cluster kit: kubeadm's
// own validation of its configuration, gce-ccm's parser on its gce.conf,
// and the agreement of the names and ranges across its files.
package byo

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// kubeadmBinEnv names the directory that holds kubeadm, as
// test/tools/kubeadm.sh prints it.
const kubeadmBinEnv = "GCE_CCM_KUBEADM_BIN"

// TestKubeadmConfigValidates runs `kubeadm config validate` on both
// kubeadm files, and on a broken copy that it must refuse.
func TestKubeadmConfigValidates(t *testing.T) {
	dir := os.Getenv(kubeadmBinEnv)
	if dir == "" {
		t.Skipf("%s is not set: run with %s=\"$(test/tools/kubeadm.sh)\" to validate the kubeadm configuration with kubeadm itself", kubeadmBinEnv, kubeadmBinEnv)
	}
	kubeadm := filepath.Join(dir, "kubeadm")
	validate := func(path string) (string, error) {
		out, err := exec.CommandContext(t.Context(), kubeadm, "config", "validate", "--config", path).CombinedOutput()
		return string(out), err
	}
	for _, f := range []string{"kubeadm/init.yaml", "kubeadm/join.yaml"} {
		if out, err := validate(f); err != nil {
			t.Errorf("kubeadm config validate --config %s: %v\n%s", f, err, out)
		}
	}
	// The validation must be able to fail: a pod subnet that is no CIDR.
	data, err := os.ReadFile("kubeadm/init.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(data), "podSubnet: 10.244.0.0/16", "podSubnet: 10.244.0.0/33", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := validate(broken); err == nil || !strings.Contains(out, "podSubnet") {
		t.Errorf("kubeadm accepted a pod subnet of /33: %v\n%s", err, out)
	}
}

// TestGCEConfParses reads the overlay's gce.conf with the manager's parser.
func TestGCEConfParses(t *testing.T) {
	f, err := os.Open("overlay/gce.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := gce.ParseConfig(f)
	if err != nil {
		t.Fatalf("overlay/gce.conf: %v", err)
	}
	if cfg.ProjectID == "" || cfg.NetworkName == "" || len(cfg.NodeTags) != 1 || cfg.NodeInstancePrefix == "" || !cfg.Multizone {
		t.Errorf("overlay/gce.conf: project %q, network %q, node tags %v, instance prefix %q, multizone %v", cfg.ProjectID, cfg.NetworkName,
			cfg.NodeTags, cfg.NodeInstancePrefix, cfg.Multizone)
	}
}

// TestIAMRoleIsREADMEs: the role holds exactly the permissions the main
// README lists.
func TestIAMRoleIsREADMEs(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "needs these Compute permissions")
	if start < 0 {
		t.Fatal("README.md no longer lists the Compute permissions after \"needs these Compute permissions\"")
	}
	end := strings.Index(text[start:], "\n\n")
	if end < 0 {
		end = len(text) - start
	}
	want := map[string]bool{}
	for _, m := range regexp.MustCompile("`(compute\\.[A-Za-z.{},]+)`").FindAllStringSubmatch(text[start:start+end], -1) {
		for _, p := range expandBraces(m[1]) {
			want[p] = true
		}
	}
	var role struct {
		IncludedPermissions []string `json:"includedPermissions"`
	}
	data, err := os.ReadFile("gcp/iam-role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range role.IncludedPermissions {
		if got[p] {
			t.Errorf("gcp/iam-role.yaml lists %s twice", p)
		}
		got[p] = true
	}
	if len(want) < 10 {
		t.Fatalf("found only %d permissions in README.md: %v", len(want), want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gcp/iam-role.yaml against README.md's list (-README +role):\n%s", diff)
	}
}

// expandBraces turns "compute.a.{get,list}" into its permissions.
func expandBraces(s string) []string {
	open, closing := strings.IndexByte(s, '{'), strings.IndexByte(s, '}')
	if open < 0 || closing < open {
		return []string{s}
	}
	var out []string
	for _, alt := range strings.Split(s[open+1:closing], ",") {
		out = append(out, expandBraces(s[:open]+alt+s[closing+1:])...)
	}
	return out
}

// TestNamesAgree: the cluster name, the pod range, the node tag and the VM
// name prefix are the same in kubeadm's configuration, the overlay's flags,
// gce.conf and the VM script; kubelets run with the external cloud provider.
func TestNamesAgree(t *testing.T) {
	docs := yamlDocs(t, "kubeadm/init.yaml")
	var init, cluster map[string]any
	for _, d := range docs {
		switch d["kind"] {
		case "InitConfiguration":
			init = d
		case "ClusterConfiguration":
			cluster = d
		}
	}
	join := yamlDocs(t, "kubeadm/join.yaml")[0]
	if init == nil || cluster == nil || join["kind"] != "JoinConfiguration" {
		t.Fatalf("kubeadm files: init %v, cluster %v, join kind %v", init != nil, cluster != nil, join["kind"])
	}
	for name, doc := range map[string]map[string]any{"init": init, "join": join} {
		if got := extraArg(t, dig(doc, "nodeRegistration", "kubeletExtraArgs"), "cloud-provider"); got != "external" {
			t.Errorf("%s: kubelet cloud-provider %q, want external", name, got)
		}
	}
	podSubnet, _ := dig(cluster, "networking", "podSubnet").(string)
	clusterName, _ := cluster["clusterName"].(string)
	kcm := dig(cluster, "controllerManager", "extraArgs")
	args := overlayArgs(t)
	for what, got := range map[string]string{
		"kube-controller-manager cluster-cidr":        extraArg(t, kcm, "cluster-cidr"),
		"kube-controller-manager allocate-node-cidrs": map[bool]string{true: podSubnet}[extraArg(t, kcm, "allocate-node-cidrs") == "true"],
		"gce-ccm --cluster-cidr":                      args["--cluster-cidr"],
	} {
		if got != podSubnet || podSubnet == "" {
			t.Errorf("%s: %q, want podSubnet %q (and allocation on)", what, got, podSubnet)
		}
	}
	for what, got := range map[string]string{
		"kube-controller-manager cluster-name": extraArg(t, kcm, "cluster-name"),
		"gce-ccm --cluster-name":               args["--cluster-name"],
	} {
		if got != clusterName || clusterName == "" {
			t.Errorf("%s: %q, want clusterName %q", what, got, clusterName)
		}
	}
	if args["--allocate-node-cidrs"] != "false" || args["--configure-cloud-routes"] != "true" {
		t.Errorf("gce-ccm flags %v: want --allocate-node-cidrs=false (kube-controller-manager allocates) and --configure-cloud-routes=true", args)
	}

	f, err := os.Open("overlay/gce.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := gce.ParseConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("gcp/create-vms.sh")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+)=("?)([^"\s]+)("?)`).FindAllStringSubmatch(string(script), -1) {
		vars[m[1]] = strings.NewReplacer("${CLUSTER}", vars["CLUSTER"]).Replace(m[3])
	}
	if vars["CLUSTER"] != clusterName || vars["POD_CIDR"] != podSubnet || len(cfg.NodeTags) != 1 || vars["NODE_TAG"] != cfg.NodeTags[0] {
		t.Errorf("gcp/create-vms.sh: CLUSTER %q POD_CIDR %q NODE_TAG %q; want %q, %q and gce.conf's node-tags %v",
			vars["CLUSTER"], vars["POD_CIDR"], vars["NODE_TAG"], clusterName, podSubnet, cfg.NodeTags)
	}
	if cfg.NodeInstancePrefix != clusterName+"-" {
		t.Errorf("gce.conf node-instance-prefix %q: the script names the VMs %s-...", cfg.NodeInstancePrefix, clusterName)
	}
	for _, flag := range []string{"--can-ip-forward", `--tags="${NODE_TAG}"`, `instances create "${CLUSTER}-`} {
		if n := strings.Count(string(script), flag); n < 2 {
			t.Errorf("gcp/create-vms.sh: %q appears %d times, want it for the control plane and the workers", flag, n)
		}
	}
	node, err := os.ReadFile("node/pod-network.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(node), "POD_CIDR_ALL="+podSubnet) {
		t.Errorf("node/pod-network.sh does not masquerade around the pod range %s", podSubnet)
	}
}

func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, doc := range strings.Split(string(data), "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// extraArg reads a v1beta4 extraArgs list ([{name, value}]).
func extraArg(t *testing.T, list any, name string) string {
	t.Helper()
	items, _ := list.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["name"] == name {
			v, _ := m["value"].(string)
			return v
		}
	}
	return ""
}

// overlayArgs are the manager's flags that the overlay sets.
func overlayArgs(t *testing.T) map[string]string {
	t.Helper()
	var k struct {
		Patches []struct {
			Patch string `json:"patch"`
		} `json:"patches"`
	}
	data, err := os.ReadFile("overlay/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range k.Patches {
		var ops []struct {
			Path  string `json:"path"`
			Value any    `json:"value"`
		}
		if err := yaml.Unmarshal([]byte(p.Patch), &ops); err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			if op.Path != "/spec/template/spec/containers/0/args" {
				continue
			}
			list, _ := op.Value.([]any)
			for _, a := range list {
				s, _ := a.(string)
				k, v, _ := strings.Cut(s, "=")
				out[k] = v
			}
		}
	}
	if !slices.Contains([]string{"gce"}, out["--cloud-provider"]) {
		t.Fatalf("the overlay sets no manager args with --cloud-provider=gce: %v", out)
	}
	return out
}
