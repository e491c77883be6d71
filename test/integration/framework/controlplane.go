// Package framework runs a real kube-apiserver backed by etcd on 127.0.0.1 for
// integration tests and demos. No controller-manager or scheduler runs: the
// objects a test needs it creates itself.
//
// The binaries come from GCE_CCM_TEST_BIN (see BinDir), which
// test/tools/build.sh fills.
package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

const (
	// startAttempts bounds the retries when a picked port got taken before
	// the process bound it.
	startAttempts = 3
	// defaultStartTimeout is how long each process may take to become ready.
	// kube-apiserver needs about 3 s on an idle machine, more next to a build.
	defaultStartTimeout = time.Minute
	// stopGrace is how long a process has after SIGTERM before it is killed.
	stopGrace = 5 * time.Second

	serviceClusterIPRange = "10.0.0.0/24"
	serviceAccountIssuer  = "https://kubernetes.default.svc.cluster.local"
	adminUser             = "admin"
)

// Options configures StartControlPlane. The zero value is ready to use.
type Options struct {
	// BinDir holds the kube-apiserver and etcd binaries. Empty means BinDir().
	BinDir string
	// KeepDir keeps the working directory, logs and etcd data included, after
	// Stop, for debugging.
	KeepDir bool
	// StartTimeout bounds the wait for each of etcd and kube-apiserver to
	// become ready. Zero means one minute.
	StartTimeout time.Duration
	// ExtraAPIServerArgs are appended to the kube-apiserver command line, where
	// a later flag overrides an earlier one, e.g. "--feature-gates=...".
	ExtraAPIServerArgs []string
}

// ControlPlane is a running etcd and kube-apiserver. Stop ends both.
type ControlPlane struct {
	// URL is the kube-apiserver address, https://127.0.0.1:PORT.
	URL string
	// AdminKubeconfig is a kubeconfig file for an admin in system:masters.
	AdminKubeconfig string
	// Dir is the working directory: logs (etcd.log, kube-apiserver.log),
	// etcd data, keys and kubeconfig files.
	Dir string
	// EtcdURL is the etcd client address, http://127.0.0.1:PORT.
	EtcdURL string

	adminConfig *rest.Config
	keepDir     bool
	etcd        *process
	apiserver   *process

	stopOnce sync.Once
	stopErr  error
}

// StartControlPlane starts etcd and kube-apiserver on free ports of 127.0.0.1
// and returns once /readyz answers. ctx bounds the start only; the processes
// run until Stop. When the start fails, the error names the log to read and
// quotes its end, and the working directory is left in place.
func StartControlPlane(ctx context.Context, opts Options) (*ControlPlane, error) {
	if opts.BinDir == "" {
		dir, err := BinDir()
		if err != nil {
			return nil, err
		}
		opts.BinDir = dir
	} else if err := checkBinDir(opts.BinDir); err != nil {
		return nil, fmt.Errorf("binary directory %s: %w; %s", opts.BinDir, err, buildHint)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = defaultStartTimeout
	}

	var errs []error
	for range startAttempts {
		cp, err := startOnce(ctx, opts)
		if err == nil {
			return cp, nil
		}
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("start control plane: a port was taken in each of %d attempts: %w",
		startAttempts, errors.Join(errs...))
}

func startOnce(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	dir, err := os.MkdirTemp("", "gce-ccm-controlplane-")
	if err != nil {
		return nil, fmt.Errorf("create working directory: %w", err)
	}
	cp := &ControlPlane{Dir: dir, keepDir: opts.KeepDir}
	defer func() {
		if err == nil {
			return
		}
		cp.stopProcesses()
		if errors.Is(err, errPortTaken) {
			// Retried in a fresh directory; this one holds nothing of interest.
			_ = os.RemoveAll(dir)
		} else {
			err = fmt.Errorf("%w\n(working directory %s kept for inspection)", err, dir)
		}
	}()

	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdPort, peerPort, apiserverPort := ports[0], ports[1], ports[2]

	if err := cp.startEtcd(ctx, opts, etcdPort, peerPort); err != nil {
		return nil, err
	}
	if err := cp.startAPIServer(ctx, opts, apiserverPort); err != nil {
		return nil, err
	}
	return cp, nil
}

func (cp *ControlPlane) startEtcd(ctx context.Context, opts Options, clientPort, peerPort int) error {
	cp.EtcdURL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))
	peerURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))
	// A unique member name tells our etcd apart from another one that took
	// the port: that one would answer /health too.
	name := "gce-ccm-" + randomToken()[:12]
	args := []string{
		"--name=" + name,
		"--data-dir=" + filepath.Join(cp.Dir, "etcd-data"),
		"--listen-client-urls=" + cp.EtcdURL,
		"--advertise-client-urls=" + cp.EtcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=" + name + "=" + peerURL,
		// Tests throw the data away; fsync only costs time.
		"--unsafe-no-fsync",
	}
	p, err := startProcess(etcdBinary, filepath.Join(opts.BinDir, etcdBinary), args, cp.Dir,
		filepath.Join(cp.Dir, "etcd.log"))
	if err != nil {
		return err
	}
	cp.etcd = p

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	return p.waitReady(ctx, opts.StartTimeout, func(ctx context.Context) error {
		// {"health":"true",...} once there is a leader.
		health, err := fetch(ctx, client, http.MethodGet, cp.EtcdURL+"/health", "", "")
		if err != nil {
			return err
		}
		if !strings.Contains(health, `"health":"true"`) {
			return fmt.Errorf("unhealthy: %s", health)
		}
		members, err := fetch(ctx, client, http.MethodPost, cp.EtcdURL+"/v3/cluster/member/list", "", "{}")
		if err != nil {
			return err
		}
		if !strings.Contains(members, `"name":"`+name+`"`) {
			return fmt.Errorf("%s is served by another etcd: %w", cp.EtcdURL, errPortTaken)
		}
		return nil
	})
}

