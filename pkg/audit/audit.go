// Package audit finds the GCE resources a cluster leaked: those that carry
// the cluster's ownership markers (pod routes; the addresses, forwarding
// rules, target pools, legacy HTTP health checks and firewalls of network
// load balancers; the backend services, health checks and instance groups
// of internal ones) but that no Node or Service of the cluster accounts for,
// and the resources a LoadBalancer Service should have but lacks. It can
// delete the leaks.
//
// It decides with the controllers' own names and ownership checks
// (pkg/routes, pkg/loadbalancer), and it is stricter than they are about
// what it may delete: a load balancer's resources name a Service
// ("namespace/name") but no cluster, so a load balancer whose Service is
// gone is deleted only when something ties it to this cluster (its target
// pool serves this cluster's node VMs or uses its shared health check, its
// backend service uses the cluster's instance groups or shared health
// check, or a firewall of it targets only this cluster's node tags). Everything else
// that looks like it is listed as skipped, with the reason, and never
// deleted.
package audit

import (
	"cmp"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// Status is what the audit found about a resource.
type Status string

const (
	// Leaked: the cluster's, and no Node or Service accounts for it.
	Leaked Status = "leaked"
	// Missing: a LoadBalancer Service (or a node's pod CIDR) should have it
	// and it does not exist.
	Missing Status = "missing"
	// Skipped: it looks like the cluster's, but it is not provably so, or
	// it must stay (a user's address, a shared resource still in use). It
	// is never deleted.
	Skipped Status = "skipped"
)

// Kind is a GCE resource kind, as the Compute API names its collection.
type Kind string

// The kinds the audit reads.
const (
	KindRoute           Kind = "route"
	KindAddress         Kind = "address"
	KindForwardingRule  Kind = "forwardingRule"
	KindTargetPool      Kind = "targetPool"
	KindHTTPHealthCheck Kind = "httpHealthCheck"
	KindFirewall        Kind = "firewall"
	// The kinds of internal load balancers.
	KindBackendService Kind = "backendService"
	KindHealthCheck    Kind = "healthCheck"
	KindInstanceGroup  Kind = "instanceGroup"
)

// Finding is one resource the audit reports.
type Finding struct {
	Status Status `json:"status"`
	Kind   Kind   `json:"kind"`
	Name   string `json:"name"`
	// Zone is an instance group's.
	Zone string `json:"zone,omitempty"`
	// Owner is what the resource is (or was) for: "Service ns/name",
	// "node name", "cluster <id>".
	Owner  string `json:"owner,omitempty"`
	Reason string `json:"reason"`
	// Result is what --delete did with a leak.
	Result string `json:"result,omitempty"`
}

// Inventory is everything the audit decides from: the cluster's objects
// and the GCE resources, as listed.
type Inventory struct {
	// ClusterName is --cluster-name, which starts route names.
	ClusterName string
	// ClusterID is the id of ConfigMap kube-system/ingress-uid, which names
	// the shared node health check; "" when unknown.
	ClusterID string
	// Project, Region and NetworkURL locate the cluster's resources.
	Project    string
	Region     string
	NetworkURL string
	// NodeTags are gce.conf's node-tags.
	NodeTags []string
	// CheckRoutes reports nodes' pod CIDRs without a route
	// (--configure-cloud-routes).
	CheckRoutes bool

	Nodes    []*v1.Node
	Services []*v1.Service

	Instances       []*computepb.Instance
	Routes          []*computepb.Route
	Addresses       []*computepb.Address
	ForwardingRules []*computepb.ForwardingRule
	TargetPools     []*computepb.TargetPool
	Firewalls       []*computepb.Firewall
	HealthChecks    []*gce.HTTPHealthCheck
	// Internal load balancers: regional backend services, health checks of
	// the healthChecks API, the cluster's instance groups (k8s-ig--*).
	BackendServices []*computepb.BackendService
	InternalChecks  []*computepb.HealthCheck
	InstanceGroups  []*computepb.InstanceGroup
}

// Counts sums findings by status.
type Counts struct {
	Leaked  int `json:"leaked"`
	Missing int `json:"missing"`
	Skipped int `json:"skipped"`
}

// Count counts findings by status.
func Count(fs []Finding) Counts {
	var c Counts
	for _, f := range fs {
		switch f.Status {
		case Leaked:
			c.Leaked++
		case Missing:
			c.Missing++
		case Skipped:
			c.Skipped++
		}
	}
	return c
}

var statusOrder = map[Status]int{Leaked: 0, Missing: 1, Skipped: 2}

var kindOrder = map[Kind]int{
	KindRoute: 0, KindForwardingRule: 1, KindAddress: 2, KindTargetPool: 3, KindBackendService: 4, KindHTTPHealthCheck: 5,
	KindHealthCheck: 6, KindInstanceGroup: 7, KindFirewall: 8,
}

// sortFindings orders findings by status, kind and name.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(statusOrder[a.Status], statusOrder[b.Status]),
			cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]), cmp.Compare(a.Name, b.Name))
	})
}
