package audit

import (
	"fmt"
	"regexp"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/loadbalancer"
)

// The resources the cluster's load balancers share, named after the
// cluster id: the node health checks (a legacy HTTP one for target pools,
// one of the healthChecks API for backend services) and their firewalls,
// the instance groups and the shared backend services of internal load
// balancers. One is leaked when no resource that a Service accounts for
// uses it and no Service needs it; one that only unprovable resources use
// is skipped.

var (
	nodesHCRE   = regexp.MustCompile(`^k8s-(.+)-node$`)
	nodesHCFWRE = regexp.MustCompile(`^k8s-(.+)-node-http-hc$`)
	ilbHCFWRE   = regexp.MustCompile(`^k8s-(.+)-node-hc$`)
	groupRE     = regexp.MustCompile(`^k8s-ig--(.+)$`)
	sharedBSRE  = regexp.MustCompile(`^k8s-(.+)-internal-(?:tcp|udp)-nmv1-[0-9a-f]{16}$`)
)

func idIn(re *regexp.Regexp) func(string) (string, bool) {
	return func(name string) (string, bool) {
		m := re.FindStringSubmatch(name)
		if m == nil {
			return "", false
		}
		return m[1], true
	}
}

var (
	// nodesHealthCheckID returns the cluster id in a shared node health
	// check's name.
	nodesHealthCheckID     = idIn(nodesHCRE)
	instanceGroupID        = idIn(groupRE)
	sharedBackendServiceID = idIn(sharedBSRE)
)

// balanced reports whether gce-ccm builds a load balancer for the Service
// now.
func balanced(s *v1.Service) bool {
	ok, _ := loadbalancer.Builds(s)
	return ok && s.Spec.Type == v1.ServiceTypeLoadBalancer && s.DeletionTimestamp == nil
}

// needs returns a Service that gce-ccm balances with an internal (or
// external) load balancer, with externalTrafficPolicy Cluster when
// clusterPolicy, "" when none.
func (c *classifier) needs(internal, clusterPolicy bool) string {
	for _, s := range c.inv.Services {
		if balanced(s) && loadbalancer.WantsInternal(s) == internal &&
			(!clusterPolicy || s.Spec.ExternalTrafficPolicy != v1.ServiceExternalTrafficPolicyLocal) {
			return loadbalancer.ServiceKey(s)
		}
	}
	return ""
}

// use is one resource that uses a shared one, and what was decided about
// it ("" when a Service accounts for it or it is no load balancer's).
type use struct {
	kind   Kind
	name   string
	status Status
}

// sharedFinding decides about one shared resource of cluster id other.
// ownedOurs and ownedOther are its ownership check for this cluster's id and
// for its own; needed names a Service that needs it.
func (c *classifier) sharedFinding(kind Kind, name, zone, other string, ownedOurs, ownedOther bool, users []use, needed, what string) (Finding, bool) {
	id := c.inv.ClusterID
	f := Finding{Kind: kind, Name: name, Zone: zone}
	if id == "" || other != id {
		if !ownedOther {
			return f, false
		}
		f.Status, f.Owner, f.Reason = Skipped, "cluster "+other, c.otherClusterReason(other)
		return f, true
	}
	if !ownedOurs {
		f.Status, f.Reason = Skipped, fmt.Sprintf("named like this cluster's %s but fails gce-ccm's ownership check: not gce-ccm's", what)
		return f, true
	}
	var skipped []string
	for _, u := range users {
		switch u.status {
		case "":
			return f, false // in use by the cluster's load balancers
		case Skipped:
			skipped = append(skipped, kindWords[u.kind]+" "+u.name)
		}
	}
	if needed != "" {
		return f, false
	}
	f.Owner = "cluster " + id
	if len(skipped) > 0 {
		f.Status, f.Reason = Skipped, fmt.Sprintf("this cluster's %s, still used by %s", what, strings.Join(skipped, ", "))
		return f, true
	}
	f.Status = Leaked
	f.Reason = fmt.Sprintf("this cluster's %s; nothing the cluster accounts for uses it and no LoadBalancer Service needs it", what)
	return f, true
}

// needsSharedBackend returns an internal Service that gce-ccm balances with
// a shared backend service, "" when none.
func (c *classifier) needsSharedBackend() string {
	for _, s := range c.inv.Services {
		if balanced(s) && loadbalancer.WantsInternal(s) && loadbalancer.SharesBackendService(s) {
			return loadbalancer.ServiceKey(s)
		}
	}
	return ""
}

func (c *classifier) otherClusterReason(other string) string {
	if c.inv.ClusterID == "" {
		return fmt.Sprintf("shared by the load balancers of cluster id %s; this cluster's id is unknown (no ConfigMap kube-system/ingress-uid)", other)
	}
	return fmt.Sprintf("another cluster's: cluster id %s, this cluster's is %s", other, c.inv.ClusterID)
}

