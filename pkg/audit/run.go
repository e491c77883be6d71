package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"k8s.io/client-go/kubernetes"
)

// Exit codes of the audit command.
const (
	// ExitClean: nothing leaked and nothing missing (or --delete removed
	// every leak and nothing is missing). Skipped resources do not count.
	ExitClean = 0
	// ExitError: the audit could not read what it needs, or a deletion
	// failed.
	ExitError = 1
	// ExitUsage: bad flags or configuration.
	ExitUsage = 2
	// ExitFound: leaks remain (reported, declined, or kept because they are
	// still in use) or resources are missing.
	ExitFound = 3
)

// Output formats.
const (
	OutputTable = "table"
	OutputJSON  = "json"
)

// Options configure Run.
type Options struct {
	Scope
	// Output is OutputTable or OutputJSON.
	Output string
	// Delete removes the leaks, after a confirmation on In unless Yes.
	Delete bool
	Yes    bool
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
}

// Report is the JSON output.
type Report struct {
	Cluster  ClusterInfo `json:"cluster"`
	Counts   Counts      `json:"counts"`
	Findings []Finding   `json:"findings"`
}

// ClusterInfo says what was audited.
type ClusterInfo struct {
	Name    string `json:"name"`
	ID      string `json:"id,omitempty"`
	Project string `json:"project"`
	Region  string `json:"region"`
	Network string `json:"network"`
}

// Run audits, prints the findings, deletes the leaks when asked, and
// returns the exit code.
func Run(ctx context.Context, api Compute, kube kubernetes.Interface, o Options) int {
	inv, err := Read(ctx, api, kube, o.Scope)
	if err != nil {
		fmt.Fprintf(o.Err, "audit: %v\n", err)
		return ExitError
	}
	fs := Classify(inv)
	if o.Output != OutputJSON {
		writeTable(o.Out, fs, o.Scope)
	}
	if o.Delete && Count(fs).Leaked > 0 {
		if o.Yes || confirm(o.In, o.Err, Count(fs).Leaked) {
			again, err := Read(ctx, api, kube, o.Scope)
			if err != nil {
				fmt.Fprintf(o.Err, "audit: read again before deleting: %v\n", err)
				return ExitError
			}
			fs = Delete(ctx, api, fs, Classify(again))
		} else {
			fs = Decline(fs)
		}
		if o.Output != OutputJSON {
			writeResults(o.Out, fs)
		}
	}
	if o.Output == OutputJSON {
		if fs == nil {
			fs = []Finding{}
		}
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		rep := Report{Cluster: ClusterInfo{Name: o.ClusterName, ID: o.ClusterID, Project: o.Project, Region: o.Region, Network: o.NetworkURL},
			Counts: Count(fs), Findings: fs}
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(o.Err, "audit: %v\n", err)
			return ExitError
		}
	}
	return exitCode(fs)
}

// exitCode is ExitError when a deletion failed, else ExitFound when leaks
// remain or resources are missing, else ExitClean.
func exitCode(fs []Finding) int {
	code := ExitClean
	for _, f := range fs {
		switch {
		case Failed(f.Result):
			return ExitError
		case f.Status == Missing:
			code = ExitFound
		case f.Status == Leaked && (f.Result == "" || (Kept(f.Result) && f.Result != resultResolved)):
			code = ExitFound
		}
	}
	return code
}

// confirm asks on w and reads the answer from r; only y or yes confirms.
func confirm(r io.Reader, w io.Writer, n int) bool {
	fmt.Fprintf(w, "Delete the %d leaked resource(s) listed above? [y/N] ", n)
	if r == nil {
		fmt.Fprintln(w)
		return false
	}
	line, _ := bufio.NewReader(r).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

func writeTable(w io.Writer, fs []Finding, sc Scope) {
	c := Count(fs)
	id := sc.ClusterID
	if id == "" {
		id = "unknown"
	}
	fmt.Fprintf(w, "Cluster %s (id %s), project %s, region %s: %d leaked, %d missing, %d skipped.\n",
		sc.ClusterName, id, sc.Project, sc.Region, c.Leaked, c.Missing, c.Skipped)
	if len(fs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tKIND\tNAME\tOWNER\tREASON")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Status, f.Kind, f.Name, dash(f.Owner), f.Reason)
	}
	_ = tw.Flush()
}

func writeResults(w io.Writer, fs []Finding) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tKIND\tNAME")
	for _, f := range fs {
		if f.Status == Leaked {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Result, f.Kind, f.Name)
		}
	}
	_ = tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
