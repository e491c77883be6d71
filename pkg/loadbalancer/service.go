package loadbalancer

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/gce-ccm/gce-ccm/pkg/quote"
)

// Annotations this package reads.
const (
	// SourceRangesAnnotation lists the client CIDRs allowed to reach the
	// service, comma separated; spec.loadBalancerSourceRanges wins over it.
	SourceRangesAnnotation = v1.AnnotationLoadBalancerSourceRangesKey
	// NetworkTierAnnotation chooses the network tier: Standard or Premium.
	NetworkTierAnnotation = "cloud.google.com/network-tier"
)

// GCE network tiers.
const (
	tierPremium  = "PREMIUM"
	tierStandard = "STANDARD"
)

// Session affinities of a target pool.
const (
	affinityNone     = "NONE"
	affinityClientIP = "CLIENT_IP"
)

// Health check settings: the long-standing provider's, which GCE users
// know; kube-proxy serves the shared node check on 10256.
const (
	nodesHealthCheckPort = 10256
	healthCheckPath      = "/healthz"
	hcIntervalSec        = 8
	hcTimeoutSec         = 1
	hcHealthyThreshold   = 1
	hcUnhealthyThreshold = 3
)

// maxFirewallPorts bounds the ports and port ranges of one firewall rule
// (GCE's limit, which the long-standing provider works around by merging
// consecutive ports into ranges as firewallPorts does).
const maxFirewallPorts = 100

// InputError says what is wrong in a Service. It is returned before anything
// in GCE is changed, so whatever worked before keeps working.
type InputError struct {
	Field  string // e.g. spec.loadBalancerIP
	Value  string
	Reason string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Field, quote.Value(e.Value), e.Reason)
}

// spec is what a Service asks of its load balancer, validated.
type spec struct {
	key    string // namespace/name
	lbName string
	// ports are the service ports by protocol, sorted and unique.
	ports        map[v1.Protocol][]int32
	protocols    []v1.Protocol // TCP before UDP
	sourceRanges []string      // masked, sorted, unique
	tier         string
	tierExplicit bool // the annotation chose the tier
	affinity     string
	requestedIP  string
	// local is externalTrafficPolicy Local: a health check of its own on
	// healthCheckNodePort.
	local  bool
	hcPort int32
}

// parseService validates a Service and returns what it asks for. Every
// problem is an *InputError that names the field.
func parseService(svc *v1.Service) (*spec, error) {
	sp := &spec{key: serviceKey(svc), lbName: loadBalancerName(svc), ports: map[v1.Protocol][]int32{}, affinity: affinityNone}
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
				Reason: "GCE network load balancers (target pools) support only TCP and UDP"}
		}
		if p.Port < 1 || p.Port > 65535 {
			return nil, &InputError{Field: fmt.Sprintf("spec.ports[%d].port", i), Value: strconv.Itoa(int(p.Port)), Reason: "not a port between 1 and 65535"}
		}
		if !slices.Contains(sp.ports[p.Protocol], p.Port) {
			sp.ports[p.Protocol] = append(sp.ports[p.Protocol], p.Port)
		}
	}
	for _, proto := range []v1.Protocol{v1.ProtocolTCP, v1.ProtocolUDP} {
		if ports := sp.ports[proto]; len(ports) > 0 {
			slices.Sort(ports)
			sp.protocols = append(sp.protocols, proto)
		}
	}
	if err := checkFirewallPorts(svc, sp.ports); err != nil {
		return nil, err
	}
	if len(svc.Spec.IPFamilies) > 0 && !slices.Contains(svc.Spec.IPFamilies, v1.IPv4Protocol) {
		return nil, &InputError{Field: "spec.ipFamilies", Value: fmt.Sprint(svc.Spec.IPFamilies),
			Reason: "GCE network load balancers with target pools are IPv4 only"}
	}

	var err error
	if sp.requestedIP, err = requestedIP(svc); err != nil {
		return nil, err
	}
	if sp.sourceRanges, err = sourceRanges(svc); err != nil {
		return nil, err
	}

	sp.tier = tierPremium
	if v, ok := svc.Annotations[NetworkTierAnnotation]; ok {
		switch strings.ToUpper(strings.TrimSpace(v)) {
		case tierPremium:
			sp.tier = tierPremium
		case tierStandard:
			sp.tier = tierStandard
		default:
			return nil, &InputError{Field: "metadata.annotations[" + NetworkTierAnnotation + "]", Value: v, Reason: "not a network tier; use Standard or Premium"}
		}
		sp.tierExplicit = true
	}

	if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
		sp.affinity = affinityClientIP
	}

	if sp.local, sp.hcPort, err = localTraffic(svc); err != nil {
		return nil, err
	}
	return sp, nil
}

