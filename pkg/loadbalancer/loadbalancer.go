// Package loadbalancer implements cloudprovider.LoadBalancer with GCE
// external network load balancers: a regional address, a target pool of the
// node VMs with a legacy HTTP health check, one forwarding rule per protocol,
// and the firewall rules for clients and for Google's health probers.
//
// Every call observes what exists, computes what the Service asks for,
// diffs the two with pure functions and writes only what differs; resources
// that do not depend on each other are written concurrently. Names and
// descriptions are those of the long-standing Kubernetes GCE provider, so
// load balancers it made are adopted as they are.
package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/pkg/quote"
)

// Compute is what load balancers need from the Compute API. Addresses,
// forwarding rules and target pools are in the cluster's project and region,
// health checks in its project, firewalls in the network project.
type Compute interface {
	GetAddress(ctx context.Context, name string) (*computepb.Address, error)
	ListAddresses(ctx context.Context, filter string) ([]*computepb.Address, error)
	InsertAddress(ctx context.Context, addr *computepb.Address) error
	DeleteAddress(ctx context.Context, name string) error

	ListForwardingRules(ctx context.Context, filter string) ([]*computepb.ForwardingRule, error)
	InsertForwardingRule(ctx context.Context, fr *computepb.ForwardingRule) error
	DeleteForwardingRule(ctx context.Context, name string) error
	SetForwardingRuleTarget(ctx context.Context, name, target string) error

	GetTargetPool(ctx context.Context, name string) (*computepb.TargetPool, error)
	InsertTargetPool(ctx context.Context, tp *computepb.TargetPool) error
	DeleteTargetPool(ctx context.Context, name string) error
	AddInstancesToTargetPool(ctx context.Context, name string, instances []string) error
	RemoveInstancesFromTargetPool(ctx context.Context, name string, instances []string) error
	AddHealthCheckToTargetPool(ctx context.Context, name, healthCheck string) error
	RemoveHealthCheckFromTargetPool(ctx context.Context, name, healthCheck string) error

	GetFirewall(ctx context.Context, name string) (*computepb.Firewall, error)
	InsertFirewall(ctx context.Context, fw *computepb.Firewall) error
	PatchFirewall(ctx context.Context, fw *computepb.Firewall) error
	UpdateFirewall(ctx context.Context, fw *computepb.Firewall) error
	DeleteFirewall(ctx context.Context, name string) error

	GetHTTPHealthCheck(ctx context.Context, name string) (*gce.HTTPHealthCheck, error)
	InsertHTTPHealthCheck(ctx context.Context, hc *gce.HTTPHealthCheck) error
	UpdateHTTPHealthCheck(ctx context.Context, hc *gce.HTTPHealthCheck) error
	DeleteHTTPHealthCheck(ctx context.Context, name string) error

	InternalCompute
}

// InstanceFinder finds the VM of a node (by its provider ID, else its name)
// or answers cloudprovider.InstanceNotFound.
type InstanceFinder interface {
	InstanceOfNode(ctx context.Context, node *v1.Node) (*computepb.Instance, error)
}

// Options configure a Balancer.
type Options struct {
	// Project is the cluster's project, where load balancers and health
	// checks live.
	Project string
	// Region is where addresses, target pools and forwarding rules live.
	Region string
	// NetworkURL is the cluster's network, which the firewalls belong to.
	NetworkURL string
	// NodeTags are the network tags of the node VMs (gce.conf node-tags) that
	// the firewalls target. When empty, each node VM's longest tag that is a
	// prefix of its name is used, as the long-standing provider does.
	NodeTags []string
	// ClusterID gives the id that names the health check all
	// externalTrafficPolicy Cluster services share (k8s-<id>-node). It is
	// the long-standing provider's cluster id, not the cluster name.
	ClusterID ClusterIDSource
	// ProberRanges are the sources of Google's health checks that the
	// health check firewalls admit. Default: Google's documented ranges.
	ProberRanges []string
	// DenyFirewall adds, per load balancer, a rule k8s-fw-<lb>-deny that
	// denies all traffic to its IP at priority 1000, and raises the rules
	// that allow its ports and health checks to 999, so that a broad allow
	// rule elsewhere in the network cannot expose other ports of the nodes
	// on that IP (as the long-standing provider and GKE's
	// --enable-l4-deny-firewall do). Turned off, the deny rules are removed
	// first and the allow rules then go back to 1000.
	DenyFirewall bool
	// NetworkProject is the project of the network and its firewalls, when
	// it is not Project (a Shared VPC). A firewall write there that GCE
	// forbids becomes an event with the gcloud command an admin must run,
	// and the sync goes on.
	NetworkProject string
	// Subnetwork is the subnetwork (gce.conf subnetwork-name, in the
	// network project and the region) that internal load balancers take
	// their IPs from unless a Service names another. When empty, the
	// network's only subnetwork in the region is used.
	Subnetwork string
	// Instances finds node VMs; required when nodes lack a provider ID or
	// NodeTags is empty.
	Instances InstanceFinder
	// Status writes the Services' LoadBalancerSynced condition and
	// finalizers; nil writes none.
	Status StatusWriter
	// Events records events on Services; nil records none.
	Events EventRecorder
}

