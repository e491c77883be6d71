package provider

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ReadClusterID reads the cluster id from ConfigMap kube-system/ingress-uid
// once, as the manager does, without creating it: found is false when the
// ConfigMap does not exist.
func ReadClusterID(ctx context.Context, client kubernetes.Interface) (id string, found bool, err error) {
	cm, err := client.CoreV1().ConfigMaps(clusterIDNamespace).Get(ctx, clusterIDConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read ConfigMap %s/%s: %w", clusterIDNamespace, clusterIDConfigMap, err)
	}
	id, err = idOf(cm)
	return id, true, err
}
