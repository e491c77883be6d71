// Command bench measures how fast gce-ccm converges and how much Compute API
// quota it spends at 1,000 to 5,000 nodes, against the lower bound that a
// simple model of the API implies. It runs the real manager binary against a
// real kube-apiserver and etcd and the fake Compute API (test/fakecompute)
// configured with the model: every operation takes L to finish, and writes
// pass a token bucket of Q per second (burst Q); a write beyond it is a 403
// rateLimitExceeded.
//
// Each scenario gets a fresh control plane, fake and manager, so that call
// counts and the manager's peak RSS are its own. It prints a table, and
// writes results.json and route-convergence.svg (R1) into -out.
// `make bench` builds what it needs and runs it; BENCH_ARGS passes flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// quickScale is the size factor of -quick: small enough that every scenario
// together finishes in under five minutes on two cores.
const quickScale = 0.1

func run() error {
	var cfg config
	var names string
	flag.DurationVar(&cfg.latency, "latency", time.Second, "operation latency L: how long every Compute operation stays RUNNING")
	flag.Float64Var(&cfg.qps, "qps", 20, "write rate limit Q of the fake, per second (burst Q); gce.conf's api-write-qps is set to it")
	flag.StringVar(&names, "scenarios", strings.Join(scenarioNames(), ","), "comma-separated scenarios to run")
	flag.Float64Var(&cfg.scale, "scale", 1, "factor applied to node and Service counts (and S1's observation time) for a quicker run")
	flag.BoolVar(&cfg.quick, "quick", false, fmt.Sprintf("quick mode: -scale %g and a short S1, all scenarios in under five minutes", quickScale))
	flag.StringVar(&cfg.out, "out", "bin/bench", "directory for results.json and route-convergence.svg")
	flag.BoolVar(&cfg.profile, "profile", false, "write the manager's CPU profile (over the model's time) and heap profile of each measured phase into -out")
	flag.Func("manager-arg", "a further manager flag, e.g. -manager-arg=--concurrent-service-syncs=20 (repeatable; later flags win)",
		func(v string) error { cfg.managerArgs = append(cfg.managerArgs, v); return nil })
	flag.Func("manager-env", "a further variable of the manager's environment, e.g. -manager-env=GOMEMLIMIT=200MiB (repeatable)",
		func(v string) error {
			if !strings.Contains(v, "=") {
				return errors.New("want NAME=VALUE")
			}
			cfg.managerEnv = append(cfg.managerEnv, v)
			return nil
		})
	flag.IntVar(&cfg.managerBurst, "manager-burst", 0, "the manager's api-write-burst (default half the fake's burst, a margin of half a second of clock jitter between the two buckets)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep each scenario's control plane directory (logs, manager log) for debugging")
	flag.Parse()

	scaleSet := false
	flag.Visit(func(f *flag.Flag) { scaleSet = scaleSet || f.Name == "scale" })
	if cfg.quick && !scaleSet {
		cfg.scale = quickScale
	}
	if cfg.latency < 0 || cfg.qps <= 0 || cfg.scale <= 0 || cfg.managerBurst < 0 {
		return errors.New("-latency and -manager-burst must not be negative; -qps and -scale must be positive")
	}
	var selected []*scenario
	for _, n := range strings.Split(names, ",") {
		n = strings.ToUpper(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		s := findScenario(n)
		if s == nil {
			return fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(scenarioNames(), ", "))
		}
		selected = append(selected, s)
	}
	if len(selected) == 0 {
		return errors.New("no scenario selected")
	}
	selected = withUpstreamRows(selected)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	binDir, err := os.MkdirTemp("", "gce-ccm-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	step("building the manager")
	if cfg.manager, err = harness.BuildManager(ctx, binDir); err != nil {
		return err
	}

	rep := report{
		Command:      strings.Join(append([]string{"bench"}, os.Args[1:]...), " "),
		Started:      time.Now().UTC().Format(time.RFC3339),
		Machine:      machine(),
		LatencySec:   cfg.latency.Seconds(),
		QPS:          cfg.qps,
		ManagerBurst: cfg.clientBurst(cfg.burst()),
		Scale:        cfg.scale,
		ManagerArgs:  append(managerArgs(&cfg, true), cfg.managerArgs...),
		ManagerEnv:   append(slices.Clone(managerEnv), cfg.managerEnv...),
	}
	start := time.Now()
	var failed []string
	for _, s := range selected {
		step(fmt.Sprintf("%s: %s", s.name, s.describe(&cfg)))
		r, err := s.run(ctx, &cfg)
		if ctx.Err() != nil {
			return errors.New("interrupted")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "    %s failed: %v\n", s.name, err)
			failed = append(failed, s.name)
			r = &result{Scenario: s.name, Description: s.describe(&cfg), Error: err.Error()}
		}
		rep.Results = append(rep.Results, r)
		fmt.Fprintf(os.Stderr, "    %s\n", r.oneLine())
	}
	rep.LoadAvgEnd = loadAvg()
	rep.TotalSec = time.Since(start).Seconds()

	fmt.Println()
	printTable(os.Stdout, &rep)
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.out, "results.json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nresults: %s", path)
	for _, r := range rep.Results {
		if r.Chart != "" {
			fmt.Printf(", chart: %s", r.Chart)
		}
	}
	fmt.Printf("\ntotal %.0fs\n", rep.TotalSec)
	if len(failed) > 0 {
		return fmt.Errorf("scenarios failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// config is what the flags set.
type config struct {
	latency time.Duration
	qps     float64
	scale   float64
	quick   bool
	out     string
	keep    bool
	profile bool
	// managerArgs and managerEnv are added to every scenario's manager.
	managerArgs []string
	managerEnv  []string
	manager     string // the built manager binary
	// managerBurst is -manager-burst (0: the default).
	managerBurst int
}

// clientBurst is the manager's api-write-burst against a fake bucket of
// burst: -manager-burst, else half of it. With half, the fake's bucket
// keeps burst/2 tokens in steady state, which absorbs half a second of
// jitter between the two clocks instead of turning it into 403s.
func (c *config) clientBurst(burst int) int {
	if c.managerBurst > 0 {
		return c.managerBurst
	}
	return max(1, burst/2)
}

// n scales a count, keeping at least min.
func (c *config) n(full, min int) int {
	return max(min, int(float64(full)*c.scale+0.5))
}

// burst is the fake's token bucket size: one second of writes.
func (c *config) burst() int { return max(1, int(c.qps)) }

// report is results.json.
type report struct {
	Command    string   `json:"command"`
	Started    string   `json:"started"`
	Machine    machineT `json:"machine"`
	LatencySec float64  `json:"latencySeconds"`
	QPS        float64  `json:"qps"`
	// ManagerBurst is the manager's api-write-burst (of the -qps rate).
	ManagerBurst int     `json:"managerBurst"`
	Scale        float64 `json:"scale"`
	// ManagerArgs and ManagerEnv are what the manager runs with (the
	// harness's own flags first); scenarios without routes leave out
	// --configure-cloud-routes and --cluster-cidr.
	ManagerArgs []string  `json:"managerArgs"`
	ManagerEnv  []string  `json:"managerEnv"`
	TotalSec    float64   `json:"totalSeconds"`
	LoadAvgEnd  string    `json:"loadAvgEnd"`
	Results     []*result `json:"results"`
}

type machineT struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	CPUModel  string `json:"cpuModel,omitempty"`
	MemTotal  string `json:"memTotal,omitempty"`
	LoadAvg   string `json:"loadAvgStart,omitempty"`
}

func machine() machineT {
	m := machineT{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, LoadAvg: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				m.MemTotal = strings.TrimSpace(v)
			}
		}
	}
	return m
}

// loadAvg is the 1, 5 and 15 minute load average: the benchmark shares the
// machine, and a busy one makes every figure slower.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func step(s string) { fmt.Fprintf(os.Stderr, "==> %s\n", s) }

func scenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

func findScenario(name string) *scenario {
	i := slices.IndexFunc(scenarios, func(s *scenario) bool { return s.name == name })
	if i < 0 {
		return nil
	}
	return scenarios[i]
}