func (c *classifier) shared() {
	inv := c.inv
	id := inv.ClusterID
	// What each shared resource ended as: absent, leaked or kept.
	gone := map[string]bool{} // kind/name of shared health checks that are absent or leaked
	httpHC, ilbHC := "", ""
	if id != "" {
		httpHC, ilbHC = loadbalancer.NodesHealthCheckName(id), loadbalancer.NodesHealthCheckName(id)
		gone[string(KindHTTPHealthCheck)+"/"+httpHC] = true
		gone[string(KindHealthCheck)+"/"+ilbHC] = true
	}
	emit := func(f Finding, ok bool) {
		if !ok {
			return
		}
		c.add(f)
	}

	// The legacy HTTP node health check of target pools.
	for _, hc := range inv.HealthChecks {
		other, ok := nodesHealthCheckID(hc.Name)
		if !ok {
			continue
		}
		var users []use
		for _, tp := range inv.TargetPools {
			for _, link := range tp.GetHealthChecks() {
				if lastSegment(link) == hc.Name {
					users = append(users, use{KindTargetPool, tp.GetName(), c.poolStatus[tp.GetName()]})
				}
			}
		}
		f, show := c.sharedFinding(KindHTTPHealthCheck, hc.Name, "", other, id != "" && loadbalancer.OwnedNodesHealthCheck(hc.Description, id),
			loadbalancer.OwnedNodesHealthCheck(hc.Description, other), users, c.needs(false, true), "shared node health check")
		if hc.Name == httpHC && !(show && f.Status == Leaked) {
			gone[string(KindHTTPHealthCheck)+"/"+httpHC] = false
		}
		emit(f, show)
	}
	// Shared backend services, used by forwarding rules.
	for _, bs := range inv.BackendServices {
		other, ok := sharedBackendServiceID(bs.GetName())
		if !ok {
			continue
		}
		var users []use
		for _, fr := range inv.ForwardingRules {
			if lastSegment(fr.GetBackendService()) == bs.GetName() {
				users = append(users, use{KindForwardingRule, fr.GetName(), c.ruleStatus[fr.GetName()]})
			}
		}
		owned := func(id string) bool { return id != "" && loadbalancer.OwnedSharedBackendService(bs, id) }
		f, show := c.sharedFinding(KindBackendService, bs.GetName(), "", other, owned(id), owned(other), users, c.needsSharedBackend(), "shared backend service")
		if show {
			c.bsStatus[bs.GetName()] = f.Status
		}
		emit(f, show)
	}
	// The node health check of internal load balancers' backend services.
	for _, hc := range inv.InternalChecks {
		other, ok := nodesHealthCheckID(hc.GetName())
		if !ok {
			continue
		}
		var users []use
		for _, bs := range inv.BackendServices {
			for _, link := range bs.GetHealthChecks() {
				if lastSegment(link) == hc.GetName() {
					users = append(users, use{KindBackendService, bs.GetName(), c.bsStatus[bs.GetName()]})
				}
			}
		}
		owned := loadbalancer.OwnedInternalHealthCheck(hc.GetDescription(), "", true)
		f, show := c.sharedFinding(KindHealthCheck, hc.GetName(), "", other, owned, owned, users, c.needs(true, true),
			"shared node health check of internal load balancers")
		if hc.GetName() == ilbHC && !(show && f.Status == Leaked) {
			gone[string(KindHealthCheck)+"/"+ilbHC] = false
		}
		emit(f, show)
	}
	// Their firewalls go with them.
	for _, fw := range inv.Firewalls {
		if other, ok := idIn(nodesHCFWRE)(fw.GetName()); ok {
			users := []use{}
			if !gone[string(KindHTTPHealthCheck)+"/"+httpHC] {
				users = append(users, use{KindHTTPHealthCheck, httpHC, ""})
			}
			emit(c.sharedFinding(KindFirewall, fw.GetName(), "", other, id != "" && loadbalancer.OwnedNodesHealthCheckFirewall(fw.GetDescription(), id),
				loadbalancer.OwnedNodesHealthCheckFirewall(fw.GetDescription(), other), users, c.needs(false, true), "shared node health check firewall"))
		}
		if other, ok := idIn(ilbHCFWRE)(fw.GetName()); ok {
			users := []use{}
			if !gone[string(KindHealthCheck)+"/"+ilbHC] {
				users = append(users, use{KindHealthCheck, ilbHC, ""})
			}
			owned := loadbalancer.OwnedInternalHealthCheckFirewall(fw.GetDescription())
			emit(c.sharedFinding(KindFirewall, fw.GetName(), "", other, owned, owned, users, c.needs(true, true),
				"shared node health check firewall of internal load balancers"))
		}
	}
	// Instance groups, one per zone, used by backend services.
	for _, ig := range inv.InstanceGroups {
		other, ok := instanceGroupID(ig.GetName())
		if !ok {
			continue
		}
		var users []use
		for _, bs := range inv.BackendServices {
			for _, b := range bs.GetBackends() {
				if pathOf(b.GetGroup()) == pathOf(ig.GetSelfLink()) {
					users = append(users, use{KindBackendService, bs.GetName(), c.bsStatus[bs.GetName()]})
				}
			}
		}
		emit(c.sharedFinding(KindInstanceGroup, ig.GetName(), lastSegment(ig.GetZone()), other, true, true, users, c.needs(true, false),
			"instance group of internal load balancers (GKE's ingress controller uses groups of this name too; GCE refuses to delete one in use)"))
	}
}
