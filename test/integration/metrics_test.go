package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

// usedMetricsFile lists every metric name manifests/monitoring's alerts and
// dashboard read; test/monitoring derives it from their parsed PromQL and
// fails when it is out of date.
const usedMetricsFile = "test/monitoring/testdata/used-metrics.txt"

// TestMetricsExported scrapes a running manager that has made a pod route
// and a load balancer, as Prometheus would (HTTPS, a bearer token the
// manager reviews with the apiserver), and checks that it exports every
// metric the alerts and the dashboard read: an alert on a metric nobody
// exports never fires.
func TestMetricsExported(t *testing.T) {
	want := readUsedMetrics(t)
	env := startEnv(t, fakecompute.Config{}, lbSeed("node-0", zones[0]))
	createClusterID(t, env, lbClusterID)
	m := startManager(t, env, "m1", append(slices.Clone(routeArgs), lbArgs...)...)
	createNodeWithCIDRs(t, env, "node-0", "10.244.1.0/24")
	waitInitialised(t, env, "node-0")
	createService(t, env, lbService("metrics"))
	waitIngress(t, env, "metrics")

	token := env.CP.AdminConfig().BearerToken
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// The manager's serving certificate is self-signed (--cert-dir).
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	url := fmt.Sprintf("https://127.0.0.1:%d/metrics", m.Port)
	eventually(t, 2*time.Minute, "every metric manifests/monitoring reads on "+url, func(ctx context.Context) (bool, string) {
		body, err := scrape(ctx, client, url, token)
		if err != nil {
			return false, err.Error()
		}
		got := exposedNames(body)
		var missing []string
		for _, n := range want {
			if !got[n] {
				missing = append(missing, n)
			}
		}
		// Series the alerts select by label: the leader's lease (GCECCMNoLeader)
		// and the load balancer just made (GCECCMLoadBalancersFailing's gauge).
		for _, series := range []string{
			`leader_election_master_status{name="cloud-controller-manager"} 1`,
			`gce_loadbalancers{state="synced"} 1`,
		} {
			if !bytes.Contains(body, []byte("\n"+series+"\n")) {
				missing = append(missing, series)
			}
		}
		return len(missing) == 0, fmt.Sprintf("not exported: %q", missing)
	})

	// Without credentials the scrape is refused: the ServiceMonitor's
	// token is what lets Prometheus in.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET /metrics: %s, want 401 or 403", resp.Status)
	}
}

func readUsedMetrics(t *testing.T) []string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, usedMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			names = append(names, l)
		}
	}
	if len(names) < 10 {
		t.Fatalf("%s lists %d metrics; the rules and dashboard read more", usedMetricsFile, len(names))
	}
	return names
}

func scrape(ctx context.Context, client *http.Client, url, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}

// exposedNames returns the sample names of a Prometheus text exposition
// (a histogram's samples are NAME_bucket, NAME_sum and NAME_count).
func exposedNames(body []byte) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

func TestExposedNames(t *testing.T) {
	body := []byte(`# HELP a_total A.
# TYPE a_total counter
a_total{method="x",result="ok"} 1
b 2
h_bucket{le="+Inf"} 3
h_sum 1.5

`)
	got := exposedNames(body)
	for _, n := range []string{"a_total", "b", "h_bucket", "h_sum"} {
		if !got[n] {
			t.Errorf("%s not found in %v", n, got)
		}
	}
	if got["h"] || got["HELP"] || len(got) != 4 {
		t.Errorf("exposedNames = %v", got)
	}
}
