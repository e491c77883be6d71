package framework

import (
	"context"
	"fmt"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// serviceAccountTokenTTL outlives any test or demo run.
const serviceAccountTokenTTL = 24 * 60 * 60 // seconds

// ServiceAccountKubeconfig mints a token for the existing ServiceAccount
// namespace/name with the TokenRequest API and writes a kubeconfig that
// authenticates with it, so that a program run with it has exactly the RBAC
// permissions of that ServiceAccount. It returns the file's path, in Dir.
func (cp *ControlPlane) ServiceAccountKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	client, err := kubernetes.NewForConfig(cp.AdminConfig())
	if err != nil {
		return "", err
	}
	ttl := int64(serviceAccountTokenTTL)
	req := &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl},
	}
	resp, err := client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request token for service account %s/%s: %w", namespace, name, err)
	}
	path := filepath.Join(cp.Dir, fmt.Sprintf("serviceaccount-%s-%s.kubeconfig", namespace, name))
	user := fmt.Sprintf("system:serviceaccount:%s:%s", namespace, name)
	if err := writeKubeconfig(path, cp.URL, cp.adminConfig.CAData, user, resp.Status.Token); err != nil {
		return "", fmt.Errorf("write kubeconfig for service account %s/%s: %w", namespace, name, err)
	}
	return path, nil
}

// writeKubeconfig writes a self-contained kubeconfig (CA embedded) for a user
// that authenticates with a bearer token.
func writeKubeconfig(path, server string, caPEM []byte, user, token string) error {
	const name = "gce-ccm-test"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}
