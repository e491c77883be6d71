package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Internal load balancers (I1, I2).
//
// Writes of the model: per cluster, an instance group and its members in
// each zone with nodes, the shared health check and its firewall; per
// Service, the backend service, the forwarding rule and its firewall. The
// longest chain of dependent writes is the group, its members, the backend
// service over it, the rule to the backend service, and the firewall that
// names the rule's IP.
const ilbChain = 5

// ilbWrites is K for count internal Services in a cluster of nodes nodes.
func ilbWrites(nodes, count int) int {
	zonesWithNodes := min(nodes, len(zones))
	return 2*zonesWithNodes + 2 + 3*count
}

// createInternalServices creates Services annotated Internal.
func (w *world) createInternalServices(ctx context.Context, from, to int) error {
	return parallel(ctx, to-from, createWorkers, func(ctx context.Context, k int) error {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ilb-%04d", from+k), Namespace: serviceNamespace,
				Annotations: map[string]string{"networking.gke.io/load-balancer-type": "Internal"}},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeLoadBalancer,
				Selector: map[string]string{"app": "bench"},
				Ports:    []corev1.ServicePort{{Name: "db", Protocol: corev1.ProtocolTCP, Port: 5432, TargetPort: intstr.FromInt32(5432)}},
			},
		}
		if _, err := w.admin.CoreV1().Services(serviceNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create service %s: %w", s.Name, err)
		}
		return nil
	})
}

// runInternalServices: count internal Services are created at once in a
// cluster of lbNodes nodes; done when every one has an IP.
func runInternalServices(ctx context.Context, c *config, name string, count int) (*result, error) {
	nodes := lbNodes(c)
	w, err := startWorld(ctx, c, name, worldOpts{vms: nodes})
	if err != nil {
		return nil, err
	}
	defer w.stop()
	if err := w.createNodes(ctx, 0, nodes); err != nil {
		return nil, err
	}
	if err := w.waitNodes(ctx, nodes, false, 3*time.Minute); err != nil {
		return nil, err
	}
	k := ilbWrites(nodes, count)
	r := &result{Scenario: name, Nodes: nodes, Services: count}
	r.BoundSeconds = max(writeBound(k, c), ilbChain*c.latency.Seconds())
	r.Bound = fmt.Sprintf("max((K-B)/Q + L, %dL), K=%d writes", ilbChain, k)
	if count == 1 {
		r.Target = "<=1.2x (6 L)"
	} else {
		r.Target = "<=1.5x"
	}

	w.resetCalls()
	prof := startProfile(w, name, seconds(r.BoundSeconds*1.3))
	t0 := time.Now()
	if err := w.createInternalServices(ctx, 0, count); err != nil {
		return nil, err
	}
	err = w.waitServices(ctx, count, timeoutFor(r.BoundSeconds))
	r.Seconds = time.Since(t0).Seconds()
	prof.stop()
	if err != nil {
		return nil, fmt.Errorf("%w (manager log: %s)", err, w.mgr.LogPath)
	}
	if err := finish(w, r); err != nil {
		return nil, err
	}
	// listInstances and getHealth are reads sent with POST.
	for _, m := range []string{"instanceGroups.listInstances", "regionBackendServices.getHealth"} {
		for _, n := range r.Calls[m] {
			r.Writes -= n
			r.Reads += n
		}
	}
	if count == 1 {
		r.extra("timeInL", r.Seconds/c.latency.Seconds())
		r.Met = r.Ratio <= 1.2
	} else {
		r.Met = r.Ratio <= 1.5
	}
	r.extra("writesPerService", float64(r.Writes)/float64(count))
	if r.Writes > k {
		r.note("%d writes, the model's K is %d", r.Writes, k)
	}
	return r, nil
}
