package loadbalancer

import (
	"encoding/json"
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// Every GCE name and description this package writes is built here. They
// are those of the long-standing Kubernetes GCE provider, byte for byte, so
// that gce-ccm adopts the load balancers it made instead of recreating them.

// loadBalancerName is the name of a service's address, target pool and
// primary forwarding rule: "a" and the service UID without dashes, cut to
// 32 characters.
func loadBalancerName(svc *v1.Service) string {
	return cloudprovider.DefaultLoadBalancerName(svc)
}

// forwardingRuleName is the name of a rule that does not hold the primary
// name: a Service with both TCP and UDP needs a rule per protocol.
func forwardingRuleName(lbName string, proto v1.Protocol) string {
	return lbName + "-" + strings.ToLower(string(proto))
}

// forwardingRuleNames are all the names a service's forwarding rules may have.
func forwardingRuleNames(lbName string) []string {
	return []string{lbName, forwardingRuleName(lbName, v1.ProtocolTCP), forwardingRuleName(lbName, v1.ProtocolUDP)}
}

// alternateTargetPoolName is where a replacement target pool is built when
// the pool's fixed settings (session affinity) change, so that the
// forwarding rules move to it with setTarget and never stop serving.
func alternateTargetPoolName(lbName string) string { return lbName + "-alt" }

// targetPoolNames are all the names a service's target pool may have.
func targetPoolNames(lbName string) []string {
	return []string{lbName, alternateTargetPoolName(lbName)}
}

// firewallName is the rule that lets clients reach the service's ports.
func firewallName(lbName string) string { return "k8s-fw-" + lbName }

// denyFirewallName is the rule that, with Options.DenyFirewall, denies all
// other traffic to the load balancer's IP.
func denyFirewallName(lbName string) string { return firewallName(lbName) + "-deny" }

// nodesHealthCheckName is the health check that every externalTrafficPolicy
// Cluster service of the cluster shares (kube-proxy's /healthz).
func nodesHealthCheckName(clusterID string) string { return "k8s-" + clusterID + "-node" }

// nodesHealthCheckFirewallName lets Google's probers reach kube-proxy.
func nodesHealthCheckFirewallName(clusterID string) string {
	return nodesHealthCheckName(clusterID) + "-http-hc"
}

// localHealthCheckName is the health check of an externalTrafficPolicy
// Local service, on its healthCheckNodePort.
func localHealthCheckName(lbName string) string { return lbName }

// localHealthCheckFirewallName lets Google's probers reach the service's
// healthCheckNodePort.
func localHealthCheckFirewallName(lbName string) string { return "k8s-" + lbName + "-http-hc" }

// serviceKey is "namespace/name", the value of the ownership marker.
func serviceKey(svc *v1.Service) string { return svc.Namespace + "/" + svc.Name }

// Description keys.
const (
	serviceNameKey = "kubernetes.io/service-name"
	serviceIPKey   = "kubernetes.io/service-ip"
	clusterIDKey   = "kubernetes.io/cluster-id"
)

// serviceDescription marks the address, target pool and forwarding rules.
func serviceDescription(key string) string {
	return fmt.Sprintf(`{"%s":"%s"}`, serviceNameKey, key)
}

// firewallDescription marks the service's firewall and its local health
// check firewall.
func firewallDescription(key, ip string) string {
	return fmt.Sprintf(`{"%s":"%s", "%s":"%s"}`, serviceNameKey, key, serviceIPKey, ip)
}

// healthCheckDescription marks a health check with its own name, as the
// long-standing provider does: the load balancer name for a local check,
// k8s-<cluster-id>-node for the shared one.
func healthCheckDescription(hcName string) string {
	return fmt.Sprintf(`{"%s":"%s"}`, serviceNameKey, hcName)
}

// nodesHealthCheckFirewallDescription marks the shared health check firewall.
func nodesHealthCheckFirewallDescription(clusterID string) string {
	return fmt.Sprintf(`{"%s":"%s"}`, clusterIDKey, clusterID)
}

// descriptionValue returns a key of a JSON description, "" when the
// description is not such JSON.
func descriptionValue(description, key string) string {
	var m map[string]any
	if json.Unmarshal([]byte(description), &m) != nil {
		return ""
	}
	s, _ := m[key].(string)
	return s
}

// Resource URLs. GCE answers with full selfLinks; compare links with
// sameResource, which ignores the host.

func instanceURL(project, zone, name string) string {
	return gce.SelfLinkPrefix + "projects/" + project + "/zones/" + zone + "/instances/" + name
}

func targetPoolURL(project, region, name string) string {
	return gce.SelfLinkPrefix + "projects/" + project + "/regions/" + region + "/targetPools/" + name
}

func healthCheckURL(project, name string) string {
	return gce.SelfLinkPrefix + "projects/" + project + "/global/httpHealthChecks/" + name
}

// sameResource compares two resource URLs by their path from projects/ on.
func sameResource(a, b string) bool { return resourcePath(a) == resourcePath(b) }

func resourcePath(s string) string {
	if i := strings.Index(s, "projects/"); i >= 0 {
		return s[i:]
	}
	return s
}
