package fakecompute_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	gce "google.golang.org/api/compute/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestConcurrency hammers one fake from many goroutines with both clients
// (run it with -race) and checks that every resource ends as expected.
func TestConcurrency(t *testing.T) {
	e := newEnv(t, fakecompute.Config{})
	const workers, routesEach = 8, 20
	// Deletes stay RUNNING briefly so that timers end operations while
	// other requests are served.
	e.srv.SetLatency("routes.delete", 20*time.Millisecond)
	var vms []string
	for w := range workers {
		vms = append(vms, fmt.Sprintf("node-%d", w))
	}
	e.seedVMs(t, zoneA, vms...)
	if err := e.insertPool(t, "compute/v1", &gce.TargetPool{Name: "shared"}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.old.Routes.List(project).Filter(`name eq "w.*"`).Context(e.ctx).Do(); err != nil {
					t.Errorf("list while writing: %v", err)
					return
				}
				if _, err := e.getPool(t, "apiv1", "shared"); err != nil {
					t.Errorf("get while writing: %v", err)
					return
				}
			}
		})
	}

	var writers sync.WaitGroup
	for w := range workers {
		client := clientNames[w%2]
		writers.Go(func() {
			for i := range routesEach {
				r := nodeRoute(fmt.Sprintf("w%d-r%02d", w, i), fmt.Sprintf("10.%d.%d.0/24", w, i), vms[w])
				if err := e.insertRoute(t, client, r); err != nil {
					t.Errorf("insert %s: %v", r.Name, err)
				}
			}
			for i := 1; i < routesEach; i += 2 {
				var err error
				name := fmt.Sprintf("w%d-r%02d", w, i)
				if client == "apiv1" {
					op, derr := e.v1.routes.Delete(e.ctx, &computepb.DeleteRouteRequest{Project: project, Route: name})
					err = e.waitV1(op, derr)
				} else {
					err = e.doOld(e.old.Routes.Delete(project, name).Context(e.ctx).Do())
				}
				if err != nil {
					t.Errorf("delete %s: %v", name, err)
				}
			}
			if err := e.insertAddress(t, client, &gce.Address{Name: fmt.Sprintf("w%d-a", w)}); err != nil {
				t.Errorf("insert address: %v", err)
			}
			if err := e.addInstances(client, "shared", instanceLink(zoneA, vms[w])); err != nil {
				t.Errorf("addInstance %s: %v", vms[w], err)
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()

	d := e.srv.Dump()
	var wantRoutes, gotRoutes, wantAddrs, gotAddrs, wantPool []string
	for w := range workers {
		for i := 0; i < routesEach; i += 2 {
			wantRoutes = append(wantRoutes, fmt.Sprintf("w%d-r%02d", w, i))
		}
		wantAddrs = append(wantAddrs, fmt.Sprintf("w%d-a", w))
		wantPool = append(wantPool, instanceLink(zoneA, vms[w]))
	}
	for _, r := range d.Routes {
		gotRoutes = append(gotRoutes, r.Name)
	}
	ips := map[string]bool{}
	for _, a := range d.Addresses {
		gotAddrs = append(gotAddrs, a.Name)
		if ips[a.Address] {
			t.Errorf("address %s handed out twice", a.Address)
		}
		ips[a.Address] = true
	}
	if diff := cmp.Diff(wantRoutes, gotRoutes); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAddrs, gotAddrs); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	pool := d.TargetPools[0].Instances
	slices.Sort(pool)
	if diff := cmp.Diff(wantPool, pool); diff != "" {
		t.Errorf("shared pool instances (-want +got):\n%s", diff)
	}
	calls := e.srv.Calls()
	if got := calls["routes.insert"]; !cmp.Equal(got, map[string]int{"ok": workers * routesEach}) {
		t.Errorf("routes.insert calls = %v", got)
	}
}
