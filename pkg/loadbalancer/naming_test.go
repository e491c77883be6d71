package loadbalancer

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestNamesGolden pins every name and description: they must stay those of
// the long-standing Kubernetes GCE provider, or load balancers it made
// would be recreated instead of adopted.
func TestNamesGolden(t *testing.T) {
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"}}
	lb := loadBalancerName(svc)
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%-36s %s\n", k, v) }
	line("loadBalancerName", lb)
	line("forwardingRuleNames", strings.Join(forwardingRuleNames(lb), " "))
	line("targetPoolNames", strings.Join(targetPoolNames(lb), " "))
	line("firewallName", firewallName(lb))
	line("localHealthCheckName", localHealthCheckName(lb))
	line("localHealthCheckFirewallName", localHealthCheckFirewallName(lb))
	line("nodesHealthCheckName", nodesHealthCheckName("my-cluster"))
	line("nodesHealthCheckFirewallName", nodesHealthCheckFirewallName("my-cluster"))
	line("serviceDescription", serviceDescription(serviceKey(svc)))
	line("firewallDescription", firewallDescription(serviceKey(svc), "203.0.113.7"))
	line("healthCheckDescription(local)", healthCheckDescription(localHealthCheckName(lb)))
	line("healthCheckDescription(nodes)", healthCheckDescription(nodesHealthCheckName("my-cluster")))
	line("nodesHealthCheckFirewallDescription", nodesHealthCheckFirewallDescription("my-cluster"))
	line("instanceURL", instanceURL("p", "us-central1-a", "vm"))
	line("targetPoolURL", targetPoolURL("p", "us-central1", lb))
	line("healthCheckURL", healthCheckURL("p", lb))
	// Internal load balancers: the shared backend service names are those
	// the long-standing provider computes for these inputs (SHA-1 of the
	// session affinity, first 16 hex digits).
	line("instanceGroupName", instanceGroupName("my-cluster"))
	line("backendServiceName", backendServiceName(lb, "my-cluster", false, []v1.Protocol{v1.ProtocolTCP}, v1.ServiceAffinityNone))
	line("backendServiceName(shared,tcp,None)", backendServiceName(lb, "my-cluster", true, []v1.Protocol{v1.ProtocolTCP}, v1.ServiceAffinityNone))
	line("backendServiceName(shared,udp,ClientIP)", backendServiceName(lb, "my-cluster", true, []v1.Protocol{v1.ProtocolUDP}, v1.ServiceAffinityClientIP))
	line("backendServiceName(shared,udp+tcp,\"\")", backendServiceName(lb, "my-cluster", true, []v1.Protocol{v1.ProtocolUDP, v1.ProtocolTCP}, ""))
	line("backendServiceDescription", backendServiceDescription(serviceKey(svc), false))
	line("backendServiceDescription(shared)", backendServiceDescription(serviceKey(svc), true))
	line("internalHealthCheckName(local)", internalHealthCheckName(lb, "my-cluster", false))
	line("internalHealthCheckName(shared)", internalHealthCheckName(lb, "my-cluster", true))
	line("internalHealthCheckFirewallName", internalHealthCheckFirewallName(internalHealthCheckName(lb, "my-cluster", false)))
	line("internalHealthCheckFirewallName(sh)", internalHealthCheckFirewallName(internalHealthCheckName(lb, "my-cluster", true)))
	line("internalHealthCheckDescription", internalHealthCheckDescription(serviceKey(svc), false))
	line("internalHealthCheckDescription(sh)", internalHealthCheckDescription(serviceKey(svc), true))
	line("instanceGroupURL", instanceGroupURL("p", "us-central1-a", instanceGroupName("my-cluster")))
	line("backendServiceURL", backendServiceURL("p", "us-central1", lb))
	line("internalHealthCheckURL", internalHealthCheckURL("p", lb))
	line("subnetworkURL", subnetworkURL("p", "us-central1", "default"))
	got := b.String()

	path := filepath.Join("testdata", "names.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestNamesGolden -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("names changed (-want +got):\n%s", diff)
	}
	for _, name := range []string{lb, firewallName(lb), localHealthCheckFirewallName(lb), alternateTargetPoolName(lb),
		forwardingRuleName(lb, v1.ProtocolUDP), nodesHealthCheckFirewallName("my-cluster"), instanceGroupName("0123456789abcdef"),
		backendServiceName(lb, "0123456789abcdef", true, []v1.Protocol{v1.ProtocolUDP}, v1.ServiceAffinityClientIP),
		internalHealthCheckFirewallName(lb), internalHealthCheckFirewallName(nodesHealthCheckName("0123456789abcdef"))} {
		if !gce.ValidName(name) {
			t.Errorf("%q is not a valid GCE name", name)
		}
	}
}

func TestDescriptionValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, description, key, want string
	}{
		{"service marker", `{"kubernetes.io/service-name":"ns/a"}`, serviceNameKey, "ns/a"},
		{"firewall marker", `{"kubernetes.io/service-name":"ns/a", "kubernetes.io/service-ip":"1.2.3.4"}`, serviceIPKey, "1.2.3.4"},
		{"not JSON", "made by hand", serviceNameKey, ""},
		{"other key", `{"owner":"ns/a"}`, serviceNameKey, ""},
		{"not a string", `{"kubernetes.io/service-name":7}`, serviceNameKey, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := descriptionValue(tc.description, tc.key); got != tc.want {
				t.Errorf("descriptionValue(%q, %q) = %q, want %q", tc.description, tc.key, got, tc.want)
			}
		})
	}
}

func TestClusterID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		source  ClusterIDSource
		want    string
		wantErr bool
	}{
		{name: "upstream id", source: StaticClusterID("6fae00c0892040ff"), want: "6fae00c0892040ff"},
		{name: "no source", wantErr: true},
		{name: "source not ready", source: failingClusterID{}, wantErr: true},
		{name: "invalid characters", source: StaticClusterID("My_Cluster"), wantErr: true},
		{name: "too long", source: StaticClusterID(strings.Repeat("c", 60)), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(nil, Options{ClusterID: tc.source})
			got, err := b.clusterID()
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("clusterID() = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

type failingClusterID struct{}

func (failingClusterID) ClusterID() (string, error) { return "", errors.New("not read yet") }
