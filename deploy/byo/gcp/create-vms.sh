#!/usr/bin/env bash
# Creates the GCE side of the bring-your-own cluster "my-cluster" (see
# ../README.md): a custom role with exactly the permissions gce-ccm needs, a
# service account holding it for the control-plane VM (where gce-ccm runs),
# the firewall rules a routed pod network needs, and the VMs. Workers get no
# service account: nothing on them calls the Compute API.
#
# Not run by the tests (they have no GCE project); they check that its names
# agree with gce.conf and the kubeadm configuration.
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to your project id}"
ZONE="${ZONE:-us-central1-a}"
NETWORK="${NETWORK:-default}"
CLUSTER=my-cluster                 # kubeadm clusterName, gce-ccm --cluster-name
NODE_TAG="${CLUSTER}-node"         # gce.conf node-tags
POD_CIDR=10.244.0.0/16             # kubeadm podSubnet, gce-ccm --cluster-cidr
WORKERS="${WORKERS:-2}"
IMAGE=(--image-family=debian-12 --image-project=debian-cloud)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The role and the control plane's service account.
gcloud iam roles create gceCloudControllerManager --project="${PROJECT}" --file="${here}/iam-role.yaml"
gcloud iam service-accounts create "${CLUSTER}-ccm" --project="${PROJECT}" --display-name="gce-ccm of ${CLUSTER}"
SA="${CLUSTER}-ccm@${PROJECT}.iam.gserviceaccount.com"
gcloud projects add-iam-policy-binding "${PROJECT}" --member="serviceAccount:${SA}" \
	--role="projects/${PROJECT}/roles/gceCloudControllerManager" --condition=None

# Pods talk to pods on other VMs with their own IPs (routes, no overlay):
# the network must admit the pod range as a source, not only the VMs'.
gcloud compute firewall-rules create "${CLUSTER}-internal" --project="${PROJECT}" --network="${NETWORK}" \
	--allow=tcp,udp,icmp,sctp,esp,ah --source-tags="${NODE_TAG}" --source-ranges="${POD_CIDR}" --target-tags="${NODE_TAG}"
gcloud compute firewall-rules create "${CLUSTER}-apiserver" --project="${PROJECT}" --network="${NETWORK}" \
	--allow=tcp:6443 --source-ranges="${ADMIN_CIDR:-0.0.0.0/0}" --target-tags="${NODE_TAG}"

# canIpForward: a VM receives traffic for its pods' IPs only with it (gce-ccm
# makes no route to a VM without it). The tag is what the load balancers'
# firewall rules target. The scope cloud-platform leaves the permissions to
# IAM, that is to the role above.
gcloud compute instances create "${CLUSTER}-control-plane" --project="${PROJECT}" --zone="${ZONE}" \
	--machine-type=e2-standard-2 "${IMAGE[@]}" --network="${NETWORK}" \
	--can-ip-forward --tags="${NODE_TAG}" \
	--service-account="${SA}" --scopes=cloud-platform
for i in $(seq 1 "${WORKERS}"); do
	gcloud compute instances create "${CLUSTER}-worker-${i}" --project="${PROJECT}" --zone="${ZONE}" \
		--machine-type=e2-standard-2 "${IMAGE[@]}" --network="${NETWORK}" \
		--can-ip-forward --tags="${NODE_TAG}" \
		--no-service-account --no-scopes
done
