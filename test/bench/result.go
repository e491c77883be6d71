package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// result is one scenario's outcome.
type result struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description"`
	Nodes       int    `json:"nodes,omitempty"`
	Services    int    `json:"services,omitempty"`

	// Seconds is the measured time; BoundSeconds the model's lower bound
	// (0 when the scenario has none), Bound its formula.
	Seconds      float64 `json:"seconds"`
	BoundSeconds float64 `json:"boundSeconds,omitempty"`
	Bound        string  `json:"bound,omitempty"`
	// Ratio is Seconds/BoundSeconds, or for S1 reads over their allowance.
	Ratio  float64 `json:"ratio,omitempty"`
	Target string  `json:"target"`
	Met    bool    `json:"met"`

	Reads        int `json:"reads"`
	Writes       int `json:"writes"`
	Waits        int `json:"operationWaits"`
	Conflicts409 int `json:"conflicts409"`
	Forbidden403 int `json:"forbidden403"`
	// Calls are the fake's counts by method and result ("ok" or a reason).
	Calls map[string]map[string]int `json:"calls"`

	PeakRSSMiB float64 `json:"peakRSSMiB"`
	// Extra holds scenario-specific figures: writes per route, calls per
	// minute and the like.
	Extra map[string]float64 `json:"extra,omitempty"`
	Notes []string           `json:"notes,omitempty"`
	Chart string             `json:"chart,omitempty"`
	Error string             `json:"error,omitempty"`
}

// callKind sorts a Compute method into reads, writes and operation waits
// (operations' wait and get are both a client waiting for an operation).
func callKind(method string) string {
	kind, verb, _ := strings.Cut(method, ".")
	switch {
	case strings.HasSuffix(kind, "Operations"):
		return "wait"
	case verb == "get" || verb == "list" || verb == "aggregatedList":
		return "read"
	default:
		return "write"
	}
}

// setCalls fills the call figures from the fake's counts.
func (r *result) setCalls(calls map[string]map[string]int) {
	r.Calls = calls
	r.Reads, r.Writes, r.Waits, r.Conflicts409, r.Forbidden403 = 0, 0, 0, 0, 0
	for m, byResult := range calls {
		for res, n := range byResult {
			switch callKind(m) {
			case "read":
				r.Reads += n
			case "write":
				r.Writes += n
			case "wait":
				r.Waits += n
			}
			switch res {
			case "alreadyExists":
				r.Conflicts409 += n
			case "rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "forbidden":
				r.Forbidden403 += n
			}
		}
	}
}

// writesBy returns the write calls of each method.
func (r *result) writesBy() map[string]int {
	out := map[string]int{}
	for m, byResult := range r.Calls {
		if callKind(m) != "write" {
			continue
		}
		for _, n := range byResult {
			out[m] += n
		}
	}
	return out
}

func (r *result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *result) extra(key string, v float64) {
	if r.Extra == nil {
		r.Extra = map[string]float64{}
	}
	r.Extra[key] = v
}

func (r *result) oneLine() string {
	if r.Error != "" {
		return "error: " + r.Error
	}
	s := fmt.Sprintf("%.1fs", r.Seconds)
	if r.BoundSeconds > 0 {
		s += fmt.Sprintf(" (bound %.1fs, ratio %.2f)", r.BoundSeconds, r.Ratio)
	}
	return s + fmt.Sprintf(", reads %d, writes %d, waits %d, 409 %d, 403 %d, peak RSS %.0f MiB, target %s: %s",
		r.Reads, r.Writes, r.Waits, r.Conflicts409, r.Forbidden403, r.PeakRSSMiB, r.Target, metText(r.Met))
}

func metText(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

func printTable(w io.Writer, rep *report) {
	fmt.Fprintf(w, "L=%gs Q=%g/s (burst %d, the manager's %d) scale=%g; %d CPUs, load %s at start, %s at end\n",
		rep.LatencySec, rep.QPS, max(1, int(rep.QPS)), rep.ManagerBurst, rep.Scale, rep.Machine.CPUs, rep.Machine.LoadAvg, rep.LoadAvgEnd)
	fmt.Fprintf(w, "manager: %s %s (after the harness's flags)\n\n", strings.Join(rep.ManagerEnv, " "), strings.Join(ownArgs(rep.ManagerArgs), " "))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tSIZE\tTIME\tBOUND\tRATIO\tREADS\tWRITES\tWAITS\t409\t403\tPEAK RSS\tTARGET\t")
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\terror\t\t\t\t\t\t\t\t\t%s\t\n", r.Scenario, size(r), r.Error)
			continue
		}
		bound, ratio := "-", "-"
		if r.BoundSeconds > 0 {
			bound = fmt.Sprintf("%.1fs", r.BoundSeconds)
		}
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.0f MiB\t%s %s\t\n", r.Scenario, size(r), r.Seconds, bound, ratio,
			r.Reads, r.Writes, r.Waits, r.Conflicts409, r.Forbidden403, r.PeakRSSMiB, r.Target, metText(r.Met))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rep.Results {
		for _, k := range slices.Sorted(maps.Keys(r.Extra)) {
			fmt.Fprintf(w, "  %s %s = %.3g\n", r.Scenario, k, r.Extra[k])
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  %s: %s\n", r.Scenario, n)
		}
	}
}

func size(r *result) string {
	var parts []string
	if r.Nodes > 0 {
		parts = append(parts, fmt.Sprintf("%dn", r.Nodes))
	}
	if r.Services > 0 {
		parts = append(parts, fmt.Sprintf("%ds", r.Services))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "/")
}

// ownArgs leaves out the cluster name, which every run shares.
func ownArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "--cluster-name=") {
			out = append(out, a)
		}
	}
	return out
}
