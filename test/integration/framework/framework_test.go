package framework

import (
	"errors"
	"net"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestControlPlane(t *testing.T) {
	cp := StartControlPlaneForTest(t, Options{})
	ctx := t.Context()

	admin, err := kubernetes.NewForConfig(cp.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	const namespace, name = "rbac-test", "no-permissions"
	if _, err := admin.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	if _, err := admin.CoreV1().ServiceAccounts(namespace).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service account: %v", err)
	}
	if _, err := admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("admin lists nodes: %v", err)
	}

	// The admin kubeconfig file works as well as the in-memory config.
	fromFile, err := clientcmd.BuildConfigFromFlags("", cp.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kubernetes.NewForConfigOrDie(fromFile).CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("admin kubeconfig lists nodes: %v", err)
	}

	path, err := cp.ServiceAccountKubeconfig(ctx, namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	saConfig, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	sa := kubernetes.NewForConfigOrDie(saConfig)
	_, err = sa.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("service account without RBAC lists nodes: got error %v, want Forbidden", err)
	}
	if want := "system:serviceaccount:" + namespace + ":" + name; !strings.Contains(err.Error(), want) {
		t.Errorf("Forbidden error %q does not name %s", err, want)
	}

	pids := []int{cp.apiserver.cmd.Process.Pid, cp.etcd.cmd.Process.Pid}
	addrs := []string{strings.TrimPrefix(cp.URL, "https://"), strings.TrimPrefix(cp.EtcdURL, "http://")}
	if err := cp.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, pid := range pids {
		// Stop reaps the processes, so their pids no longer exist.
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d after Stop: kill -0 returned %v, want ESRCH", pid, err)
		}
	}
	for _, addr := range addrs {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Stop", addr)
		}
	}
	if _, err := os.Stat(cp.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("working directory after Stop: stat returned %v, want not exist", err)
	}
}

func TestStartFailureQuotesLog(t *testing.T) {
	binDir, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartControlPlane(t.Context(), Options{
		BinDir:             binDir,
		ExtraAPIServerArgs: []string{"--no-such-flag"},
	})
	if err == nil {
		t.Fatal("StartControlPlane with an unknown kube-apiserver flag succeeded")
	}
	msg := err.Error()
	if m := regexp.MustCompile(`working directory (\S+) kept`).FindStringSubmatch(msg); m != nil {
		t.Cleanup(func() { os.RemoveAll(m[1]) })
	} else {
		t.Errorf("error does not name the kept working directory:\n%s", msg)
	}
	for _, want := range []string{"kube-apiserver exited", "kube-apiserver.log", "unknown flag: --no-such-flag"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
}

func TestBinDirUnset(t *testing.T) {
	t.Setenv(BinDirEnv, "")
	_, err := BinDir()
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("BinDir() with %s unset: got error %v, want one that says to run make tools", BinDirEnv, err)
	}
}

func TestBinDirMissingBinaries(t *testing.T) {
	t.Setenv(BinDirEnv, t.TempDir())
	_, err := BinDir()
	if err == nil || !strings.Contains(err.Error(), "kube-apiserver or etcd") || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("BinDir() with an empty directory: got error %v, want one naming both binaries and make tools", err)
	}
}
