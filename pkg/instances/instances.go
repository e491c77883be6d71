// Package instances implements cloudprovider.InstancesV2 for GCE: it finds
// the VM behind a node and reports its provider ID, addresses, machine
// type, zone and region, whether it exists and whether it is shut down.
//
// Lookups are served from a snapshot of every VM taken with one aggregated
// list and kept for a short time, so that the node controllers' periodic
// checks of thousands of nodes cost one paged list per period instead of one
// GET per node. A node missing from a fresh snapshot is confirmed with a GET
// before it is reported gone: a false "does not exist" deletes the node.
package instances

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/klog/v2"

	"github.com/gce-ccm/gce-ccm/pkg/quote"
)

// Compute is what this package needs from the Compute API.
type Compute interface {
	GetInstance(ctx context.Context, zone, name string) (*computepb.Instance, error)
	ListInstances(ctx context.Context) ([]*computepb.Instance, error)
}

// Options configure Instances.
type Options struct {
	Project string
	Zones   []string // where to look for a node without a provider ID
	// CacheTTL is how long a snapshot of all VMs answers lookups.
	CacheTTL time.Duration
	// IsNotFound classifies Compute errors (gce.IsNotFound).
	IsNotFound func(error) bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Instances implements cloudprovider.InstancesV2.
type Instances struct {
	api  Compute
	opts Options

	mu       sync.Mutex
	snapshot map[string]*computepb.Instance // "zone/name" -> VM
	byName   map[string][]*computepb.Instance
	taken    time.Time
	refresh  *refresh // in-flight refresh shared by concurrent lookups
}

type refresh struct {
	done chan struct{}
	err  error
}

var _ cloudprovider.InstancesV2 = (*Instances)(nil)

// New returns Instances over api.
func New(api Compute, opts Options) *Instances {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Instances{api: api, opts: opts}
}

// InstanceExists reports whether the node's VM exists.
func (i *Instances) InstanceExists(ctx context.Context, node *v1.Node) (bool, error) {
	_, err := i.find(ctx, node)
	if err == cloudprovider.InstanceNotFound {
		return false, nil
	}
	return err == nil, err
}

// InstanceShutdown reports whether the node's VM is stopped or stopping.
func (i *Instances) InstanceShutdown(ctx context.Context, node *v1.Node) (bool, error) {
	inst, err := i.find(ctx, node)
	if err != nil {
		return false, err
	}
	switch inst.GetStatus() {
	case "TERMINATED", "STOPPING", "STOPPED", "SUSPENDING", "SUSPENDED":
		return true, nil
	}
	return false, nil
}

// InstanceMetadata returns what the node controller writes onto the node.
func (i *Instances) InstanceMetadata(ctx context.Context, node *v1.Node) (*cloudprovider.InstanceMetadata, error) {
	inst, err := i.find(ctx, node)
	if err != nil {
		return nil, err
	}
	zone := lastSegment(inst.GetZone())
	return &cloudprovider.InstanceMetadata{
		ProviderID:    ProviderID(i.opts.Project, zone, inst.GetName()),
		InstanceType:  lastSegment(inst.GetMachineType()),
		Zone:          zone,
		Region:        regionOf(zone),
		NodeAddresses: nodeAddresses(inst, i.opts.Project),
	}, nil
}

// InstanceByNodeName returns the VM of the node with that name, from the
// snapshot when it is there.
func (i *Instances) InstanceByNodeName(ctx context.Context, nodeName string) (*computepb.Instance, error) {
	return i.find(ctx, &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}})
}