func (cp *ControlPlane) startAPIServer(ctx context.Context, opts Options, port int) error {
	certs, err := writePKI(filepath.Join(cp.Dir, "pki"))
	if err != nil {
		return fmt.Errorf("write kube-apiserver keys: %w", err)
	}
	token := randomToken()
	tokenFile := filepath.Join(cp.Dir, "tokens.csv")
	// token,user,uid,"group1,group2"
	line := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", token, adminUser, adminUser)
	if err := os.WriteFile(tokenFile, []byte(line), 0o600); err != nil {
		return err
	}

	cp.URL = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{
		"--etcd-servers=" + cp.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		// The default reconciler refuses a loopback advertise address.
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + filepath.Join(cp.Dir, "apiserver-certs"),
		"--tls-cert-file=" + certs.servingCertFile,
		"--tls-private-key-file=" + certs.servingKeyFile,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + certs.saPubFile,
		"--service-account-signing-key-file=" + certs.saKeyFile,
		"--allow-privileged=true",
	}
	args = append(args, opts.ExtraAPIServerArgs...)
	p, err := startProcess(apiserverBinary, filepath.Join(opts.BinDir, apiserverBinary), args, cp.Dir,
		filepath.Join(cp.Dir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	cp.apiserver = p

	cp.adminConfig = &rest.Config{
		Host:            cp.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: certs.caPEM},
		// Tests set up many objects in a row; client-go's default of 5 qps
		// would make that the slow part.
		QPS:   100,
		Burst: 200,
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certs.caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	if err := p.waitReady(ctx, opts.StartTimeout, func(ctx context.Context) error {
		// Another kube-apiserver on this port would answer 401 to our token.
		_, err := fetch(ctx, client, http.MethodGet, cp.URL+"/readyz", token, "")
		return err
	}); err != nil {
		return err
	}

	cp.AdminKubeconfig = filepath.Join(cp.Dir, "admin.kubeconfig")
	if err := writeKubeconfig(cp.AdminKubeconfig, cp.URL, certs.caPEM, adminUser, token); err != nil {
		return fmt.Errorf("write admin kubeconfig: %w", err)
	}
	return nil
}

// AdminConfig returns a new client configuration for an admin in
// system:masters; callers may change it.
func (cp *ControlPlane) AdminConfig() *rest.Config {
	return rest.CopyConfig(cp.adminConfig)
}

// Stop terminates kube-apiserver and etcd (SIGTERM, then SIGKILL after a few
// seconds), waits for both and removes the working directory unless
// Options.KeepDir is set. It reports a process that had exited before Stop.
// Calls after the first return the first result.
func (cp *ControlPlane) Stop() error {
	cp.stopOnce.Do(func() {
		var errs []error
		for _, p := range []*process{cp.apiserver, cp.etcd} {
			if p != nil && p.exited() {
				errs = append(errs, p.exitError())
			}
		}
		cp.stopProcesses()
		if !cp.keepDir {
			if err := os.RemoveAll(cp.Dir); err != nil {
				errs = append(errs, fmt.Errorf("remove working directory: %w", err))
			}
		}
		cp.stopErr = errors.Join(errs...)
	})
	return cp.stopErr
}

// stopProcesses stops kube-apiserver before etcd, so it does not spend its
// shutdown failing to reach etcd.
func (cp *ControlPlane) stopProcesses() {
	for _, p := range []*process{cp.apiserver, cp.etcd} {
		if p != nil {
			p.stop(stopGrace)
		}
	}
}

// freePorts returns n distinct ports of 127.0.0.1 that were free a moment ago.
// Another process may take one before it is used; StartControlPlane retries.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		// Held open until all are picked so the kernel hands out distinct ones.
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// fetch returns the body of a 200 response to a request.
func fetch(ctx context.Context, client *http.Client, method, url, bearerToken, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	if bearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+bearerToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, tail(respBody, 5, 512))
	}
	return string(respBody), nil
}