// ClusterIDSource gives the cluster id. It fails while the id is not known
// yet, so that nothing is named after a wrong one.
type ClusterIDSource interface {
	ClusterID() (string, error)
}

// StaticClusterID is a ClusterIDSource that never changes.
type StaticClusterID string

// ClusterID returns the id.
func (s StaticClusterID) ClusterID() (string, error) { return string(s), nil }

// EventRecorder records an event on an object, as client-go's
// record.EventRecorder does.
type EventRecorder interface {
	Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any)
}

// Balancer implements cloudprovider.LoadBalancer.
type Balancer struct {
	api  Compute
	opts Options

	// nodesHC orders the uses of the shared node health check: services
	// attaching it hold it for reading, a deletion of the check (when no
	// pool uses it any more) holds it for writing, so that it is never
	// deleted between one service's check for it and its attachment.
	nodesHC sync.RWMutex
	// shared dedupes concurrent writes of the resources Services share.
	shared sharedWrites
	// ilb orders the uses of what internal load balancers share.
	ilb ilbLocks
	// releases are the address releases still running in the background.
	releases addressReleases
}

var _ cloudprovider.LoadBalancer = (*Balancer)(nil)

// New returns a Balancer.
func New(api Compute, opts Options) *Balancer {
	return &Balancer{api: api, opts: opts}
}

// GetLoadBalancerName returns the name of the service's address, target
// pool and forwarding rule.
func (b *Balancer) GetLoadBalancerName(_ context.Context, _ string, svc *v1.Service) string {
	return loadBalancerName(svc)
}

// GetLoadBalancer reports whether any GCE resource of the service exists
// (so that the service controller cleans up after a half-made load
// balancer) and, from the forwarding rule or the address, its IP. A Service
// that carries the long-standing provider's load balancer finalizers has
// one too, as there: the finalizer outlives resources a deletion
// interrupted half-way left behind, and only EnsureLoadBalancerDeleted,
// which the service controller calls when this says a load balancer
// exists, removes it.
func (b *Balancer) GetLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service) (*v1.LoadBalancerStatus, bool, error) {
	st, exists, err := b.find(ctx, svc)
	if err != nil || (exists && len(st.Ingress) > 0) {
		return st, exists, err
	}
	// The firewall k8s-fw-<lb> is both kinds': an internal rule gives the IP.
	if ist, iexists, err := b.findInternal(ctx, svc); err != nil || iexists {
		return ist, iexists, err
	}
	if exists {
		return st, exists, nil
	}
	if slices.Contains(svc.Finalizers, NetLBFinalizer) || slices.Contains(svc.Finalizers, ILBFinalizer) {
		return &v1.LoadBalancerStatus{}, true, nil
	}
	return nil, false, nil
}

// find looks for the service's external load balancer resources.
func (b *Balancer) find(ctx context.Context, svc *v1.Service) (*v1.LoadBalancerStatus, bool, error) {
	lbName := loadBalancerName(svc)
	key := serviceKey(svc)
	rules, _, err := b.listRules(ctx, lbName)
	if err != nil {
		return nil, false, err
	}
	for _, name := range forwardingRuleNames(lbName) {
		if fr := rules[name]; fr != nil && ownedByService(fr.GetDescription(), key) {
			return status(fr.GetIPAddress()), true, nil
		}
	}
	var addr *computepb.Address
	var pools [2]*computepb.TargetPool
	var fw, deny, localHCFW *computepb.Firewall
	var localHC *gce.HTTPHealthCheck
	err = parallel(
		func() (err error) { addr, err = getOptional(ctx, b.api.GetAddress, lbName); return err },
		func() (err error) { pools[0], err = getOptional(ctx, b.api.GetTargetPool, lbName); return err },
		func() (err error) {
			pools[1], err = getOptional(ctx, b.api.GetTargetPool, alternateTargetPoolName(lbName))
			return err
		},
		func() (err error) { fw, err = getOptional(ctx, b.api.GetFirewall, firewallName(lbName)); return err },
		func() (err error) {
			deny, err = getOptional(ctx, b.api.GetFirewall, denyFirewallName(lbName))
			return err
		},
		// A delete interrupted after the pool leaves the Local-traffic
		// health check and its firewall: still a load balancer to delete.
		func() (err error) {
			localHC, err = getOptional(ctx, b.api.GetHTTPHealthCheck, localHealthCheckName(lbName))
			return err
		},
		func() (err error) {
			localHCFW, err = getOptional(ctx, b.api.GetFirewall, localHealthCheckFirewallName(lbName))
			return err
		},
	)
	if err != nil {
		return nil, false, err
	}
	if localHC != nil && ownedLocalHealthCheck(localHC.Description, lbName, key) {
		return &v1.LoadBalancerStatus{}, true, nil
	}
	if addr != nil && addr.GetAddressType() != "INTERNAL" && ownedByService(addr.GetDescription(), key) {
		return status(addr.GetAddress()), true, nil
	}
	for _, tp := range pools {
		if tp != nil && ownedByService(tp.GetDescription(), key) {
			return &v1.LoadBalancerStatus{}, true, nil
		}
	}
	for _, f := range []*computepb.Firewall{fw, deny, localHCFW} {
		if f != nil && ownedByService(f.GetDescription(), key) {
			return &v1.LoadBalancerStatus{}, true, nil
		}
	}
	return nil, false, nil
}

