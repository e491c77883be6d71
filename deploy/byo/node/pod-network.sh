#!/usr/bin/env bash
# Run as root on every node after it joined (and on the control plane after
# kubeadm init): the pod network of a routed cluster, with no overlay. The
# node's pod CIDR (from kube-controller-manager) becomes a Linux bridge with
# host-local addresses; gce-ccm's GCE routes carry traffic between nodes.
# Needs the CNI plugins (bridge, host-local, portmap, loopback) in
# /opt/cni/bin: https://github.com/containernetworking/plugins/releases.
set -euo pipefail

POD_CIDR_ALL=10.244.0.0/16   # kubeadm podSubnet
kubeconfig=/etc/kubernetes/kubelet.conf
node="$(hostname)"
cidr=""
for _ in $(seq 1 60); do
	cidr="$(kubectl --kubeconfig="${kubeconfig}" get node "${node}" -o jsonpath='{.spec.podCIDR}' 2>/dev/null || true)"
	[[ -n "${cidr}" ]] && break
	sleep 5
done
[[ -n "${cidr}" ]] || { echo "node ${node} has no pod CIDR: does kube-controller-manager run with --allocate-node-cidrs?" >&2; exit 1; }

mkdir -p /etc/cni/net.d
cat >/etc/cni/net.d/10-gce-routes.conflist <<CONF
{
  "cniVersion": "1.0.0",
  "name": "gce-routes",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "${cidr}"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
CONF
# Pods reach the outside world as their node; other pods see their own IPs.
iptables -t nat -C POSTROUTING -s "${POD_CIDR_ALL}" ! -d "${POD_CIDR_ALL}" -j MASQUERADE 2>/dev/null ||
	iptables -t nat -A POSTROUTING -s "${POD_CIDR_ALL}" ! -d "${POD_CIDR_ALL}" -j MASQUERADE
sysctl -w net.ipv4.ip_forward=1 >/dev/null
echo "pod network of ${node}: ${cidr}"
