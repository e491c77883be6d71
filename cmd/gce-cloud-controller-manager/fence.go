package main

import (
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/net"
	restclient "k8s.io/client-go/rest"
	"k8s.io/cloud-provider/app/config"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// leaseFence returns the fence every Compute write must pass when the
// manager runs under leader election, nil without it.
//
// The upstream command builds its resource lock itself from c.Kubeconfig
// and offers no hook that reports renewals, so the fence learns them from
// the wire: a transport wrapper on c.Kubeconfig (which the lock's client is
// built from, after the cloud initializer runs) records the start time of
// every successful write of the leader lease: a PUT of
// .../namespaces/<ns>/leases/<name> (a renewal or a takeover) or a POST to
// .../namespaces/<ns>/leases by the leader-election client (the first
// acquisition). Only the holder can write the lease (updates carry its
// resourceVersion), so a successful write means this process held it when
// the request was sent. The start time is conservative: the other replicas
// measure the lease from when they observed that write, later still.
//
// Writes are allowed for the renew deadline after a renewal: shorter than
// the lease duration, so a write that passes the fence reaches GCE before
// another replica may take over unless it is in flight for longer than the
// difference (5 s by default). A refused write steps down as losing the
// lease does upstream: the process exits and is restarted as a follower.
func leaseFence(c *config.CompletedConfig) gce.WriteFence {
	le := c.ComponentConfig.Generic.LeaderElection
	if !le.LeaderElect {
		return nil
	}
	f := &gce.LeaseFence{Valid: le.RenewDeadline.Duration, StepDown: stepDown}
	observeLeaseWrites(c.Kubeconfig, le.ResourceNamespace, le.ResourceName, f.Renewed)
	klog.InfoS("Compute writes fenced by the leader lease", "lease", le.ResourceNamespace+"/"+le.ResourceName,
		"validAfterRenewal", f.Valid)
	return f
}

func stepDown(err error) {
	klog.ErrorS(err, "Stepping down: a Compute write was refused because the leader lease may have passed to another replica")
	klog.FlushAndExit(klog.ExitFlushTimeout, 1)
}

// observeLeaseWrites wraps the transport of the clients built from cfg from
// now on so that renewed is called with the send time of each successful
// write of the lease ns/name.
func observeLeaseWrites(cfg *restclient.Config, ns, name string, renewed func(time.Time)) {
	collection := "/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases"
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &leaseObserver{rt: rt, collection: collection, object: collection + "/" + name, renewed: renewed}
	})
}

type leaseObserver struct {
	rt                 http.RoundTripper
	collection, object string
	renewed            func(time.Time)
}

func (o *leaseObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := o.rt.RoundTrip(req)
	if err == nil && resp.StatusCode/100 == 2 && o.isLeaseWrite(req) {
		o.renewed(start)
	}
	return resp, err
}

func (o *leaseObserver) isLeaseWrite(req *http.Request) bool {
	path := strings.TrimSuffix(req.URL.Path, "/")
	switch req.Method {
	case http.MethodPut:
		return path == o.object
	case http.MethodPost:
		// The body names the lease but may be protobuf; the leader-election
		// client creates no lease but its own in this namespace (with leader
		// migration on, also the migration lock, created only while this
		// process holds the main lease).
		return path == o.collection && strings.Contains(req.UserAgent(), "leader-election")
	}
	return false
}

// WrappedRoundTripper lets client-go's debugging see through the wrapper.
func (o *leaseObserver) WrappedRoundTripper() http.RoundTripper { return o.rt }

var _ net.RoundTripperWrapper = (*leaseObserver)(nil)
