package routes

import (
	"net/netip"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// What pkg/audit reads to decide which routes are the cluster's, with the
// route controller's own check and names.

// NamePrefix starts the name of every route of the cluster.
func NamePrefix(clusterName string) string { return namePrefix(clusterName) }

// Owned is the route controller's ownership check: the cluster's name
// prefix, the pod route description and the cluster's network.
func Owned(gr *computepb.Route, clusterName, networkURL string) bool {
	return (&Routes{networkURL: networkURL}).owned(gr, namePrefix(clusterName))
}

// RouteName is the name of the route of one pod CIDR of the node with UID
// nodeUID.
func RouteName(clusterName, nodeUID string, cidr netip.Prefix) string {
	return routeName(clusterName, nodeUID, cidr)
}