// find returns the node's VM or cloudprovider.InstanceNotFound.
func (i *Instances) find(ctx context.Context, node *v1.Node) (*computepb.Instance, error) {
	zone, name, err := i.locate(node)
	if err != nil {
		return nil, err
	}
	snap, byName, err := i.current(ctx)
	if err != nil {
		return nil, err
	}
	if zone != "" {
		if inst := snap[zone+"/"+name]; inst != nil {
			return inst, nil
		}
		return i.confirm(ctx, zone, name)
	}
	switch found := byName[name]; len(found) {
	case 1:
		return found[0], nil
	case 0:
		// Not in the snapshot: the VM may be newer than it. Ask each zone.
		for _, z := range i.opts.Zones {
			inst, err := i.confirm(ctx, z, name)
			if err == nil {
				return inst, nil
			}
			if err != cloudprovider.InstanceNotFound {
				return nil, err
			}
		}
		return nil, cloudprovider.InstanceNotFound
	default:
		return nil, fmt.Errorf("node %s has no provider ID and %d VMs in zones %v are named %q; set spec.providerID",
			node.Name, len(found), i.opts.Zones, name)
	}
}

// confirm GETs one VM that the snapshot lacks.
func (i *Instances) confirm(ctx context.Context, zone, name string) (*computepb.Instance, error) {
	inst, err := i.api.GetInstance(ctx, zone, name)
	if err != nil {
		if i.opts.IsNotFound != nil && i.opts.IsNotFound(err) {
			return nil, cloudprovider.InstanceNotFound
		}
		return nil, err
	}
	return inst, nil
}

// locate returns the zone (empty when unknown) and VM name of a node.
func (i *Instances) locate(node *v1.Node) (zone, name string, err error) {
	if id := node.Spec.ProviderID; id != "" {
		project, zone, name, err := ParseProviderID(id)
		if err != nil {
			return "", "", err
		}
		if project != i.opts.Project {
			return "", "", fmt.Errorf("node %s: provider ID %s is in project %s, not %q", node.Name, quote.Value(id), quote.Value(project), i.opts.Project)
		}
		return zone, name, nil
	}
	// Kubelets on GCE may register with the VM's FQDN; the VM name is its
	// first label.
	name, _, _ = strings.Cut(node.Name, ".")
	return "", name, nil
}

// current returns a snapshot no older than CacheTTL, taking a new one when
// needed; concurrent callers share one refresh.
func (i *Instances) current(ctx context.Context) (map[string]*computepb.Instance, map[string][]*computepb.Instance, error) {
	i.mu.Lock()
	if i.snapshot != nil && i.opts.Now().Sub(i.taken) < i.opts.CacheTTL {
		snap, byName := i.snapshot, i.byName
		i.mu.Unlock()
		return snap, byName, nil
	}
	r := i.refresh
	if r == nil {
		r = &refresh{done: make(chan struct{})}
		i.refresh = r
		go i.take(klog.NewContext(context.WithoutCancel(ctx), klog.FromContext(ctx)), r)
	}
	i.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.snapshot, i.byName, nil
}

func (i *Instances) take(ctx context.Context, r *refresh) {
	start := i.opts.Now()
	list, err := i.api.ListInstances(ctx)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.refresh = nil
	r.err = err
	defer close(r.done)
	if err != nil {
		return
	}
	snap := make(map[string]*computepb.Instance, len(list))
	byName := make(map[string][]*computepb.Instance, len(list))
	for _, inst := range list {
		snap[lastSegment(inst.GetZone())+"/"+inst.GetName()] = inst
		byName[inst.GetName()] = append(byName[inst.GetName()], inst)
	}
	i.snapshot, i.byName, i.taken = snap, byName, start
}

// ProviderID is the node provider ID of a VM: gce://<project>/<zone>/<name>.
func ProviderID(project, zone, name string) string {
	return "gce://" + project + "/" + zone + "/" + name
}

// ParseProviderID splits gce://<project>/<zone>/<name>.
func ParseProviderID(id string) (project, zone, name string, err error) {
	rest, ok := strings.CutPrefix(id, "gce://")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("provider ID %s is not of the form gce://<project>/<zone>/<name>", quote.Value(id))
	}
	return parts[0], parts[1], parts[2], nil
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

func regionOf(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return ""
}

// InstanceOfNode returns the node's VM, from the snapshot when it is there,
// or cloudprovider.InstanceNotFound.
func (i *Instances) InstanceOfNode(ctx context.Context, node *v1.Node) (*computepb.Instance, error) {
	return i.find(ctx, node)
}
