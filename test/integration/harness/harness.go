// Package harness runs gce-ccm as a user would: a real kube-apiserver and
// etcd (test/integration/framework), the fake Compute API, the RBAC of
// manifests/, and the manager binary as a subprocess authenticated as its
// ServiceAccount. The integration tests and the demo use it.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/framework"
)

// Names from manifests/ that the harness relies on.
const (
	Namespace      = "kube-system"
	ServiceAccount = "gce-cloud-controller-manager"
	Project        = "fake-project"
	Zone           = "us-central1-a"
)

// Options configure an Env.
type Options struct {
	// Fake configures the fake Compute API. Its Project is also gce.conf's
	// project-id; the default is Project (fake-project).
	Fake fakecompute.Config
	// NetworkName is gce.conf's network-name: a name or a network URL.
	// Default "default".
	NetworkName string
	// Instances are seeded into the fake before the manager starts.
	Instances []fakecompute.InstanceSeed
	// ManagerBinary is the manager to run; BuildManager builds one.
	ManagerBinary string
	// KeepDir keeps the control plane's directory after Stop.
	KeepDir bool
	// ExtraAPIServerArgs are appended to kube-apiserver's flags (a later
	// flag wins), e.g. a larger --service-cluster-ip-range.
	ExtraAPIServerArgs []string
	// ManagerEnv are added to the managers' environment (the harness's own
	// otherwise), e.g. GOMEMLIMIT or GODEBUG=gctrace=1.
	ManagerEnv []string
	// GCEConfExtra are further lines of gce.conf's [global] section, such
	// as "api-write-qps = 50".
	GCEConfExtra []string
}

// Env is a running control plane and fake, ready to run managers in.
type Env struct {
	CP      *framework.ControlPlane
	Fake    *fakecompute.Server
	Admin   kubernetes.Interface
	Dir     string
	GCEConf string
	// ManagerKubeconfig authenticates as the manager's ServiceAccount.
	ManagerKubeconfig string

	opts     Options
	mu       sync.Mutex
	managers []*Manager
}

// Start brings up the control plane and the fake, applies the manifests'
// ServiceAccount and RBAC, and writes gce.conf pointing at the fake.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.ManagerBinary == "" {
		return nil, errors.New("harness: Options.ManagerBinary is required (see BuildManager)")
	}
	if opts.Fake.Project == "" {
		opts.Fake.Project = Project
	}
	if opts.NetworkName == "" {
		opts.NetworkName = "default"
	}
	fake, err := fakecompute.New(opts.Fake)
	if err != nil {
		return nil, err
	}
	if err := fake.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	for _, in := range opts.Instances {
		if err := fake.AddInstance(in); err != nil {
			_ = fake.Close()
			return nil, fmt.Errorf("seed instance %s: %w", in.Name, err)
		}
	}
	cp, err := framework.StartControlPlane(ctx, framework.Options{KeepDir: opts.KeepDir, ExtraAPIServerArgs: opts.ExtraAPIServerArgs})
	if err != nil {
		_ = fake.Close()
		return nil, err
	}
	e := &Env{CP: cp, Fake: fake, Dir: cp.Dir, opts: opts}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	if e.Admin, err = kubernetes.NewForConfig(cp.AdminConfig()); err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if err := ApplyManifests(ctx, e.Admin, filepath.Join(root, "manifests", "serviceaccount.yaml"),
		filepath.Join(root, "manifests", "rbac.yaml")); err != nil {
		return nil, err
	}
	if e.ManagerKubeconfig, err = cp.ServiceAccountKubeconfig(ctx, Namespace, ServiceAccount); err != nil {
		return nil, err
	}
	e.GCEConf = filepath.Join(e.Dir, "gce.conf")
	conf := fmt.Sprintf("[global]\nproject-id = %s\nnetwork-name = %s\nlocal-zone = %s\nmultizone = true\napi-endpoint = %s\n",
		opts.Fake.Project, opts.NetworkName, Zone, fake.URL())
	for _, l := range opts.GCEConfExtra {
		conf += l + "\n"
	}
	if err := os.WriteFile(e.GCEConf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return e, nil
}

