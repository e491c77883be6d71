package loadbalancer_test

import (
	"fmt"
	"sync"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// TestFaultsConverge: with a fraction of calls failing in every way the
// fake knows, and a server-side write rate limit below what the client
// sends, several services converge, keep their IPs, and delete cleanly.
func TestFaultsConverge(t *testing.T) {
	t.Parallel()
	e := setup(t, withVMs(5))
	var svcs []*v1.Service
	for i := range 8 {
		svcs = append(svcs, service(fmt.Sprintf("svc-%d", i), func(s *v1.Service) {
			if i%2 == 1 {
				s.Spec.ExternalTrafficPolicy, s.Spec.HealthCheckNodePort = v1.ServiceExternalTrafficPolicyLocal, int32(30000+i)
			}
			if i%3 == 0 {
				s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: "dns", Protocol: v1.ProtocolUDP, Port: 53})
			}
			if i%4 == 2 {
				s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			}
		}))
	}
	faults := func() {
		for _, f := range []fakecompute.Fault{
			{Method: "*", Fraction: 0.10},
			{Method: "*", Fraction: 0.05, Mode: fakecompute.FaultOperation},
			{Method: "*", Fraction: 0.03, Mode: fakecompute.FaultDrop},
		} {
			if err := e.fake.InjectFault(f); err != nil {
				t.Fatal(err)
			}
		}
		e.fake.SetWriteRateLimit(40, 10)
	}
	calm := func() {
		e.fake.ClearFaults()
		e.fake.SetWriteRateLimit(0, 0)
	}
	retry := func(what string, fn func() error) error {
		var err error
		for range 40 {
			if err = fn(); err == nil {
				return nil
			}
		}
		return fmt.Errorf("%s did not converge in 40 tries: %w", what, err)
	}
	forAll := func(fn func(i int, s *v1.Service) error) {
		t.Helper()
		errs := make([]error, len(svcs))
		var wg sync.WaitGroup
		for i, s := range svcs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = fn(i, s)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	faults()
	ips := make([]string, len(svcs))
	forAll(func(i int, s *v1.Service) error {
		return retry("ensure "+s.Name, func() error {
			st, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, s, e.nodes)
			if err == nil {
				ips[i] = st.Ingress[0].IP
			}
			return err
		})
	})
	// A change under faults converges without losing the IP.
	forAll(func(i int, s *v1.Service) error {
		s.Spec.Ports[0].Port = 8080
		return retry("change "+s.Name, func() error {
			st, err := e.lb.EnsureLoadBalancer(e.ctx, cluster, s, e.nodes)
			if err == nil && st.Ingress[0].IP != ips[i] {
				return fmt.Errorf("%s: IP changed from %s to %s", s.Name, ips[i], st.Ingress[0].IP)
			}
			return err
		})
	})
	calm()
	for i, s := range svcs {
		e.expectNoWrites(s, ips[i])
	}

	faults()
	forAll(func(_ int, s *v1.Service) error {
		return retry("delete "+s.Name, func() error { return e.lb.EnsureLoadBalancerDeleted(e.ctx, cluster, s) })
	})
	calm()
	if n := e.names(); len(n) != 0 {
		t.Errorf("left after deleting every service: %v", n)
	}
	failed := map[string]int{}
	for _, results := range e.fake.Calls() {
		for result, n := range results {
			if result != "ok" {
				failed[result] += n
			}
		}
	}
	if failed["backendError"] == 0 || failed["dropped"] == 0 || failed["rateLimitExceeded"] == 0 {
		t.Errorf("failures seen = %v, want injected errors, drops and rate limiting", failed)
	}
	t.Logf("failures the load balancers converged through: %v", failed)
}
