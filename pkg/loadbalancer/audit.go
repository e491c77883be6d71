package loadbalancer

import (
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
)

// What pkg/audit reads to tell a load balancer resource that a Service
// accounts for from a leaked one: the names and ownership checks of this
// package, so that the audit decides as the controller does.

// Name is the name of a Service's load balancer (its address, target pool
// and primary forwarding rule).
func Name(svc *v1.Service) string { return loadBalancerName(svc) }

// ResourceNames are every name a load balancer's resources may have.
type ResourceNames struct {
	ForwardingRules []string // the primary name, then one per protocol
	TargetPools     []string // the name, then the alternate a pool change builds
	Address         string
	Firewall        string
	DenyFirewall    string
	// LocalHealthCheck and LocalHealthCheckFirewall exist for
	// externalTrafficPolicy Local.
	LocalHealthCheck         string
	LocalHealthCheckFirewall string
	// An internal load balancer's own backend service and, for
	// externalTrafficPolicy Local, its own health check (healthChecks API)
	// and that check's firewall. Its client firewall is Firewall.
	BackendService              string
	InternalHealthCheck         string
	InternalHealthCheckFirewall string
}

// NamesOf returns the names of load balancer lbName's resources.
func NamesOf(lbName string) ResourceNames {
	return ResourceNames{
		ForwardingRules:          forwardingRuleNames(lbName),
		TargetPools:              targetPoolNames(lbName),
		Address:                  lbName,
		Firewall:                 firewallName(lbName),
		DenyFirewall:             denyFirewallName(lbName),
		LocalHealthCheck:         localHealthCheckName(lbName),
		LocalHealthCheckFirewall: localHealthCheckFirewallName(lbName),

		BackendService:              backendServiceName(lbName, "", false, nil, ""),
		InternalHealthCheck:         internalHealthCheckName(lbName, "", false),
		InternalHealthCheckFirewall: internalHealthCheckFirewallName(internalHealthCheckName(lbName, "", false)),
	}
}

// InstanceGroupName is the cluster's instance group in each zone, which its
// internal load balancers share.
func InstanceGroupName(clusterID string) string { return instanceGroupName(clusterID) }

// IsSharedBackendServiceName reports whether name is one of the cluster's
// shared backend service names.
func IsSharedBackendServiceName(name, clusterID string) bool {
	return isSharedBackendServiceName(name, clusterID)
}

// InternalHealthCheckFirewallName is the firewall of an internal load
// balancer's health check hcName (the shared k8s-<cluster-id>-node or its
// own).
func InternalHealthCheckFirewallName(hcName string) string {
	return internalHealthCheckFirewallName(hcName)
}

// OwnedInternalHealthCheck is the ownership check of an internal load
// balancer's health check: a Service's own names the Service, the shared
// one carries no description.
func OwnedInternalHealthCheck(description, key string, shared bool) bool {
	return ownedInternalHealthCheck(description, key, shared)
}

// OwnedInternalHealthCheckFirewall is the ownership check of the firewall of
// an internal load balancer's health check (no description).
func OwnedInternalHealthCheckFirewall(description string) bool {
	return ownedHealthCheckFirewall(description)
}

// OwnedSharedBackendService is the ownership check of a shared backend
// service: one of the cluster's names and no description.
func OwnedSharedBackendService(bs *computepb.BackendService, clusterID string) bool {
	return isSharedBackendServiceName(bs.GetName(), clusterID) && bs.GetDescription() == ""
}

// SharesBackendService reports whether an internal Service asks for a
// shared backend service.
func SharesBackendService(svc *v1.Service) bool {
	sp, err := parseInternalService(svc)
	return err == nil && sp.shareBackend
}

// ForwardingRuleNameFor is the name of the rule of a protocol that does not
// hold the primary name.
func ForwardingRuleNameFor(lbName string, proto v1.Protocol) string {
	return forwardingRuleName(lbName, proto)
}

// NodesHealthCheckName is the cluster's shared node health check.
func NodesHealthCheckName(clusterID string) string { return nodesHealthCheckName(clusterID) }

// NodesHealthCheckFirewallName is the firewall of the shared node health
// check.
func NodesHealthCheckFirewallName(clusterID string) string {
	return nodesHealthCheckFirewallName(clusterID)
}

// ServiceKey is "namespace/name", the value of the ownership marker.
func ServiceKey(svc *v1.Service) string { return serviceKey(svc) }

// MarkedService is the Service ("namespace/name") a description names, ""
// when it names none.
func MarkedService(description string) string { return descriptionValue(description, serviceNameKey) }

// MarkedClusterID is the cluster id a description names, "" when it names
// none.
func MarkedClusterID(description string) string { return descriptionValue(description, clusterIDKey) }

// OwnedByService is the ownership check of a Service's address, target
// pool, forwarding rules and firewalls.
func OwnedByService(description, key string) bool { return ownedByService(description, key) }

// OwnedLocalHealthCheck is the ownership check of an externalTrafficPolicy
// Local health check.
func OwnedLocalHealthCheck(description, lbName, key string) bool {
	return ownedLocalHealthCheck(description, lbName, key)
}

// OwnedNodesHealthCheck is the ownership check of the shared node health
// check.
func OwnedNodesHealthCheck(description, clusterID string) bool {
	return ownedNodesHealthCheck(description, clusterID)
}

// OwnedNodesHealthCheckFirewall is the ownership check of the shared node
// health check's firewall.
func OwnedNodesHealthCheckFirewall(description, clusterID string) bool {
	return ownedNodesHealthCheckFirewall(description, clusterID)
}

// HealthCheckURL is the URL of a legacy HTTP health check, as target pools
// name it.
func HealthCheckURL(project, name string) string { return healthCheckURL(project, name) }

// SameResource compares two resource URLs by their path from projects/ on.
func SameResource(a, b string) bool { return sameResource(a, b) }

// Builds reports whether gce-ccm builds a Service's load balancer (an
// external network load balancer with a target pool, or an internal
// passthrough one). When it does not, why says who does. A Service with an
// annotation gce-ccm cannot read still has an external load balancer.
func Builds(svc *v1.Service) (ok bool, why string) {
	k, _ := serviceKind(svc)
	switch k {
	case kindForeignClass:
		return false, "has loadBalancerClass " + *serviceClass(svc) + ", another controller's"
	case kindRBS:
		return false, "is GKE's backend-service load balancer controller's"
	}
	return true, ""
}

// WantsInternal reports whether a Service asks for an internal load
// balancer (so that its external one, if any, must go; and the other way
// round).
func WantsInternal(svc *v1.Service) bool {
	k, _ := serviceKind(svc)
	return k == kindInternal
}

// ForeignRule reports whether a forwarding rule is of neither kind this
// package builds (an external rule with a target pool, an INTERNAL one),
// and so another controller's even when it has a load balancer's name.
func ForeignRule(fr *computepb.ForwardingRule) bool {
	return !targetPoolRule(fr) && !InternalRule(fr)
}

// InternalRule reports whether a forwarding rule is an internal load
// balancer's.
func InternalRule(fr *computepb.ForwardingRule) bool {
	return fr.GetLoadBalancingScheme() == "INTERNAL"
}

// NodeTagOf is the tag the firewalls target on a node VM when gce.conf sets
// no node-tags: its longest tag that is a prefix of its name, "" when none
// is.
func NodeTagOf(inst *computepb.Instance) string {
	tag := ""
	for _, t := range inst.GetTags().GetItems() {
		if strings.HasPrefix(inst.GetName(), t) && len(t) > len(tag) {
			tag = t
		}
	}
	return tag
}
