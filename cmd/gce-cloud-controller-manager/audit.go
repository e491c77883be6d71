package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"cloud.google.com/go/compute/metadata"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gce-ccm/gce-ccm/pkg/audit"
	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/provider"
)

// auditCommand is the subcommand that finds what the cluster leaked in GCE.
const auditCommand = "audit"

const auditUsage = `Usage: gce-cloud-controller-manager audit --cluster-name=NAME [--cloud-config=gce.conf] [--kubeconfig=FILE] [flags]

Lists the GCE resources that carry this cluster's ownership markers (pod routes,
and the addresses, forwarding rules, target pools, HTTP health checks and
firewalls of load balancers) that no Node or Service accounts for, with the
reason, and the resources a LoadBalancer Service should have but lacks.
Resources that look like the cluster's but are not provably its own (another
cluster's, a user's reserved address, a shared health check still in use) are
listed as skipped and never deleted.

Exit status: 0 nothing leaked or missing (or --delete removed every leak),
1 an error (reading, or a deletion failed), 2 bad flags or configuration,
3 leaks remain or resources are missing.

Flags:
`

// runAudit runs the audit subcommand and returns the exit code.
func runAudit(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(auditCommand, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cloudConfig, kubeconfig, clusterName, output string
		routes, del, yes                             bool
		timeout                                      time.Duration
	)
	fs.StringVar(&cloudConfig, "cloud-config", "", "gce.conf, as the manager reads it; without it everything comes from the metadata server.")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "Kubeconfig of the cluster; default: in-cluster configuration, else $KUBECONFIG or ~/.kube/config.")
	fs.StringVar(&clusterName, "cluster-name", "", "The manager's --cluster-name, which begins the cluster's route names (required).")
	fs.BoolVar(&routes, "configure-cloud-routes", true, "Report nodes' pod CIDRs that have no route, as the manager's flag of that name makes them.")
	fs.StringVarP(&output, "output", "o", audit.OutputTable, "Output format: table or json.")
	fs.BoolVar(&del, "delete", false, "Delete the leaked resources, after a confirmation on stdin.")
	fs.BoolVar(&yes, "yes", false, "With --delete, delete without asking.")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "Give up after this long.")
	fs.Usage = func() {
		fmt.Fprint(stderr, auditUsage)
		fs.PrintDefaults()
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gce-cloud-controller-manager audit: "+format+"\n", a...)
		return audit.ExitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return audit.ExitClean
		}
		return usage("%v (see --help)", err)
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected arguments %q", fs.Args())
	case clusterName == "":
		return usage("--cluster-name is required: the manager's --cluster-name, which begins every route name of the cluster")
	case output != audit.OutputTable && output != audit.OutputJSON:
		return usage("--output must be table or json, got %q", output)
	case yes && !del:
		return usage("--yes only makes sense with --delete")
	case timeout <= 0:
		return usage("--timeout must be positive, got %s", timeout)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cfg, err := auditConfig(ctx, cloudConfig)
	if err != nil {
		return usage("%v", err)
	}
	cloud, err := auditCloud(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gce-cloud-controller-manager audit: %v\n", err)
		return audit.ExitError
	}
	defer cloud.Close()
	restConfig, err := auditKubeconfig(kubeconfig)
	if err != nil {
		return usage("%v", err)
	}
	restConfig.UserAgent = "gce-cloud-controller-manager-audit"
	kube, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return usage("kubeconfig: %v", err)
	}
	id, found, err := provider.ReadClusterID(ctx, kube)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "gce-cloud-controller-manager audit: cluster id: %v\n", err)
		return audit.ExitError
	case !found:
		fmt.Fprintln(stderr, "gce-cloud-controller-manager audit: warning: ConfigMap kube-system/ingress-uid does not exist, so the cluster id, "+
			"which names the shared node health check, is unknown: no shared health check is reported as this cluster's")
	}
	c := cloud.Config()
	return audit.Run(ctx, cloud, kube, audit.Options{
		Scope: audit.Scope{ClusterName: clusterName, ClusterID: id, Project: c.ProjectID, Region: c.Region,
			NetworkURL: c.NetworkURL(), NodeTags: c.NodeTags, CheckRoutes: routes},
		Output: output, Delete: del, Yes: yes, In: stdin, Out: stdout, Err: stderr,
	})
}

// auditConfig reads gce.conf and completes it as the manager does.
func auditConfig(ctx context.Context, path string) (*gce.Config, error) {
	var r io.Reader
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open --cloud-config: %w", err)
		}
		defer f.Close()
		r = f
	}
	cfg, err := gce.ParseConfig(r)
	if err != nil {
		return nil, err
	}
	if err := cfg.Complete(ctx, metadata.NewClient(&http.Client{Timeout: 10 * time.Second})); err != nil {
		return nil, err
	}
	return cfg, nil
}

// auditCloud builds the Compute API door as the manager does.
func auditCloud(ctx context.Context, cfg *gce.Config) (*gce.Cloud, error) {
	hc, err := gce.NewHTTPClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return gce.New(ctx, *cfg, hc, nil)
}

// auditKubeconfig is --kubeconfig, else the in-cluster configuration, else
// the usual kubeconfig files.
func auditKubeconfig(path string) (*rest.Config, error) {
	if path == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}
