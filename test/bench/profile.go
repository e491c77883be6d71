package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profiler fetches pprof profiles from the manager's secure port (served
// with --profiling, on by default) as the admin, whom the manager's
// delegated authorization admits.
type profiler struct {
	w      *world
	name   string
	done   chan struct{}
	cancel context.CancelFunc
}

// startProfile starts a CPU profile of the manager for up to d, written to
// <out>/<name>-cpu.pprof; stop ends it early and adds a heap profile. It
// returns nil when -profile is off.
func startProfile(w *world, name string, d time.Duration) *profiler {
	if !w.cfg.profile {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &profiler{w: w, name: name, done: make(chan struct{}), cancel: cancel}
	secs := int(min(max(d, 5*time.Second), 10*time.Minute).Seconds())
	go func() {
		defer close(p.done)
		if err := p.fetch(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), name+"-cpu.pprof"); err != nil {
			fmt.Fprintf(os.Stderr, "    %s: CPU profile: %v\n", name, err)
		}
	}()
	return p
}

// stop writes a heap profile and waits for the CPU profile, which the
// manager ends when its time is up.
func (p *profiler) stop() {
	if p == nil {
		return
	}
	if err := p.fetch(context.Background(), "/debug/pprof/heap", p.name+"-heap.pprof"); err != nil {
		fmt.Fprintf(os.Stderr, "    %s: heap profile: %v\n", p.name, err)
	}
	<-p.done
	p.cancel()
}

func (p *profiler) fetch(ctx context.Context, path, file string) error {
	url := fmt.Sprintf("https://127.0.0.1:%d%s", p.w.mgr.Port, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.w.env.CP.AdminConfig().BearerToken)
	// The manager serves a self-signed certificate on loopback.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	f, err := os.Create(filepath.Join(p.w.cfg.out, file))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
