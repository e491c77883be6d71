package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gce "google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
)

// runMainEnv makes the test binary act as fake-compute: the tests re-exec
// themselves with it set, so they run the real main, signals and exit code
// included, without a separate build.
const runMainEnv = "FAKE_COMPUTE_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Args = append([]string{"fake-compute"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// command returns the fake-compute command with args.
func command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	// Under -race a process sleeps a second at exit to catch late reports;
	// these short runs need not.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "GORACE="+gorace)
	return cmd
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServeAndStop(t *testing.T) {
	seed := writeFile(t, "seed.yaml", `
instances:
- name: node-1
  zone: europe-west1-b
  canIpForward: true
`)
	dump := writeFile(t, "dump.json", `{"firewalls": [{"kind": "compute#firewall", "name": "loaded", "id": "77",
  "selfLink": "https://www.googleapis.com/compute/v1/projects/demo-project/global/firewalls/loaded",
  "network": "https://www.googleapis.com/compute/v1/projects/demo-project/global/networks/default",
  "direction": "INGRESS", "priority": 1000, "allowed": [{"IPProtocol": "tcp", "ports": ["80"]}]}]}`)
	urlFile := filepath.Join(t.TempDir(), "url")
	cmd := command(t, "-project", "demo-project", "-zones", "europe-west1-b,europe-west1-c", "-load", dump, "-seed", seed,
		"-latency", "200ms", "-url-file", urlFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	var url string
	select {
	case url = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatalf("no URL printed within 30s; stderr: %s", stderr.String())
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("printed %q, want http://127.0.0.1:PORT", url)
	}
	if b, err := os.ReadFile(urlFile); err != nil || strings.TrimSpace(string(b)) != url {
		t.Errorf("url file = %q, %v; want %s", b, err, url)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := gce.NewService(ctx, option.WithEndpoint(url+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	vm, err := svc.Instances.Get("demo-project", "europe-west1-b", "node-1").Context(ctx).Do()
	if err != nil || !vm.CanIpForward {
		t.Errorf("seeded instance = %+v, %v", vm, err)
	}
	if fw, err := svc.Firewalls.Get("demo-project", "loaded").Context(ctx).Do(); err != nil || fw.Id != 77 {
		t.Errorf("loaded firewall = %+v, %v", fw, err)
	}
	if _, err := svc.Regions.Get("demo-project", "europe-west1").Context(ctx).Do(); err != nil {
		t.Errorf("region of the zones: %v", err)
	}
	op, err := svc.Firewalls.Insert("demo-project", &gce.Firewall{Name: "fw", Allowed: []*gce.FirewallAllowed{{IPProtocol: "tcp"}}}).Context(ctx).Do()
	if err != nil || op.Status != "RUNNING" {
		t.Errorf("insert with -latency = %v, %v; want RUNNING", op, err)
	}
	resp, err := http.Get(url + "/_fake/calls")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "instances.get") {
		t.Errorf("control API calls = %d %s", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15s after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "stopping") {
		t.Errorf("stderr = %q, want it to say it is stopping", stderr.String())
	}
}

// TestImmediateSIGTERM stops the server as soon as it has printed its URL:
// the signal must already be handled by then.
func TestImmediateSIGTERM(t *testing.T) {
	for i := range 3 {
		cmd := command(t)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() {
			_ = cmd.Process.Kill()
			t.Fatalf("run %d: no URL", i)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, stdout)
		if err := cmd.Wait(); err != nil {
			t.Errorf("run %d: exit after an immediate SIGTERM: %v", i, err)
		}
	}
}

func TestBadInvocations(t *testing.T) {
	dir := t.TempDir()
	malformed := writeFile(t, "malformed.yaml", "instances: [\n")
	unknownField := writeFile(t, "unknown.yaml", "instances:\n- name: a\n  zone: us-central1-a\n  cpu: 4\n")
	badZone := writeFile(t, "zone.json", `{"instances":[{"name":"a","zone":"antarctica-1a"}]}`)
	unknownDumpField := writeFile(t, "dump-field.json", `{"disks": []}`)
	danglingRoute := writeFile(t, "dump-route.json", `{"routes": [{"name": "r", "destRange": "10.0.0.0/24",
  "selfLink": "https://www.googleapis.com/compute/v1/projects/fake-project/global/routes/r",
  "network": "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/nope"}]}`)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown flag", []string{"-colour", "red"}, "flag provided but not defined: -colour"},
		{"bad duration", []string{"-latency", "soon"}, `invalid value "soon" for flag -latency`},
		{"negative latency", []string{"-latency", "-1s"}, "-latency must not be negative"},
		{"negative qps", []string{"-write-qps", "-1"}, "must not be negative"},
		{"bad zone", []string{"-zones", "nowhere"}, `invalid zone "nowhere"`},
		{"bad project", []string{"-project", "Demo_Project"}, `invalid project id "Demo_Project"`},
		{"stray argument", []string{"serve"}, `unexpected arguments ["serve"]`},
		{"bad listen address", []string{"-listen", "256.0.0.1:0"}, "listen on 256.0.0.1:0"},
		{"missing seed file", []string{"-seed", filepath.Join(dir, "nope.yaml")}, "read seed file"},
		{"malformed seed file", []string{"-seed", malformed}, "seed file " + malformed},
		{"unknown seed field", []string{"-seed", unknownField}, `unknown field "cpu"`},
		{"seed zone not served", []string{"-seed", badZone}, `instances[0] ("a"): unknown zone "antarctica-1a"`},
		{"missing load file", []string{"-load", filepath.Join(dir, "nope.json")}, "read load file"},
		{"unknown dump field", []string{"-load", unknownDumpField}, `unknown field "disks"`},
		{"dangling reference in the dump", []string{"-load", danglingRoute}, `routes[0] ("r").network: no network`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := command(t, tc.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Stdout = io.Discard
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("still running after 30s; stderr: %s", stderr.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Errorf("exit = %v, want a non-zero exit code", err)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	cmd := command(t, "-h")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("-h: %v", err)
	}
	for _, flag := range []string{"-listen", "-project", "-zones", "-seed", "-load", "-latency"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("usage lacks %s:\n%s", flag, out)
		}
	}
}
