package loadbalancer_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
)

// TestInterruptedDeleteLeavesNothing is the regression test of issue 11's
// "leak on an interrupted delete", generalised: whatever part of a
// Service's load balancer an interrupted delete (or a crash in any order)
// left behind, GetLoadBalancer reports that the load balancer exists (the
// service controller calls EnsureLoadBalancerDeleted, and removes its
// finalizer, only then), and EnsureLoadBalancerDeleted then leaves nothing.
// The load balancer has every kind of resource a Service can own: two
// protocols (two forwarding rules and a kept address), Local traffic (its
// own health check and that check's firewall), the deny firewall. Each
// left-over set GCE allows (a rule needs its pool, a pool its health
// check) is tried, for a deleted Service and for one whose type changed
// away from LoadBalancer.
func TestInterruptedDeleteLeavesNothing(t *testing.T) {
	t.Parallel()
	for _, typeChange := range []bool{false, true} {
		t.Run(fmt.Sprintf("typeChange=%v", typeChange), func(t *testing.T) {
			t.Parallel()
			e := setup(t, withOptions(func(o *loadbalancer.Options) { o.DenyFirewall = true }))
			mk := func() *v1.Service {
				return service("web", func(s *v1.Service) {
					s.Spec.Ports = []v1.ServicePort{{Name: "tcp", Protocol: v1.ProtocolTCP, Port: 53}, {Name: "udp", Protocol: v1.ProtocolUDP, Port: 53}}
					s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
					s.Spec.HealthCheckNodePort = 30053
				})
			}
			// The resources, in an order in which they can be deleted.
			svc := mk()
			e.ensure(svc)
			all := e.names()
			var rules, fws []string
			rules = all["forwardingRules"]
			fws = all["firewalls"]
			if len(rules) != 2 || len(fws) != 3 || len(all["targetPools"]) != 1 || len(all["httpHealthChecks"]) != 1 || len(all["addresses"]) != 1 {
				t.Fatalf("the load balancer is not of the expected shape: %v", all)
			}
			e.delete(svc)

			// Left-over sets: any firewalls, the address or not, and a
			// dependency-closed part of rules -> pool -> health check.
			chains := [][]string{{}, {"hc"}, {"hc", "pool"}, {"hc", "pool", "rule0"}, {"hc", "pool", "rule1"}, {"hc", "pool", "rule0", "rule1"}}
			cases := 0
			for fwMask := range 8 {
				for _, addr := range []bool{false, true} {
					for _, chain := range chains {
						left := slices.Clone(chain)
						for i := range 3 {
							if fwMask&(1<<i) != 0 {
								left = append(left, fmt.Sprintf("fw%d", i))
							}
						}
						if addr {
							left = append(left, "address")
						}
						if len(left) == 0 {
							continue
						}
						cases++
						svc := mk()
						e.ensure(svc)
						have := e.names()
						name := func(r string) string {
							switch {
							case r == "hc":
								return have["httpHealthChecks"][0]
							case r == "pool":
								return have["targetPools"][0]
							case r == "address":
								return have["addresses"][0]
							case strings.HasPrefix(r, "rule"):
								return have["forwardingRules"][r[4]-'0']
							default:
								return have["firewalls"][r[2]-'0']
							}
						}
						del := func(r string) {
							if slices.Contains(left, r) {
								return
							}
							var err error
							switch {
							case r == "hc":
								err = e.cloud.DeleteHTTPHealthCheck(e.ctx, name(r))
							case r == "pool":
								err = e.cloud.DeleteTargetPool(e.ctx, name(r))
							case r == "address":
								err = e.cloud.DeleteAddress(e.ctx, name(r))
							case strings.HasPrefix(r, "rule"):
								err = e.cloud.DeleteForwardingRule(e.ctx, name(r))
							default:
								err = e.cloud.DeleteFirewall(e.ctx, name(r))
							}
							if err != nil {
								t.Fatalf("left %v: delete %s: %v", left, r, err)
							}
						}
						for _, r := range []string{"fw0", "fw1", "fw2", "rule0", "rule1", "address", "pool", "hc"} {
							del(r)
						}
						if typeChange {
							svc.Spec.Type = v1.ServiceTypeClusterIP
							svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort = 0, 0
							svc.Spec.HealthCheckNodePort = 0
							svc.Spec.ExternalTrafficPolicy = ""
						}
						_, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc)
						if err != nil || !exists {
							t.Errorf("left %v: GetLoadBalancer = exists %v, %v; want exists", left, exists, err)
						}
						e.delete(svc)
						if got := e.names(); len(got) != 0 {
							t.Errorf("left %v: EnsureLoadBalancerDeleted left %v", left, got)
						}
						if _, exists, err := e.lb.GetLoadBalancer(e.ctx, cluster, svc); err != nil || exists {
							t.Errorf("left %v: after the delete GetLoadBalancer = exists %v, %v", left, exists, err)
						}
					}
				}
			}
			t.Logf("%d left-over sets", cases)
		})
	}
}
