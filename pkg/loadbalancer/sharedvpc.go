package loadbalancer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// ReasonManualChange is the event that hands a firewall change to an admin:
// in a Shared VPC the cluster's service account often may not write the
// host project's firewalls. The reason and the message's shape are the
// long-standing provider's, so alerts and runbooks built on them keep
// working.
const ReasonManualChange = "LoadBalancerManualChange"

// networkProject is the project of the firewalls.
func (b *Balancer) networkProject() string {
	if b.opts.NetworkProject != "" {
		return b.opts.NetworkProject
	}
	return b.opts.Project
}

// forbiddenOnSharedVPC reports whether err is GCE refusing a firewall write
// in a Shared VPC host project. If so, the Service gets an event with the
// gcloud command that makes the change, and the caller goes on as if the
// write had succeeded: the load balancer works once an admin runs it.
func (b *Balancer) forbiddenOnSharedVPC(svc *v1.Service, err error, command string) bool {
	if err == nil || !gce.IsForbidden(err) || b.networkProject() == b.opts.Project {
		return false
	}
	if svc != nil {
		b.event(svc, v1.EventTypeNormal, ReasonManualChange, "Firewall change required by security admin: `%s`", command)
	}
	return true
}

func gcloudFirewallCreate(fw *computepb.Firewall, project string) string {
	return fmt.Sprintf("gcloud compute firewall-rules create %s --network %s %s", fw.GetName(), lastSegment(fw.GetNetwork()), gcloudFirewallArgs(fw, project))
}

func gcloudFirewallUpdate(fw *computepb.Firewall, project string) string {
	return fmt.Sprintf("gcloud compute firewall-rules update %s %s", fw.GetName(), gcloudFirewallArgs(fw, project))
}

func gcloudFirewallDelete(name, project string) string {
	return fmt.Sprintf("gcloud compute firewall-rules delete %s --project %s", name, project)
}

// gcloudFirewallArgs are the flags that give a rule fw's settings, sorted
// so that the same change always reads the same (and repeated events
// aggregate).
func gcloudFirewallArgs(fw *computepb.Firewall, project string) string {
	var allow []string
	for _, a := range fw.GetAllowed() {
		if len(a.GetPorts()) == 0 {
			allow = append(allow, a.GetIPProtocol())
		}
		for _, p := range a.GetPorts() {
			allow = append(allow, a.GetIPProtocol()+":"+p)
		}
	}
	slices.Sort(allow)
	args := []string{
		"--description " + strconv.Quote(fw.GetDescription()),
		"--allow " + strings.Join(allow, ","),
		"--source-ranges " + strings.Join(sortedSet(fw.GetSourceRanges()), ","),
		"--target-tags " + strings.Join(sortedSet(fw.GetTargetTags()), ","),
	}
	if len(fw.GetDestinationRanges()) > 0 {
		args = append(args, "--destination-ranges "+strings.Join(sortedSet(fw.GetDestinationRanges()), ","))
	}
	args = append(args, "--priority "+strconv.Itoa(int(priorityOf(fw))), "--project "+project)
	return strings.Join(args, " ")
}
