package chaos

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

// writeRecorder is a reverse proxy in front of the fake for one replica:
// it tells which replica sent which Compute write, and when.
type writeRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	writes []time.Time
}

func newWriteRecorder(t *testing.T, fakeURL string) *writeRecorder {
	t.Helper()
	target, err := url.Parse(fakeURL)
	if err != nil {
		t.Fatal(err)
	}
	r := &writeRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Operation waits are POSTs that change nothing.
		if req.Method != http.MethodGet && !strings.Contains(req.URL.Path, "/operations/") {
			r.mu.Lock()
			r.writes = append(r.writes, time.Now())
			r.mu.Unlock()
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// since counts the writes received after t0.
func (r *writeRecorder) since(t0 time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, at := range r.writes {
		if at.After(t0) {
			n++
		}
	}
	return n
}

// confVia writes a copy of the harness's gce.conf whose api-endpoint is
// the recorder.
func confVia(t *testing.T, env *harness.Env, name string, r *writeRecorder) string {
	t.Helper()
	data, err := os.ReadFile(env.GCEConf)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.ReplaceAll(string(data), env.Fake.URL(), r.srv.URL)
	path := filepath.Join(env.Dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestChaosFencing: two replicas; the leader is frozen (SIGSTOP) while its
// writes are in flight, past its lease, until the other replica leads;
// then it is thawed (SIGCONT). The old leader must make no Compute write
// after it was thawed: the write fence refuses them and it steps down.
// Everything converges under the new leader.
func TestChaosFencing(t *testing.T) {
	nNodes, nSvcs, nDuring := size(20, 3), size(10, 3), size(10, 4)
	w := newBareWorld(t, fakecompute.Config{Latency: 50 * time.Millisecond}, nNodes)
	env := w.env
	recA, recB := newWriteRecorder(t, env.Fake.URL()), newWriteRecorder(t, env.Fake.URL())
	start := func(name string, rec *writeRecorder) *harness.Manager {
		m, err := env.StartManager(name, append(managerArgs, "--cloud-config="+confVia(t, env, name, rec))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = syscall.Kill(m.PID(), syscall.SIGCONT)
			m.Stop()
			if t.Failed() {
				t.Logf("end of %s's log:\n%s", name, tail(m.Log(), 30))
			}
		})
		return m
	}
	leads := func(m *harness.Manager) bool { return strings.Contains(m.Log(), "Successfully acquired lease") }
	a := start("replica-a", recA)
	w.waitFor(time.Minute, "replica-a leads", func(context.Context) (bool, string) { return leads(a), "no lease yet" })
	b := start("replica-b", recB)
	runStart := time.Now()
	w.buildAndSnapshot(nNodes, nSvcs)

	// Slow operations keep the leader's writes in flight; new Services
	// give it writes to make. Freeze it as soon as it has begun.
	env.Fake.SetLatency("", 2*time.Second)
	before := recA.since(time.Time{})
	ctx := t.Context()
	for i := range nDuring {
		if err := w.createService(ctx, service(fmt.Sprintf("svc-f%02d", i), kinds[i%len(kinds)])); err != nil {
			t.Fatal(err)
		}
	}
	w.waitFor(time.Minute, "replica-a writing", func(context.Context) (bool, string) {
		return recA.since(time.Time{}) > before, "no new write yet"
	})
	if err := syscall.Kill(a.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	w.waitFor(2*time.Minute, "replica-b leads", func(context.Context) (bool, string) { return leads(b), "no lease yet" })
	takeover := time.Since(frozen)
	time.Sleep(2 * time.Second) // the new leader at work
	thawed := time.Now()
	if err := syscall.Kill(a.PID(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Give the old leader's in-flight work every chance to write.
	exitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	code, exitErr := a.Wait(exitCtx)
	cancel()
	stepped := "no"
	if exitErr == nil {
		stepped = fmt.Sprintf("exit %d", code)
	}
	time.Sleep(5 * time.Second)
	stale := recA.since(thawed)
	env.Fake.SetLatency("", 50*time.Millisecond)
	took, st := w.converge(size(20*time.Minute, 3*time.Minute), nil)
	fenced := strings.Count(a.Log(), "Stepping down")
	w.finish(&figures{name: "fencing", nodes: st.nodes, services: st.services, runFor: time.Since(runStart), converge: took, st: st,
		extra: []string{fmt.Sprintf("old_leader_writes_after_thaw=%d takeover=%s old_leader_stepped_down=%q fence_refusals_logged=%d writes_by_new_leader=%d",
			stale, takeover.Round(time.Second), stepped, fenced, recB.since(time.Time{}))}})
	if stale != 0 {
		t.Errorf("the old leader made %d Compute writes after it was thawed, want 0", stale)
	}
}
