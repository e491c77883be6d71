// Package monitoring tests manifests/monitoring with Prometheus's own rule
// and PromQL parsers and prometheus-operator's API types. It is a module of
// its own so that the manager's dependency graph never gains Prometheus.
//
// It also keeps testdata/used-metrics.txt, the metric names the alerts and
// the dashboard read; test/integration's TestMetricsExported checks that a
// running manager exports each of them.
package monitoring

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/used-metrics.txt from the rules and the dashboard")

const (
	dir           = "../../manifests/monitoring"
	rulesFile     = dir + "/prometheusrule.yaml"
	dashboardFile = dir + "/gce-cloud-controller-manager.json"
	usedMetrics   = "testdata/used-metrics.txt"
	readme        = "../../README.md"
	// job is the scrape job the ServiceMonitor makes; every selector
	// must be limited to it, or an alert would also count other
	// components' metrics of the same name (workqueue_depth...).
	job = "gce-cloud-controller-manager"
)

var promql = parser.NewParser(parser.Options{})

// selectors parses expr and returns its vector selectors.
func selectors(t *testing.T, where, expr string) []*parser.VectorSelector {
	t.Helper()
	e, err := promql.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: PromQL does not parse: %v\n%s", where, err, expr)
		return nil
	}
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	if len(out) == 0 {
		t.Errorf("%s: selects no metric: %s", where, expr)
	}
	return out
}

// metricNames returns the metric names expr reads, and fails for a
// selector without a plain name or not limited to the job (jobValue).
func metricNames(t *testing.T, where, expr, jobValue string) []string {
	t.Helper()
	var names []string
	for _, vs := range selectors(t, where, expr) {
		if vs.Name == "" {
			t.Errorf("%s: selector %s has no plain metric name", where, vs)
			continue
		}
		names = append(names, vs.Name)
		limited := false
		for _, m := range vs.LabelMatchers {
			if m.Name == "job" && m.Type == labels.MatchEqual && m.Value == jobValue {
				limited = true
			}
		}
		if !limited {
			t.Errorf("%s: selector %s is not limited to job=%q", where, vs, jobValue)
		}
	}
	return names
}

func readRule(t *testing.T) *monitoringv1.PrometheusRule {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var pr monitoringv1.PrometheusRule
	if err := yaml.UnmarshalStrict(data, &pr); err != nil {
		t.Fatalf("%s is not a PrometheusRule (strict decoding): %v", rulesFile, err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Fatalf("%s: apiVersion %q kind %q", rulesFile, pr.APIVersion, pr.Kind)
	}
	return &pr
}

// TestRulesParse gives the rule groups to Prometheus's own rule parser, as
// prometheus-operator hands them to Prometheus.
func TestRulesParse(t *testing.T) {
	pr := readRule(t)
	groups, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	rgs, errs := rulefmt.Parse(groups, false, model.UTF8Validation, promql, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, err := range errs {
		t.Errorf("rulefmt: %v", err)
	}
	if rgs == nil {
		t.Fatal("no rule groups")
	}
	var alerts int
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts++
			}
		}
	}
	if alerts < 10 {
		t.Errorf("%d alerts parsed, want the ten or more of the file", alerts)
	}
}

// TestAlertsActionable checks what an on-call person needs on every alert:
// a severity, a summary, a description and a runbook that exists.
func TestAlertsActionable(t *testing.T) {
	pr := readRule(t)
	anchors := readmeAnchors(t)
	seen := map[string]bool{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a recording rule %q; this file holds alerts only", g.Name, r.Record)
				continue
			}
			where := "alert " + r.Alert
			if seen[r.Alert] {
				t.Errorf("%s: defined twice", where)
			}
			seen[r.Alert] = true
			if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q, want critical, warning or info", where, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
			}
			if d := r.Annotations["description"]; !strings.Contains(strings.ToLower(d), "likely cause") && !strings.Contains(d, "Nothing is wrong") {
				t.Errorf("%s: the description names no likely cause: %q", where, d)
			}
			url := r.Annotations["runbook_url"]
			_, anchor, ok := strings.Cut(url, "/README.md#")
			if !ok || !strings.HasPrefix(url, "https://github.com/gce-ccm/gce-ccm/blob/main/README.md#") {
				t.Errorf("%s: runbook_url %q is not a README.md anchor", where, url)
			} else if !anchors[anchor] {
				t.Errorf("%s: README.md has no heading with anchor #%s", where, anchor)
			}
			metricNames(t, where, r.Expr.String(), job)
		}
	}
}

