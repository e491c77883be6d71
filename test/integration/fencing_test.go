package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
	"github.com/gce-ccm/gce-ccm/test/integration/harness"
)

// replicaProxy stands between one replica and the fake and counts the
// Compute writes that replica sends, so that each write is attributed to
// the replica that made it (both replicas share the fake).
type replicaProxy struct {
	srv    *httptest.Server
	mu     sync.Mutex
	writes []time.Time // when each write reached the proxy
}

func newReplicaProxy(t *testing.T, fakeURL string) *replicaProxy {
	t.Helper()
	target, err := url.Parse(fakeURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &replicaProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Waiting on an operation is a POST that changes nothing.
		if r.Method != http.MethodGet && !strings.Contains(r.URL.Path, "/operations/") {
			p.mu.Lock()
			p.writes = append(p.writes, time.Now())
			p.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// writesAfter counts the writes that reached the proxy after t0.
func (p *replicaProxy) writesAfter(t0 time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, at := range p.writes {
		if at.After(t0) {
			n++
		}
	}
	return n
}

// confThrough writes a copy of gce.conf whose api-endpoint is the proxy.
func confThrough(t *testing.T, env *harness.Env, name string, p *replicaProxy) string {
	t.Helper()
	data, err := os.ReadFile(env.GCEConf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), env.Fake.URL()) {
		t.Fatalf("gce.conf does not name the fake's URL %s:\n%s", env.Fake.URL(), data)
	}
	path := filepath.Join(env.Dir, name+".conf")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(data), env.Fake.URL(), p.srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFencing: the leader is frozen (SIGSTOP) while Compute writes wait in
// its write rate limiter, past its lease, until the other replica leads;
// when it is thawed (SIGCONT) it must make no Compute write at all: the
// lease fence refuses the writes that were waiting and the process steps
// down (exits). The new leader builds the load balancer.
//
// The write rate is 0.5/s (burst 1) so that a load balancer's writes are
// queued in the limiter for seconds, the case the fence exists for: without
// it the first queued write goes out the moment the process runs again,
// before leader election, which needs a round trip to the API server,
// notices the lease is lost.
func TestFencing(t *testing.T) {
	vms := []string{"node-0", "node-1"}
	env, err := harness.Start(t.Context(), harness.Options{
		ManagerBinary: managerBinary,
		Instances:     []fakecompute.InstanceSeed{lbSeed(vms[0], zones[0]), lbSeed(vms[1], zones[1])},
		GCEConfExtra:  []string{"api-write-qps = 0.5", "api-write-burst = 1"},
	})
	if err != nil {
		t.Fatalf("start environment: %v", err)
	}
	t.Cleanup(env.Stop)
	createClusterID(t, env, lbClusterID)
	proxyA, proxyB := newReplicaProxy(t, env.Fake.URL()), newReplicaProxy(t, env.Fake.URL())
	leads := func(m *harness.Manager) bool { return strings.Contains(m.Log(), "Successfully acquired lease") }

	a := startManager(t, env, "replica-a", append(lbArgs, "--cloud-config="+confThrough(t, env, "replica-a", proxyA))...)
	t.Cleanup(func() { _ = syscall.Kill(a.PID(), syscall.SIGCONT) }) // runs before Stop
	eventually(t, time.Minute, "replica-a leads", func(context.Context) (bool, string) { return leads(a), "no lease yet" })
	for _, n := range vms {
		createNode(t, env, n)
	}
	for _, n := range vms {
		waitInitialised(t, env, n)
	}
	b := startManager(t, env, "replica-b", append(lbArgs, "--cloud-config="+confThrough(t, env, "replica-b", proxyB))...)

	createService(t, env, lbService("web"))
	eventually(t, lbConvergeTime, "replica-a's first write for the load balancer", func(context.Context) (bool, string) {
		n := proxyA.writesAfter(time.Time{})
		return n > 0, fmt.Sprintf("%d writes", n)
	})
	if err := syscall.Kill(a.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozenWrites := proxyA.writesAfter(time.Time{})
	eventually(t, 2*time.Minute, "replica-b leads", func(context.Context) (bool, string) { return leads(b), "no lease yet" })

	thawed := time.Now()
	if err := syscall.Kill(a.PID(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	code, err := a.Wait(ctx)
	cancel()
	if err != nil {
		t.Fatalf("the old leader did not exit after it was thawed: %v", err)
	}
	if code == 0 {
		t.Errorf("the old leader exited with code 0, want a failure exit as on a lost lease")
	}
	// The new leader converges the load balancer; by then any write the
	// old leader had in hand would have arrived.
	waitIngress(t, env, "web")
	if n := proxyA.writesAfter(thawed); n != 0 {
		t.Errorf("the old leader made %d Compute writes after it was thawed past its lease, want 0", n)
	}
	if proxyB.writesAfter(time.Time{}) == 0 {
		t.Errorf("the new leader made no Compute write, yet the load balancer exists")
	}
	log := a.Log()
	t.Logf("old leader: %d writes before it was frozen, exit code %d, fence refusals logged: %d, lease loss logged: %v",
		frozenWrites, code, strings.Count(log, "Stepping down"), strings.Contains(log, "leaderelection lost"))
}
