package loadbalancer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// Annotations of internal load balancers, the long-standing provider's.
const (
	// BackendShareAnnotation "true" puts the Service's internal load
	// balancer on a backend service shared by the cluster's internal
	// Services of the same protocol and session affinity
	// (externalTrafficPolicy Cluster only).
	BackendShareAnnotation = "alpha.cloud.google.com/load-balancer-backend-share"
	// deprecatedBackendShareAnnotation is BackendShareAnnotation's older key.
	deprecatedBackendShareAnnotation = "cloud.google.com/load-balancer-backend-share"
	// GlobalAccessAnnotation "true" lets clients in every region of the VPC
	// reach the internal load balancer, not only those of its region.
	GlobalAccessAnnotation = "networking.gke.io/internal-load-balancer-allow-global-access"
	// SubnetAnnotation names the subnetwork (of the cluster's network and
	// region) that the internal load balancer's IP comes from; default:
	// gce.conf's subnetwork-name.
	SubnetAnnotation = "networking.gke.io/internal-load-balancer-subnet"
)

// maxInternalPorts is the most ports an internal forwarding rule lists;
// a Service with more gets a rule for all ports, as the long-standing
// provider builds it (its firewall still admits only the Service's ports).
const maxInternalPorts = 5

// internalSpec is what a Service asks of its internal load balancer,
// validated.
type internalSpec struct {
	key    string
	lbName string
	// protocol is the Service's one protocol: an internal passthrough
	// forwarding rule and its backend service carry one.
	protocol v1.Protocol
	// ports are the forwarding rule's ports, sorted numerically; allPorts
	// replaces them when there are more than maxInternalPorts.
	ports    []string
	allPorts bool
	// fwPorts are the ports the firewall admits.
	fwPorts      map[v1.Protocol][]int32
	sourceRanges []string
	// affinity is the backend service's session affinity; svcAffinity the
	// Service's own value, which the shared backend service name hashes.
	affinity    string
	svcAffinity v1.ServiceAffinity
	requestedIP string
	local       bool
	hcPort      int32
	// shareBackend: the backend-share annotation on a Cluster-policy Service.
	shareBackend bool
	globalAccess bool
	// subnet is the subnetwork the annotation names; "" for the default.
	subnet string
}

// parseInternalService validates a Service that asks for an internal load
// balancer. Every problem is an *InputError that names the field.
func parseInternalService(svc *v1.Service) (*internalSpec, error) {
	sp := &internalSpec{key: serviceKey(svc), lbName: loadBalancerName(svc), fwPorts: map[v1.Protocol][]int32{},
		affinity: affinityNone, svcAffinity: svc.Spec.SessionAffinity}
	if len(svc.Spec.Ports) == 0 {
		return nil, &InputError{Field: "spec.ports", Value: "", Reason: "a LoadBalancer service needs at least one port"}
	}
	for i, p := range svc.Spec.Ports {
		switch p.Protocol {
		case v1.ProtocolTCP, v1.ProtocolUDP:
		case "":
			p.Protocol = v1.ProtocolTCP
		default:
			return nil, &InputError{Field: fmt.Sprintf("spec.ports[%d].protocol", i), Value: string(p.Protocol),
				Reason: "GCE internal passthrough load balancers built by gce-ccm support only TCP and UDP"}
		}
		if p.Port < 1 || p.Port > 65535 {
			return nil, &InputError{Field: fmt.Sprintf("spec.ports[%d].port", i), Value: strconv.Itoa(int(p.Port)), Reason: "not a port between 1 and 65535"}
		}
		if sp.protocol == "" {
			sp.protocol = p.Protocol
		}
		if p.Protocol != sp.protocol {
			// The long-standing provider builds the first port's protocol
			// and opens the others' ports for it: a half-working load
			// balancer. Say so instead.
			return nil, &InputError{Field: fmt.Sprintf("spec.ports[%d].protocol", i), Value: string(p.Protocol),
				Reason: fmt.Sprintf("an internal load balancer's forwarding rule and backend service carry one protocol, and spec.ports[0] is %s; "+
					"use one Service per protocol", sp.protocol)}
		}
		if !slices.Contains(sp.fwPorts[p.Protocol], p.Port) {
			sp.fwPorts[p.Protocol] = append(sp.fwPorts[p.Protocol], p.Port)
		}
	}
	ports := sp.fwPorts[sp.protocol]
	slices.Sort(ports)
	for _, p := range ports {
		sp.ports = append(sp.ports, strconv.Itoa(int(p)))
	}
	if len(sp.ports) > maxInternalPorts {
		sp.ports, sp.allPorts = nil, true
	}
	if err := checkFirewallPorts(svc, sp.fwPorts); err != nil {
		return nil, err
	}
	if len(svc.Spec.IPFamilies) > 0 && !slices.Contains(svc.Spec.IPFamilies, v1.IPv4Protocol) {
		return nil, &InputError{Field: "spec.ipFamilies", Value: fmt.Sprint(svc.Spec.IPFamilies),
			Reason: "gce-ccm builds IPv4 internal load balancers only"}
	}
	var err error
	if sp.requestedIP, err = requestedIP(svc); err != nil {
		return nil, err
	}
	if sp.sourceRanges, err = sourceRanges(svc); err != nil {
		return nil, err
	}
	if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
		sp.affinity = affinityClientIP
	}
	if sp.svcAffinity == "" {
		sp.svcAffinity = v1.ServiceAffinityNone // the API server's default
	}
	if sp.local, sp.hcPort, err = localTraffic(svc); err != nil {
		return nil, err
	}
	share := false
	for _, key := range []string{BackendShareAnnotation, deprecatedBackendShareAnnotation} {
		v, ok := svc.Annotations[key]
		if !ok {
			continue
		}
		b, err := boolAnnotation(key, v)
		if err != nil {
			return nil, err
		}
		share = share || b
	}
	sp.shareBackend = share && !sp.local
	if v, ok := svc.Annotations[GlobalAccessAnnotation]; ok {
		if sp.globalAccess, err = boolAnnotation(GlobalAccessAnnotation, v); err != nil {
			return nil, err
		}
	}
	if v, ok := svc.Annotations[SubnetAnnotation]; ok && strings.TrimSpace(v) != "" {
		v = strings.TrimSpace(v)
		if !gce.ValidName(v) {
			return nil, &InputError{Field: "metadata.annotations[" + SubnetAnnotation + "]", Value: v,
				Reason: "not a subnetwork name (lowercase letters, digits and dashes)"}
		}
		sp.subnet = v
	}
	return sp, nil
}

// boolAnnotation reads "true" or "false". The long-standing provider reads
// anything but "true" as false; a value that is neither is an error here,
// since it is likely a typo of one of them.
func boolAnnotation(key, v string) (bool, error) {
	switch strings.TrimSpace(v) {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	}
	return false, &InputError{Field: "metadata.annotations[" + key + "]", Value: v, Reason: `use "true" or "false"`}
}

// protocols is the spec's protocol as a list, for backendServiceName.
func (sp *internalSpec) protocols() []v1.Protocol { return []v1.Protocol{sp.protocol} }
