package loadbalancer

import (
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

// fuzzService builds a Service from fuzzed fields; the annotations string
// is "key=value" lines.
func fuzzService(uid, proto1 string, port1 int32, proto2 string, port2 int32, lbIP, ranges, annotations string, local bool, hcPort int32, family string) *v1.Service {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: types.UID(uid), Annotations: map[string]string{}},
		Spec: v1.ServiceSpec{
			Type:                v1.ServiceTypeLoadBalancer,
			Ports:               []v1.ServicePort{{Protocol: v1.Protocol(proto1), Port: port1}},
			LoadBalancerIP:      lbIP,
			HealthCheckNodePort: hcPort,
		},
	}
	if proto2 != "" || port2 != 0 {
		svc.Spec.Ports = append(svc.Spec.Ports, v1.ServicePort{Protocol: v1.Protocol(proto2), Port: port2})
	}
	if ranges != "" {
		svc.Spec.LoadBalancerSourceRanges = strings.Split(ranges, ",")
	}
	for _, line := range strings.Split(annotations, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			svc.Annotations[k] = v
		}
	}
	if local {
		svc.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
	}
	if family != "" {
		svc.Spec.IPFamilies = []v1.IPFamily{v1.IPFamily(family)}
	}
	return svc
}

// uuidRE matches the UIDs the API server gives objects.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// maxErrorLen bounds what an error about a Service may say: field names
// and reasons plus a quoted value of at most 256 bytes (each byte of which
// %q may spell with up to 10 characters).
const maxErrorLen = 4096

func checkInputError(t *testing.T, what string, err error) {
	t.Helper()
	var in *InputError
	if !errors.As(err, &in) {
		t.Fatalf("%s: error %v is not an *InputError", what, err)
	}
	if len(err.Error()) > maxErrorLen {
		t.Fatalf("%s: error is %d bytes", what, len(err.Error()))
	}
}

func validRanges(t *testing.T, ranges []string) {
	t.Helper()
	if len(ranges) == 0 || !slices.IsSorted(ranges) {
		t.Fatalf("source ranges %q are empty or unsorted", ranges)
	}
	for i, r := range ranges {
		p, err := netip.ParsePrefix(r)
		if err != nil || !p.Addr().Is4() || p.Masked().String() != r || i > 0 && ranges[i-1] == r {
			t.Fatalf("source range %q of %q is not a masked IPv4 CIDR, or repeated", r, ranges)
		}
	}
}

// FuzzParseService: a Service is outside input. Whatever it holds, the
// parsers do not panic; an error is an *InputError of bounded size; what
// they accept is what GCE can build (ports, protocols, masked IPv4 ranges,
// an IPv4 address, a tier, valid names); and a Service whose annotations
// ask for an internal load balancer is never given an external one.
func FuzzParseService(f *testing.F) {
	f.Add("11111111-2222-4333-8444-555555555555", "TCP", int32(80), "", int32(0), "", "", "", false, int32(0), "")
	f.Add("u", "UDP", int32(53), "TCP", int32(53), "198.51.100.7", "10.0.0.0/8,192.168.1.7/24", "cloud.google.com/network-tier=Standard", true, int32(30000), "IPv4")
	f.Add("u", "SCTP", int32(0), "tcp", int32(70000), " 1.2.3.4 ", "::/0", "networking.gke.io/load-balancer-type=Internal\nnetworking.gke.io/internal-load-balancer-subnet=sub-1", false, int32(-1), "IPv6")
	f.Add("u", "", int32(443), "", int32(0), "1.2.3.4.5", "", "service.beta.kubernetes.io/load-balancer-source-ranges= 10.1.0.0/16 , 10.1.0.0/16\ncloud.google.com/load-balancer-type=internal", false, int32(0), "")
	f.Add("u", "TCP", int32(80), "", int32(0), "", "", "networking.gke.io/load-balancer-type=External\ncloud.google.com/load-balancer-type=Internal", false, int32(0), "")
	f.Add("u", "TCP", int32(80), "", int32(0), "", "", "networking.gke.io/load-balancer-type=bogus\nnetworking.gke.io/internal-load-balancer-allow-global-access=yes\nnetworking.gke.io/l4-rbs=enabled", false, int32(0), "")
	f.Fuzz(func(t *testing.T, uid, proto1 string, port1 int32, proto2 string, port2 int32, lbIP, ranges, annotations string, local bool, hcPort int32, family string) {
		svc := fuzzService(uid, proto1, port1, proto2, port2, lbIP, ranges, annotations, local, hcPort, family)

		k, kerr := serviceKind(svc)
		if kerr != nil {
			checkInputError(t, "serviceKind", kerr)
		}
		for _, key := range []string{TypeAnnotation, DeprecatedTypeAnnotation} {
			if v := svc.Annotations[key]; (v == "Internal" || v == "internal") && k == kindExternal {
				t.Fatalf("annotation %s=%s, yet the Service is given an external load balancer", key, v)
			}
		}

		if sp, err := parseService(svc); err != nil {
			checkInputError(t, "parseService", err)
		} else {
			// The name is "a" + the UID without dashes, as upstream; the API
			// server makes UIDs lowercase UUIDs, and only those make valid
			// names (the corpus keeps an upper-case UID the fuzzer found).
			if len(sp.protocols) == 0 || uuidRE.MatchString(uid) && !gce.ValidName(sp.lbName) {
				t.Fatalf("accepted spec has protocols %v, name %q", sp.protocols, sp.lbName)
			}
			for proto, ports := range sp.ports {
				if proto != v1.ProtocolTCP && proto != v1.ProtocolUDP || !slices.IsSorted(ports) || ports[0] < 1 || ports[len(ports)-1] > 65535 {
					t.Fatalf("accepted ports %s %v", proto, ports)
				}
				_ = portRange(ports)
			}
			total := 0
			for _, a := range firewallAllowed(sp.ports) {
				total += len(a.GetPorts())
			}
			if total > maxFirewallPorts {
				t.Fatalf("accepted %d firewall ports", total)
			}
			validRanges(t, sp.sourceRanges)
			if sp.tier != tierPremium && sp.tier != tierStandard {
				t.Fatalf("accepted tier %q", sp.tier)
			}
			if sp.requestedIP != "" {
				if a, err := netip.ParseAddr(sp.requestedIP); err != nil || !a.Is4() || a.String() != sp.requestedIP {
					t.Fatalf("accepted IP %q", sp.requestedIP)
				}
			}
			if sp.local && (sp.hcPort < 1 || sp.hcPort > 65535) {
				t.Fatalf("accepted health check port %d", sp.hcPort)
			}
		}

		if sp, err := parseInternalService(svc); err != nil {
			checkInputError(t, "parseInternalService", err)
		} else {
			if sp.protocol != v1.ProtocolTCP && sp.protocol != v1.ProtocolUDP || uuidRE.MatchString(uid) && !gce.ValidName(sp.lbName) {
				t.Fatalf("accepted internal spec protocol %q name %q", sp.protocol, sp.lbName)
			}
			if sp.subnet != "" && !gce.ValidName(sp.subnet) {
				t.Fatalf("accepted subnet %q", sp.subnet)
			}
			if sp.allPorts == (len(sp.ports) > 0) {
				t.Fatalf("accepted ports %v with allPorts %v", sp.ports, sp.allPorts)
			}
			validRanges(t, sp.sourceRanges)
		}
	})
}