// readmeAnchors returns the GitHub anchors of README.md's headings.
func readmeAnchors(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	inCode := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		a := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(h), ""), " ", "-")
		out[a] = true
	}
	return out
}

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// grafanaVars are the dashboard variables a query may use, with the value
// the test substitutes before parsing.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "${job}", job, "$job", job)

func readDashboard(t *testing.T) (*dashboard, []byte) {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("%s is not valid JSON", dashboardFile)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return &d, data
}

// TestDashboard checks the dashboard's structure and that every panel's
// queries parse and read only this job's metrics.
func TestDashboard(t *testing.T) {
	d, _ := readDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q uid %q", d.Title, d.UID)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	if !slices.Contains(vars, "datasource") || !slices.Contains(vars, "job") {
		t.Errorf("variables %q, want datasource and job", vars)
	}
	ids := map[int]bool{}
	var queries int
	for _, p := range allPanels(d.Panels) {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if ids[p.ID] {
			t.Errorf("%s: id used twice", where)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%s: gridPos %+v outside Grafana's 24 columns", where, p.GridPos)
		}
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.Type == "row" {
			continue
		}
		if p.Description == "" {
			t.Errorf("%s: no description", where)
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: datasource %+v, want prometheus ${datasource}", where, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for _, tg := range p.Targets {
			queries++
			metricNames(t, where+" query "+tg.RefID, grafanaVars.Replace(tg.Expr), job)
		}
	}
	if queries < 10 {
		t.Errorf("%d queries, want the dashboard's dozen or more", queries)
	}
	// What the issue asks the dashboard to show.
	var titles []string
	for _, p := range allPanels(d.Panels) {
		titles = append(titles, strings.ToLower(p.Title))
	}
	all := strings.Join(titles, "\n")
	for _, want := range []string{"leader", "load balancers by state", "routes owned", "node network ready", "api calls by method and result",
		"operation latency", "rate-limiter waits", "errors"} {
		if !strings.Contains(all, want) {
			t.Errorf("no panel about %q among:\n%s", want, all)
		}
	}
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// used returns every metric name the rules and the dashboard read.
func used(t *testing.T) []string {
	t.Helper()
	set := map[string]bool{}
	for _, g := range readRule(t).Spec.Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(t, "alert "+r.Alert, r.Expr.String(), job) {
				set[n] = true
			}
		}
	}
	d, _ := readDashboard(t)
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			for _, n := range metricNames(t, "panel "+p.Title, grafanaVars.Replace(tg.Expr), job) {
				set[n] = true
			}
		}
	}
	var names []string
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestUsedMetricsList keeps testdata/used-metrics.txt equal to the metric
// names the rules and the dashboard read (go test -update rewrites it).
func TestUsedMetricsList(t *testing.T) {
	names := used(t)
	want := "# Metric names manifests/monitoring reads; kept by test/monitoring (go test -update),\n" +
		"# checked against a running manager's /metrics by test/integration TestMetricsExported.\n" +
		strings.Join(names, "\n") + "\n"
	if *update {
		if err := os.WriteFile(usedMetrics, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(usedMetrics)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date: run `go test -update` in test/monitoring\ngot:\n%s\nwant:\n%s", usedMetrics, got, want)
	}
}

// TestRendered renders an overlay of the base with the component, as a user
// would, with the real kubectl (kustomize), and checks that the pieces fit:
// the Service selects the manager's pods on its port, the ServiceMonitor
// selects the Service and names the job the alerts use, and the dashboard
// ConfigMap carries the sidecar's label and the dashboard.
func TestRendered(t *testing.T) {
	bin := os.Getenv("GCE_CCM_TEST_BIN")
	if bin == "" {
		t.Fatal(`GCE_CCM_TEST_BIN is not set: run GCE_CCM_TEST_BIN="$(test/tools/build.sh)" go test (make test-modules does)`)
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(bin, "kubectl"), "kustomize", "testdata/overlay").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	objs := map[string][]byte{}
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		objs[meta.Kind+"/"+meta.Metadata.Name] = []byte(doc)
		if meta.Kind != "ClusterRole" && meta.Kind != "ClusterRoleBinding" && meta.Metadata.Namespace != "kube-system" {
			t.Errorf("%s/%s in namespace %q, want kube-system", meta.Kind, meta.Metadata.Name, meta.Metadata.Namespace)
		}
	}
	get := func(key string, into any) {
		t.Helper()
		doc, ok := objs[key]
		if !ok {
			t.Fatalf("rendered output lacks %s", key)
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	var rule monitoringv1.PrometheusRule
	get("PrometheusRule/gce-cloud-controller-manager", &rule)
	var sm monitoringv1.ServiceMonitor
	get("ServiceMonitor/gce-cloud-controller-manager", &sm)
	var svc struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Selector map[string]string `json:"selector"`
			Ports    []struct {
				Name       string `json:"name"`
				Port       int    `json:"port"`
				TargetPort int    `json:"targetPort"`
			} `json:"ports"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(objs["Service/gce-cloud-controller-manager"], &svc); err != nil || svc.Spec.Selector == nil {
		t.Fatalf("Service/gce-cloud-controller-manager: %v\n%s", err, objs["Service/gce-cloud-controller-manager"])
	}
	var deploy struct {
		Spec struct {
			Template struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
				Spec struct {
					Containers []struct {
						Ports []struct {
							Name          string `json:"name"`
							ContainerPort int    `json:"containerPort"`
						} `json:"ports"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(objs["Deployment/gce-cloud-controller-manager"], &deploy); err != nil {
		t.Fatal(err)
	}
	for k, v := range svc.Spec.Selector {
		if deploy.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, the manager's pods have %v", k, v, deploy.Spec.Template.Metadata.Labels)
		}
	}
	if len(svc.Spec.Ports) != 1 || len(deploy.Spec.Template.Spec.Containers) == 0 ||
		!slices.ContainsFunc(deploy.Spec.Template.Spec.Containers[0].Ports, func(p struct {
			Name          string `json:"name"`
			ContainerPort int    `json:"containerPort"`
		}) bool {
			return p.ContainerPort == svc.Spec.Ports[0].TargetPort
		}) {
		t.Errorf("the Service's port %+v is not a port of the manager's container %+v", svc.Spec.Ports, deploy.Spec.Template.Spec.Containers)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Metadata.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, the Service has %v", k, v, svc.Metadata.Labels)
		}
	}
	if got := svc.Metadata.Labels[sm.Spec.JobLabel]; got != job {
		t.Errorf("the ServiceMonitor's job label %q gives job=%q, the alerts and dashboard select job=%q", sm.Spec.JobLabel, got, job)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Scheme == nil ||
		string(*sm.Spec.Endpoints[0].Scheme) != "https" {
		t.Errorf("ServiceMonitor endpoints %+v: want the Service's port %q over https", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}
	var cm struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(objs["ConfigMap/gce-cloud-controller-manager-dashboard"], &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Metadata.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v, want grafana_dashboard: \"1\"", cm.Metadata.Labels)
	}
	_, raw := readDashboard(t)
	if cm.Data["gce-cloud-controller-manager.json"] != string(raw) {
		t.Errorf("the dashboard ConfigMap does not hold %s as it is", dashboardFile)
	}
}