// Stop stops every manager, the control plane and the fake.
func (e *Env) Stop() {
	e.mu.Lock()
	ms := e.managers
	e.mu.Unlock()
	for _, m := range ms {
		m.Stop()
	}
	if e.CP != nil {
		_ = e.CP.Stop()
	}
	_ = e.Fake.Close()
}

// ManagerArgs are the flags the harness runs the manager with: the
// ServiceAccount's kubeconfig, leader election tuned to fail over in
// seconds, a free secure port, and short periods so tests converge quickly.
func (e *Env) ManagerArgs(port int, certDir string) []string {
	return []string{
		"--kubeconfig=" + e.ManagerKubeconfig,
		"--authentication-kubeconfig=" + e.ManagerKubeconfig,
		"--authorization-kubeconfig=" + e.ManagerKubeconfig,
		"--cloud-provider=gce",
		"--cloud-config=" + e.GCEConf,
		"--leader-elect=true",
		"--leader-elect-lease-duration=4s",
		"--leader-elect-renew-deadline=3s",
		"--leader-elect-retry-period=1s",
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + certDir,
		"--node-monitor-period=1s",
		"--instance-cache-ttl=1s",
		"--configure-cloud-routes=false",
		"--v=2",
	}
}

// Manager is one manager subprocess.
type Manager struct {
	Name    string
	LogPath string
	Port    int
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// StartManager runs the manager binary with ManagerArgs plus extra (later
// flags win).
func (e *Env) StartManager(name string, extra ...string) (*Manager, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	certDir := filepath.Join(e.Dir, name+"-certs")
	args := append(e.ManagerArgs(port, certDir), extra...)
	m, err := startManager(e.opts.ManagerBinary, name, filepath.Join(e.Dir, name+".log"), args, e.opts.ManagerEnv)
	if err != nil {
		return nil, err
	}
	m.Port = port
	e.mu.Lock()
	e.managers = append(e.managers, m)
	e.mu.Unlock()
	return m, nil
}

func startManager(binary, name, logPath string, args, env []string) (*Manager, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start manager %s: %w", name, err)
	}
	m := &Manager{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		_ = logFile.Close()
		close(m.done)
	}()
	return m, nil
}

// PID is the manager process's id, e.g. to read its memory from /proc.
func (m *Manager) PID() int { return m.cmd.Process.Pid }

// Kill ends the manager at once (SIGKILL), as a crash would.
func (m *Manager) Kill() {
	_ = m.cmd.Process.Kill()
	<-m.done
}

// Stop ends the manager gracefully (SIGTERM, then SIGKILL after 10s).
func (m *Manager) Stop() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		m.Kill()
	}
}

// Wait waits for the manager to exit and returns its exit code.
func (m *Manager) Wait(ctx context.Context) (int, error) {
	select {
	case <-m.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	var exit *exec.ExitError
	if errors.As(m.err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, m.err
}

// Log returns the manager's output so far.
func (m *Manager) Log() string {
	b, _ := os.ReadFile(m.LogPath)
	return string(b)
}

// ApplyManifests creates (or updates) the objects of YAML files, of the
// kinds manifests/ holds.
func ApplyManifests(ctx context.Context, client kubernetes.Interface, files ...string) error {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		docs := strings.Split(string(data), "\n---")
		for i, doc := range docs {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
			if err != nil {
				return fmt.Errorf("%s: document %d: %w", f, i, err)
			}
			if err := apply(ctx, client, obj); err != nil {
				return fmt.Errorf("%s: document %d: %w", f, i, err)
			}
		}
	}
	return nil
}

func apply(ctx context.Context, c kubernetes.Interface, obj runtime.Object) error {
	var err error
	switch o := obj.(type) {
	case *corev1.ServiceAccount:
		_, err = c.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRole:
		_, err = c.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRoleBinding:
		_, err = c.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.Role:
		_, err = c.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.RoleBinding:
		_, err = c.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *appsv1.Deployment:
		_, err = c.AppsV1().Deployments(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.ConfigMap:
		_, err = c.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	default:
		return fmt.Errorf("harness cannot apply a %T", obj)
	}
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
