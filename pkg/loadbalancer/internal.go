package loadbalancer

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// Internal passthrough load balancers, built as the long-standing
// provider's gce_loadbalancer_internal.go builds them so that its internal
// load balancers are adopted with no writes: per zone with nodes the
// cluster's shared instance group of the node VMs; a regional backend
// service (scheme INTERNAL) over those groups with a health check of the
// healthChecks API; a forwarding rule (scheme INTERNAL) in a subnetwork,
// whose IP is the load balancer's; a firewall for the clients and one for
// Google's health probers.
//
// One flow, as for the external load balancer: observe (observeInternal),
// decide (makeInternalPlan, pure), write what
// differs (applyInternal), then delete what the change left unused
// (cleanupInternal). Each resource kind has its own file: instancegroup.go,
// backendservice.go, internalhealthcheck.go, internalfirewall.go,
// internalrule.go (with the address that holds its IP); Service parsing in
// internalservice.go, names in naming.go, deletion in internaldelete.go.

// InternalCompute is what internal load balancers need beyond Compute.
// Instance groups are in the zones of the cluster's region, backend
// services and forwarding rules in its region, health checks global, all in
// the cluster's project; subnetworks in the network project.
type InternalCompute interface {
	GetForwardingRule(ctx context.Context, name string) (*computepb.ForwardingRule, error)
	PatchForwardingRule(ctx context.Context, fr *computepb.ForwardingRule) error

	GetSubnetwork(ctx context.Context, name string) (*computepb.Subnetwork, error)
	ListSubnetworks(ctx context.Context, filter string) ([]*computepb.Subnetwork, error)
	InstancesWithIP(ctx context.Context, ip string) ([]*computepb.Instance, error)

	ListInstanceGroups(ctx context.Context, filter string) ([]*computepb.InstanceGroup, error)
	InsertInstanceGroup(ctx context.Context, zone string, ig *computepb.InstanceGroup) error
	DeleteInstanceGroup(ctx context.Context, zone, name string) error
	ListInstanceGroupInstances(ctx context.Context, zone, name string) ([]string, error)
	AddInstancesToInstanceGroup(ctx context.Context, zone, name string, instances []string) error
	RemoveInstancesFromInstanceGroup(ctx context.Context, zone, name string, instances []string) error

	GetRegionBackendService(ctx context.Context, name string) (*computepb.BackendService, error)
	InsertRegionBackendService(ctx context.Context, bs *computepb.BackendService) error
	PatchRegionBackendService(ctx context.Context, bs *computepb.BackendService) error
	DeleteRegionBackendService(ctx context.Context, name string) error

	GetHealthCheck(ctx context.Context, name string) (*computepb.HealthCheck, error)
	InsertHealthCheck(ctx context.Context, hc *computepb.HealthCheck) error
	PatchHealthCheck(ctx context.Context, hc *computepb.HealthCheck) error
	DeleteHealthCheck(ctx context.Context, name string) error
}

// ilbLocks order the uses of the resources internal load balancers share
// (instance groups, the shared health check, shared backend services).
type ilbLocks struct {
	// shared is held for reading from a Service's first write until its
	// forwarding rule uses what it ensured, and for writing by a deletion
	// of shared resources (which GCE refuses while something uses them, but
	// not between one Service's check of them and its use).
	shared sync.RWMutex
	// groups serialises the writes of the instance groups' members.
	groups sync.Mutex
}

// ensureInternal converges the Service's internal load balancer and
// returns its IP. An external load balancer the Service had is deleted
// first, whatever else is wrong with the Service: it asks not to be public.
func (b *Balancer) ensureInternal(ctx context.Context, svc *v1.Service, nodes []*v1.Node) (string, error) {
	if err := b.leaveExternal(ctx, svc); err != nil {
		return "", err
	}
	sp, err := parseInternalService(svc)
	if err != nil {
		return "", err
	}
	clusterID, err := b.clusterID()
	if err != nil {
		return "", err
	}
	hosts, err := b.hosts(ctx, svc, nodesOfSubnet(nodes, lastSegment(b.opts.Subnetwork)))
	if err != nil {
		return "", err
	}
	tags, err := b.nodeTags(ctx, nodes)
	if err != nil {
		return "", err
	}
	o, err := b.observeInternal(ctx, sp, clusterID)
	if err != nil {
		return "", err
	}
	p, err := b.makeInternalPlan(sp, clusterID, o)
	if err != nil {
		return "", err
	}
	p.svc, p.hosts, p.tags = svc, hosts, tags
	// Before the first write, as the long-standing provider does.
	if err := b.addFinalizer(ctx, svc, ILBFinalizer); err != nil {
		return "", err
	}
	if err := b.applyInternal(ctx, p); err != nil {
		return "", err
	}
	if err := b.cleanupInternal(ctx, p); err != nil {
		return "", err
	}
	return p.ip, nil
}

