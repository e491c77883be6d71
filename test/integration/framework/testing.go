package framework

import (
	"os"
	"testing"
)

// StartControlPlaneForTest starts a control plane for t and stops it in
// t.Cleanup. It fails t, rather than skipping it, when the binaries are
// missing, so that a run without them cannot pass unnoticed. When t fails,
// the end of both process logs is logged.
func StartControlPlaneForTest(t testing.TB, opts Options) *ControlPlane {
	t.Helper()
	cp, err := StartControlPlane(t.Context(), opts)
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range []*process{cp.apiserver, cp.etcd} {
				log, err := os.ReadFile(p.logPath)
				if err != nil {
					continue // already stopped and removed by the test
				}
				t.Logf("last lines of %s:\n%s", p.logPath, tail(log, 30, 4096))
			}
		}
		if err := cp.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
		if opts.KeepDir {
			t.Logf("control plane working directory kept: %s", cp.Dir)
		}
	})
	return cp
}