// requestedIP is spec.loadBalancerIP, "" when unset.
func requestedIP(svc *v1.Service) (string, error) {
	ip := strings.TrimSpace(svc.Spec.LoadBalancerIP)
	if ip == "" {
		return "", nil
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is4() {
		return "", &InputError{Field: "spec.loadBalancerIP", Value: svc.Spec.LoadBalancerIP, Reason: "not an IPv4 address"}
	}
	return addr.String(), nil
}

// localTraffic reports whether the Service has externalTrafficPolicy Local,
// which gives it a health check of its own on healthCheckNodePort.
func localTraffic(svc *v1.Service) (bool, int32, error) {
	if svc.Spec.ExternalTrafficPolicy != v1.ServiceExternalTrafficPolicyLocal {
		return false, 0, nil
	}
	if svc.Spec.HealthCheckNodePort < 1 || svc.Spec.HealthCheckNodePort > 65535 {
		return false, 0, &InputError{Field: "spec.healthCheckNodePort", Value: strconv.Itoa(int(svc.Spec.HealthCheckNodePort)),
			Reason: "externalTrafficPolicy Local needs a health check node port"}
	}
	return true, svc.Spec.HealthCheckNodePort, nil
}

// sourceRanges returns the client ranges the firewall admits: the field, else
// the annotation, else everyone.
func sourceRanges(svc *v1.Service) ([]string, error) {
	field := "spec.loadBalancerSourceRanges"
	raw := svc.Spec.LoadBalancerSourceRanges
	if len(raw) == 0 {
		if v, ok := svc.Annotations[SourceRangesAnnotation]; ok && strings.TrimSpace(v) != "" {
			field = "metadata.annotations[" + SourceRangesAnnotation + "]"
			raw = strings.Split(v, ",")
		}
	}
	if len(raw) == 0 {
		return []string{"0.0.0.0/0"}, nil
	}
	var out []string
	for _, r := range raw {
		r = strings.TrimSpace(r)
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, &InputError{Field: field, Value: r, Reason: "not a CIDR such as 203.0.113.0/24"}
		}
		if !p.Addr().Is4() {
			return nil, &InputError{Field: field, Value: r, Reason: "an IPv6 range cannot reach an IPv4 load balancer, and a GCE firewall rule cannot mix IPv4 and IPv6"}
		}
		if s := p.Masked().String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

// portRange is the forwarding rule's range: from the lowest to the highest
// port, as the long-standing provider builds it. The firewall admits only
// the ports themselves.
func portRange(ports []int32) string {
	return fmt.Sprintf("%d-%d", ports[0], ports[len(ports)-1])
}

// checkFirewallPorts refuses ports that one GCE firewall rule cannot hold
// (each kind of load balancer opens its ports with one rule).
func checkFirewallPorts(svc *v1.Service, ports map[v1.Protocol][]int32) error {
	total := 0
	for _, a := range firewallAllowed(ports) {
		total += len(a.GetPorts())
	}
	if total > maxFirewallPorts {
		return &InputError{Field: "spec.ports", Value: fmt.Sprintf("%d ports", len(svc.Spec.Ports)),
			Reason: fmt.Sprintf("they make %d separate ports or port ranges; a GCE firewall rule holds at most %d", total, maxFirewallPorts)}
	}
	return nil
}
