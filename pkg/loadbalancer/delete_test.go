package loadbalancer_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestDelete: each deletion removes all of its service's resources and
// nothing of the others'; the shared health check goes with the last
// service using it; a user's address stays; a repeated delete writes
// nothing.
func TestDelete(t *testing.T) {
	t.Parallel()
	e := setup(t)
	user := reserve(t, e, "user-ip", "PREMIUM")
	a := service("a")
	b := service("b", func(s *v1.Service) {
		s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, 30100
		s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: "dns", Protocol: v1.ProtocolUDP, Port: 53})
	})
	c := service("c", func(s *v1.Service) { s.Spec.LoadBalancerIP = user })
	for _, s := range []*v1.Service{a, b, c} {
		e.ensure(s)
	}
	if got := e.ensure(c); got != user {
		t.Fatalf("c's IP = %s, want the user's %s", got, user)
	}

	e.delete(a)
	lb := lbName(a)
	for kind, ns := range e.names() {
		for _, n := range ns {
			if n == lb || n == "k8s-fw-"+lb {
				t.Errorf("%s %s left after deleting a", kind, n)
			}
		}
	}
	if !slices.Contains(e.names()["httpHealthChecks"], nodesHC) {
		t.Error("shared health check deleted while c uses it")
	}

	e.delete(b)
	e.delete(c)
	want := map[string][]string{"addresses": {"user-ip"}}
	if diff := cmp.Diff(want, e.names()); diff != "" {
		t.Errorf("resources left (-want +got):\n%s", diff)
	}
	for _, s := range []*v1.Service{a, b, c} {
		e.fake.ResetCalls()
		e.delete(s)
		if w := e.writes(); len(w) != 0 {
			t.Errorf("repeated delete of %s wrote %v", s.Name, w)
		}
		if _, exists, err := e.lb.GetLoadBalancer(e.ctx, "test-cluster", s); err != nil || exists {
			t.Errorf("GetLoadBalancer(%s) after delete = %v, %v", s.Name, exists, err)
		}
	}
}

// TestDeleteAfterFailedCreate: what a failed Ensure made is found and
// deleted.
func TestDeleteAfterFailedCreate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if err := e.fake.InjectFault(fakecompute.Fault{Method: "forwardingRules.insert", Count: 1, Mode: fakecompute.FaultOperation,
		Code: 403, Reason: "quotaExceeded", Message: "Quota 'FORWARDING_RULES' exceeded."}); err != nil {
		t.Fatal(err)
	}
	svc := service("web")
	if _, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, svc, e.nodes); err == nil {
		t.Fatal("Ensure succeeded despite the failed forwarding rule")
	}
	if _, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc); err != nil || !exists {
		t.Fatalf("GetLoadBalancer of a half-made load balancer = %v, %v", exists, err)
	}
	e.delete(svc)
	if n := e.names(); len(n) != 0 {
		t.Errorf("left %v", n)
	}
}

// TestDeleteRetryRemovesSharedFirewall: a delete that removed the shared
// health check but failed on its firewall removes the firewall when retried,
// although the check it belongs to is gone by then.
func TestDeleteRetryRemovesSharedFirewall(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := service("web")
	e.ensure(svc)
	if err := e.fake.InjectFault(fakecompute.Fault{Method: "firewalls.delete", Count: 8, Code: 500, Reason: "backendError"}); err != nil {
		t.Fatal(err)
	}
	if err := e.lb.EnsureLoadBalancerDeleted(e.ctx, cluster, svc); err == nil {
		t.Fatal("delete succeeded although every firewall delete failed")
	}
	e.fake.ClearFaults()
	if len(e.fake.Dump().HTTPHealthChecks) != 0 {
		t.Fatalf("the shared health check should be gone after the first delete: %v", e.fake.Dump().HTTPHealthChecks)
	}
	e.delete(svc)
	if fws := e.fake.Dump().Firewalls; len(fws) != 0 {
		var names []string
		for _, fw := range fws {
			names = append(names, fw.Name)
		}
		t.Errorf("firewalls left after the retried delete: %v", names)
	}
}