// leaveExternal deletes the external load balancer of a Service that now
// asks for an internal one, and says so in an event. The firewall
// k8s-fw-<lb> is both kinds' and does not count.
func (b *Balancer) leaveExternal(ctx context.Context, svc *v1.Service) error {
	o, err := b.observe(ctx, &spec{key: serviceKey(svc), lbName: loadBalancerName(svc)}, "", false)
	if err != nil {
		return err
	}
	exists := len(o.rules) > 0 || len(o.pools) > 0 || o.address != nil || o.denyFW != nil || o.localHC != nil || o.localHCFW != nil
	if !exists && !slices.Contains(svc.Finalizers, NetLBFinalizer) {
		return nil
	}
	if exists {
		if _, err := b.ensureDeleted(ctx, svc); err != nil {
			return fmt.Errorf("delete the external load balancer of a Service that asks for an internal one: %w", err)
		}
	}
	if err := b.removeFinalizer(ctx, svc, NetLBFinalizer); err != nil {
		return err
	}
	if !exists {
		return nil
	}
	b.event(svc, v1.EventTypeNormal, "ExternalLoadBalancerDeleted",
		"Deleted the Service's external load balancer: the Service asks for an internal one, which replaces it")
	if b.opts.Status != nil && len(svc.Status.LoadBalancer.Ingress) > 0 {
		if err := b.opts.Status.ClearLoadBalancerStatus(ctx, svc); err != nil {
			klog.FromContext(ctx).Error(err, "Cannot clear the Service's load balancer status")
		}
	}
	return nil
}

// leaveInternal deletes the internal load balancer of a Service that now
// asks for an external one, and says so in an event. Only a Service with
// the internal finalizer can have one: gce-ccm and the long-standing
// provider add it before their first write.
func (b *Balancer) leaveInternal(ctx context.Context, svc *v1.Service) error {
	if !slices.Contains(svc.Finalizers, ILBFinalizer) {
		return nil
	}
	existed, err := b.ensureInternalDeleted(ctx, svc)
	if err != nil {
		return fmt.Errorf("delete the internal load balancer of a Service that asks for an external one: %w", err)
	}
	if err := b.removeFinalizer(ctx, svc, ILBFinalizer); err != nil {
		return err
	}
	if existed {
		b.event(svc, v1.EventTypeNormal, "InternalLoadBalancerDeleted",
			"Deleted the Service's internal load balancer: the Service asks for an external one, which replaces it")
	}
	return nil
}

// updateInternal brings the instance groups' members and the backend
// service's groups in line with nodes; nothing else changes.
func (b *Balancer) updateInternal(ctx context.Context, svc *v1.Service, nodes []*v1.Node) error {
	sp, err := parseInternalService(svc)
	if err != nil {
		return nil // EnsureLoadBalancer reports it
	}
	clusterID, err := b.clusterID()
	if err != nil {
		return err
	}
	hosts, err := b.hosts(ctx, svc, nodesOfSubnet(nodes, lastSegment(b.opts.Subnetwork)))
	if err != nil {
		return err
	}
	b.ilb.shared.RLock()
	defer b.ilb.shared.RUnlock()
	// Nothing to update before EnsureLoadBalancer has built it.
	name := backendServiceName(sp.lbName, clusterID, sp.shareBackend, sp.protocols(), sp.svcAffinity)
	bs, err := getOptional(ctx, b.api.GetRegionBackendService, name)
	if err != nil || bs == nil {
		return err
	}
	if !ownedBackendService(bs, sp, clusterID) {
		return notOwned("backend service", name, bs.GetDescription(), sp.key)
	}
	groups, err := b.ensureInstanceGroups(ctx, clusterID, hosts)
	if err != nil {
		return err
	}
	want := &computepb.BackendService{Name: &name}
	for _, g := range groups {
		want.Backends = append(want.Backends, &computepb.Backend{Group: ptr(g)})
	}
	if slices.Equal(backendGroups(want), backendGroups(bs)) {
		return nil
	}
	patch := backendServicePatch(want, bs)
	patch = &computepb.BackendService{Name: &name, Backends: patch.Backends, Fingerprint: bs.Fingerprint}
	if err := b.api.PatchRegionBackendService(ctx, patch); err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Updated backend service's groups", "backendService", name, "groups", len(groups))
	return nil
}

// ownedBackendService: a Service's own backend service names it; a shared
// one has a name of the cluster's (checked by the caller) and no
// description.
func ownedBackendService(bs *computepb.BackendService, sp *internalSpec, clusterID string) bool {
	if bs.GetName() == sp.lbName {
		return ownedByService(bs.GetDescription(), sp.key)
	}
	return isSharedBackendServiceName(bs.GetName(), clusterID) && bs.GetDescription() == ""
}

// isSharedBackendServiceName reports whether name is one of the cluster's
// shared backend service names.
func isSharedBackendServiceName(name, clusterID string) bool {
	for _, p := range []v1.Protocol{v1.ProtocolTCP, v1.ProtocolUDP} {
		probe := backendServiceName("", clusterID, true, []v1.Protocol{p}, "")
		if len(name) == len(probe) && name[:len(probe)-16] == probe[:len(probe)-16] {
			return true
		}
	}
	return false
}
