package routes

import (
	"net/netip"
	"strings"
)

// Names and markers of pod routes, compatible with the long-standing
// Kubernetes GCE provider so that gce-ccm adopts the routes it made.
const (
	// Description marks a route as a Kubernetes pod route.
	Description = "k8s-node-route"
	// clusterPrefixLen is how much of the cluster name starts a route name.
	clusterPrefixLen = 26
)

// namePrefix starts the name of every route of the cluster.
func namePrefix(clusterName string) string {
	if len(clusterName) > clusterPrefixLen {
		clusterName = clusterName[:clusterPrefixLen]
	}
	return clusterName + "-"
}

// routeName names the route of one pod CIDR of a node. nameHint is the
// node's UID. An IPv4 CIDR gets <cluster>-<uid>, the long-standing
// provider's name; an IPv6 CIDR (the second range of a dual-stack node) gets
// <cluster>-<uid without dashes>-v6, which stays within GCE's 63 characters
// and cannot collide with the IPv4 name.
func routeName(clusterName, nameHint string, cidr netip.Prefix) string {
	if cidr.Addr().Is4() {
		return namePrefix(clusterName) + nameHint
	}
	return namePrefix(clusterName) + strings.ReplaceAll(nameHint, "-", "") + "-v6"
}
