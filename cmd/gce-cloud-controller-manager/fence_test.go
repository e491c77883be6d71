package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	restclient "k8s.io/client-go/rest"
)

// TestObserveLeaseWrites: only a successful PUT of the lease, or a POST to
// its namespace's leases by the leader-election client, counts as a
// renewal, with the time the request was sent.
func TestObserveLeaseWrites(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "conflict") || r.Header.Get("X-Fail") != "" {
			w.WriteHeader(http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	cfg := &restclient.Config{Host: srv.URL}
	var renewals []time.Time
	observeLeaseWrites(cfg, "kube-system", "cloud-controller-manager", func(at time.Time) { renewals = append(renewals, at) })
	rt, err := restclient.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const leases = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
	for _, tc := range []struct {
		name, method, path, agent string
		fail                      bool
		want                      bool
	}{
		{name: "renewal", method: http.MethodPut, path: leases + "/cloud-controller-manager", want: true},
		{name: "acquisition", method: http.MethodPost, path: leases, agent: "gce-cloud-controller-manager/v1 leader-election", want: true},
		{name: "failed renewal", method: http.MethodPut, path: leases + "/cloud-controller-manager", fail: true},
		{name: "read", method: http.MethodGet, path: leases + "/cloud-controller-manager"},
		{name: "another lease", method: http.MethodPut, path: leases + "/other"},
		{name: "another namespace", method: http.MethodPut, path: "/apis/coordination.k8s.io/v1/namespaces/default/leases/cloud-controller-manager"},
		{name: "a create by another client", method: http.MethodPost, path: leases, agent: "gce-ccm-service-controller"},
		{name: "a service write", method: http.MethodPut, path: "/api/v1/namespaces/kube-system/services/cloud-controller-manager"},
	} {
		renewals = nil
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", tc.agent)
		if tc.fail {
			req.Header.Set("X-Fail", "1")
		}
		before := time.Now()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		switch {
		case tc.want && len(renewals) != 1:
			t.Errorf("%s: renewals = %d, want 1", tc.name, len(renewals))
		case tc.want && renewals[0].Before(before):
			t.Errorf("%s: renewal recorded at %v, before the request was made (%v)", tc.name, renewals[0], before)
		case !tc.want && len(renewals) != 0:
			t.Errorf("%s: counted as a renewal", tc.name)
		}
	}
}