// UpdateLoadBalancer brings the target pool's members in line with nodes;
// nothing else changes. It leaves the LoadBalancerSynced condition alone:
// pool membership says nothing about the rest of the Service.
func (b *Balancer) UpdateLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) error {
	switch k, err := serviceKind(svc); {
	case k == kindForeignClass || k == kindRBS:
		return cloudprovider.ImplementedElsewhere
	case err != nil:
		// Nothing of gce-ccm's to update; EnsureLoadBalancer reports why.
		return nil
	case k == kindInternal:
		ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithValues("service", klog.KObj(svc)))
		return b.updateInternal(ctx, svc, nodes)
	}
	lbName := loadBalancerName(svc)
	logger := klog.FromContext(ctx).WithValues("service", klog.KObj(svc))
	ctx = klog.NewContext(ctx, logger)
	hosts, err := b.hosts(ctx, svc, nodes)
	if err != nil {
		return err
	}
	// The pools (two while the rules move from one to the other) are
	// independent of each other.
	var fns []func() error
	for _, name := range targetPoolNames(lbName) {
		fns = append(fns, func() error {
			tp, err := getOptional(ctx, b.api.GetTargetPool, name)
			if err != nil || tp == nil {
				return err
			}
			if !ownedByService(tp.GetDescription(), serviceKey(svc)) {
				return notOwned("target pool", name, tp.GetDescription(), serviceKey(svc))
			}
			add, remove := membershipChanges(hosts, tp.GetInstances())
			return b.changeMembers(ctx, name, add, remove)
		})
	}
	return parallel(fns...)
}

func status(ip string) *v1.LoadBalancerStatus {
	if ip == "" {
		return &v1.LoadBalancerStatus{}
	}
	return &v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: ip}}}
}

// clusterID returns the id that names the shared node health check.
func (b *Balancer) clusterID() (string, error) {
	if b.opts.ClusterID == nil {
		return "", errors.New("no cluster id is configured")
	}
	id, err := b.opts.ClusterID.ClusterID()
	if err != nil {
		return "", err
	}
	if name := nodesHealthCheckFirewallName(id); !gce.ValidName(name) {
		return "", fmt.Errorf("cluster id %s makes the GCE name %s, which is not valid (lowercase letters, digits and dashes, at most 63 characters); "+
			"fix the ConfigMap kube-system/ingress-uid", quote.Value(id), quote.Value(name))
	}
	return id, nil
}

// maxEventMessage bounds the message of an event this package records: the
// values in it come from users and grow with the number of nodes.
const maxEventMessage = 4096

// event records an event on the Service when a recorder is configured.
func (b *Balancer) event(svc *v1.Service, eventtype, reason, messageFmt string, args ...any) {
	if b.opts.Events != nil {
		b.opts.Events.Eventf(svc, eventtype, reason, "%s", quote.Message(fmt.Sprintf(messageFmt, args...), maxEventMessage))
	}
}

// proberRanges returns the sources of Google's health checks.
func (b *Balancer) proberRanges() []string {
	if len(b.opts.ProberRanges) > 0 {
		return b.opts.ProberRanges
	}
	return defaultProberRanges
}

// getOptional runs a get and turns "not found" into a nil result.
func getOptional[T any](ctx context.Context, get func(context.Context, string) (*T, error), name string) (*T, error) {
	v, err := get(ctx, name)
	if gce.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}

// parallel runs fns concurrently and joins their errors.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// task is a step running in the background that later steps wait for.
type task struct {
	done chan struct{}
	err  error
}

func start(fn func() error) *task {
	t := &task{done: make(chan struct{})}
	go func() {
		defer close(t.done)
		t.err = fn()
	}()
	return t
}

func (t *task) wait() error {
	<-t.done
	return t.err
}

func ptr[T any](v T) *T { return &v }

// retryNotReady retries fn while GCE says the resource is busy with another
// operation, as right after a forwarding rule that used a pool is deleted.
func retryNotReady(ctx context.Context, fn func() error) error {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if !gce.IsNotReady(err) || attempt == 4 {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay *= 2
	}
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }
