package instances

import (
	"fmt"
	"net/netip"

	"cloud.google.com/go/compute/apiv1/computepb"
	v1 "k8s.io/api/core/v1"
)

// nodeAddresses returns the addresses of a VM as the long-standing GCE
// provider reports them (its nodeAddressesFromInstance), so that kubelets'
// --node-ip values that matched there match here too:
//   - per interface its IPv4 networkIP (InternalIP) and access configs' natIP
//     (ExternalIP);
//   - per dual-stack interface one IPv6 address, as InternalIP: the internal
//     ipv6Address, or on an interface of access type EXTERNAL the external
//     IPv6 of its DIRECT_IPV6 access config. GCE gives that external range to
//     the VM itself (no NAT), so it is the address a kubelet's dual-stack
//     --node-ip names; reporting it as ExternalIP would leave such a node
//     uninitialised;
//   - IPv4 addresses before IPv6 ones (the provider's order for IPv4 and
//     dual-stack clusters);
//   - then the VM's hostname, which the provider's API path leaves out and
//     gce-ccm has always reported.
func nodeAddresses(inst *computepb.Instance, project string) []v1.NodeAddress {
	var v4, v6 []v1.NodeAddress
	add := func(typ v1.NodeAddressType, ip string) {
		a, err := netip.ParseAddr(ip)
		switch {
		case err != nil:
			return
		case a.Is4() || a.Is4In6():
			v4 = append(v4, v1.NodeAddress{Type: typ, Address: ip})
		default:
			v6 = append(v6, v1.NodeAddress{Type: typ, Address: ip})
		}
	}
	for _, nic := range inst.GetNetworkInterfaces() {
		add(v1.NodeInternalIP, nic.GetNetworkIP())
		for _, ac := range nic.GetAccessConfigs() {
			add(v1.NodeExternalIP, ac.GetNatIP())
		}
		add(v1.NodeInternalIP, interfaceIPv6(nic))
	}
	hostname := inst.GetHostname()
	if hostname == "" {
		hostname = fmt.Sprintf("%s.%s.c.%s.internal", inst.GetName(), lastSegment(inst.GetZone()), project)
	}
	out := append(v4, v6...)
	return append(out, v1.NodeAddress{Type: v1.NodeHostName, Address: hostname})
}

// interfaceIPv6 is the one IPv6 address of an interface that the node
// reports: see nodeAddresses.
func interfaceIPv6(nic *computepb.NetworkInterface) string {
	if ip := nic.GetIpv6Address(); ip != "" {
		return ip
	}
	if nic.GetIpv6AccessType() != "EXTERNAL" {
		return ""
	}
	for _, ac := range nic.GetIpv6AccessConfigs() {
		if ip := ac.GetExternalIpv6(); ip != "" {
			return ip
		}
	}
	return ""
}
