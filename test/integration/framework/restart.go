package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Restart stops kube-apiserver and etcd (kube-apiserver first) and starts
// both again with the same flags, ports and etcd data, as a control plane
// upgrade or a host reboot would; down is how long both stay stopped. It
// returns once kube-apiserver answers /readyz again. Clients keep working
// with the same configuration.
func (cp *ControlPlane) Restart(ctx context.Context, down time.Duration) error {
	if cp.etcd == nil || cp.apiserver == nil {
		return errors.New("restart: control plane not started")
	}
	cp.stopProcesses()
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ctx.Err()
	}
	etcd, err := restartProcess(cp.etcd, cp.Dir)
	if err != nil {
		return err
	}
	cp.etcd = etcd
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if err := etcd.waitReady(ctx, defaultStartTimeout, func(ctx context.Context) error {
		health, err := fetch(ctx, client, http.MethodGet, cp.EtcdURL+"/health", "", "")
		if err == nil && !strings.Contains(health, `"health":"true"`) {
			err = fmt.Errorf("unhealthy: %s", health)
		}
		return err
	}); err != nil {
		return err
	}
	apiserver, err := restartProcess(cp.apiserver, cp.Dir)
	if err != nil {
		return err
	}
	cp.apiserver = apiserver
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.adminConfig.CAData)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer tlsClient.CloseIdleConnections()
	return apiserver.waitReady(ctx, defaultStartTimeout, func(ctx context.Context) error {
		_, err := fetch(ctx, tlsClient, http.MethodGet, cp.URL+"/readyz", cp.adminConfig.BearerToken, "")
		return err
	})
}

// restartProcess starts a stopped process again with its command line,
// appending to its log.
func restartProcess(p *process, dir string) (*process, error) {
	if !p.exited() {
		return nil, fmt.Errorf("restart %s: still running", p.name)
	}
	return startProcess(p.name, p.cmd.Path, p.cmd.Args[1:], dir, p.logPath)
}
