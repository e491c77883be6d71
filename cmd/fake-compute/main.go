// Command fake-compute serves test/fakecompute, an HTTP fake of the Compute
// Engine v1 API and of the GCE metadata server, for local runs and tests.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "fake-compute:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fake-compute", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on; port 0 picks a free port")
	project := fs.String("project", "fake-project", "the main project")
	extra := fs.String("extra-projects", "", "comma-separated further projects, e.g. a Shared VPC host project")
	zones := fs.String("zones", "us-central1-a,us-central1-b,us-central1-c", "comma-separated zones; their regions exist too")
	network := fs.String("network", "default", "name of the network in every project")
	seed := fs.String("seed", "", "YAML or JSON file of instances to create at start")
	load := fs.String("load", "", "JSON dump (as GET /_fake/dump gives) to load at start, before -seed")
	latency := fs.Duration("latency", 0, "how long every operation stays RUNNING, e.g. 1s")
	qps := fs.Float64("write-qps", 0, "write rate limit per second (0: none); past it writes get 403 rateLimitExceeded")
	burst := fs.Int("write-burst", 0, "burst of the write rate limit (default: qps rounded up)")
	urlFile := fs.String("url-file", "", "also write the URL to this file once listening")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *latency < 0 {
		return fmt.Errorf("-latency must not be negative, got %s", *latency)
	}
	if *qps < 0 || *burst < 0 {
		return errors.New("-write-qps and -write-burst must not be negative")
	}
	cfg := fakecompute.Config{Project: *project, Zones: splitList(*zones), Network: *network, Latency: *latency}
	cfg.ExtraProjects = splitList(*extra)
	srv, err := fakecompute.New(cfg)
	if err != nil {
		return err
	}
	if *load != "" {
		data, err := os.ReadFile(*load)
		if err != nil {
			return fmt.Errorf("read load file: %w", err)
		}
		d, err := fakecompute.ParseDump(data)
		if err != nil {
			return fmt.Errorf("load file %s: %w", *load, err)
		}
		if err := srv.Load(d); err != nil {
			return fmt.Errorf("load file %s: %w", *load, err)
		}
	}
	if *seed != "" {
		data, err := os.ReadFile(*seed)
		if err != nil {
			return fmt.Errorf("read seed file: %w", err)
		}
		sd, err := fakecompute.ParseSeed(data)
		if err != nil {
			return fmt.Errorf("seed file %s: %w", *seed, err)
		}
		if err := srv.ApplySeed(sd); err != nil {
			return fmt.Errorf("seed file %s: %w", *seed, err)
		}
	}
	if *qps > 0 {
		b := *burst
		if b == 0 {
			b = int(*qps + 0.999)
		}
		srv.SetWriteRateLimit(*qps, b)
	}
	// Catch signals before the URL is out: a caller that reads the URL and
	// stops us at once must get a clean exit, not the default signal death.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	if err := srv.Start(*listen); err != nil {
		return err
	}
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(srv.URL()+"\n"), 0o644); err != nil {
			_ = srv.Close()
			return fmt.Errorf("write url file: %w", err)
		}
	}
	fmt.Fprintln(stdout, srv.URL())
	fmt.Fprintf(stderr, "fake-compute: serving project %s on %s (Compute API %s/compute/v1/, metadata GCE_METADATA_HOST=%s, control %s%s)\n",
		*project, srv.URL(), srv.URL(), srv.MetadataHost(), srv.URL(), fakecompute.ControlPrefix)

	s := <-sig
	fmt.Fprintf(stderr, "fake-compute: %s, stopping\n", s)
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("did not stop within 10s")
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
