package loadbalancer

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
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

// Internal load balancers. Their names and descriptions are those of the
// long-standing provider's gce_loadbalancer_naming.go, so that the internal
// load balancers it made are adopted as they are.

// instanceGroupName is the unmanaged instance group of the cluster's nodes
// in each zone, which every internal load balancer of the cluster shares
// (and GKE's ingress controller, under the same name).
func instanceGroupName(clusterID string) string { return "k8s-ig--" + clusterID }

// backendServiceName is the regional backend service of an internal load
// balancer: its own (the load balancer name), or with the backend-share
// annotation one that the cluster's Services of the same protocol and
// session affinity share. The shared name carries the first 16 hex digits
// of the SHA-1 of the Service's sessionAffinity as written (the only
// setting the long-standing provider hashes) and TCP when the Service has
// it, else its first protocol in alphabetical order.
func backendServiceName(lbName, clusterID string, shared bool, protocols []v1.Protocol, affinity v1.ServiceAffinity) string {
	if !shared {
		return lbName
	}
	sum := sha1.Sum([]byte(affinity))
	var names []string
	for _, p := range protocols {
		names = append(names, strings.ToLower(string(p)))
	}
	slices.Sort(names)
	proto := ""
	if slices.Contains(names, "tcp") {
		proto = "tcp"
	} else if len(names) > 0 {
		proto = names[0]
	}
	return fmt.Sprintf("k8s-%s-internal-%s-nmv1-%s", clusterID, proto, hex.EncodeToString(sum[:])[:16])
}

// backendServiceDescription names the Service; a shared backend service
// has none.
func backendServiceDescription(key string, shared bool) string {
	if shared {
		return ""
	}
	return serviceDescription(key)
}

// internalHealthCheckName is the health check (healthChecks API) of an
// internal load balancer: the cluster's shared k8s-<cluster-id>-node for
// externalTrafficPolicy Cluster, the load balancer's own for Local. (The
// legacy HTTP health checks of external load balancers have the same names
// in another collection.)
func internalHealthCheckName(lbName, clusterID string, shared bool) string {
	if shared {
		return nodesHealthCheckName(clusterID)
	}
	return lbName
}

// internalHealthCheckFirewallName lets Google's probers reach the port of
// an internal load balancer's health check: k8s-<cluster-id>-node-hc for
// the shared check, <lb name>-hc for a Service's own.
func internalHealthCheckFirewallName(hcName string) string { return hcName + "-hc" }

// internalHealthCheckDescription names the Service on its own health
// check; the shared one has none, as the long-standing provider makes it.
func internalHealthCheckDescription(key string, shared bool) string {
	if shared {
		return ""
	}
	return healthCheckDescription(key)
}

func instanceGroupURL(project, zone, name string) string {
	return gce.SelfLinkPrefix + "projects/" + project + "/zones/" + zone + "/instanceGroups/" + name
}

func backendServiceURL(project, region, name string) string {
	return gce.SelfLinkPrefix + "projects/" + project + "/regions/" + region + "/backendServices/" + name
}

// internalHealthCheckURL is a health check of the healthChecks API.
func internalHealthCheckURL(project, name string) string {
	return gce.SelfLinkPrefix + "projects/" + project + "/global/healthChecks/" + name
}

func subnetworkURL(project, region, name string) string {
	return gce.SelfLinkPrefix + "projects/" + project + "/regions/" + region + "/subnetworks/" + name
}
