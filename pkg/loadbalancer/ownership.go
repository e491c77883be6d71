package loadbalancer

import (
	"fmt"

	"github.com/gce-ccm/gce-ccm/pkg/quote"
)

// The ownership checks. A resource with one of our names that fails its
// check was made by someone else: it is never modified or deleted.

// ownedByService: the address, target pool, forwarding rules, the service's
// firewall and its local health check firewall name the service.
func ownedByService(description, key string) bool {
	return descriptionValue(description, serviceNameKey) == key
}

// ownedLocalHealthCheck: the long-standing provider marks a local health
// check with the load balancer name; the service's name is accepted too.
func ownedLocalHealthCheck(description, lbName, key string) bool {
	v := descriptionValue(description, serviceNameKey)
	return v == lbName || v == key
}

// ownedNodesHealthCheck: the shared check is marked with its own name, which
// holds the cluster id, or with the cluster id.
func ownedNodesHealthCheck(description, clusterID string) bool {
	return descriptionValue(description, serviceNameKey) == nodesHealthCheckName(clusterID) ||
		descriptionValue(description, clusterIDKey) == clusterID
}

// ownedNodesHealthCheckFirewall: the shared firewall names the cluster id.
func ownedNodesHealthCheckFirewall(description, clusterID string) bool {
	return descriptionValue(description, clusterIDKey) == clusterID
}

// ownershipError is a resource with our name that is not ours.
type ownershipError struct {
	kind, name, description, owner string
}

func (e *ownershipError) Error() string {
	return fmt.Sprintf("%s %s exists but does not belong to %s (its description is %s); gce-ccm does not modify or delete it. "+
		"Rename or delete it, or recreate the Service to get another name", e.kind, e.name, e.owner, quote.Value(e.description))
}

func notOwned(kind, name, description, owner string) error {
	return &ownershipError{kind: kind, name: name, description: description, owner: owner}
}
