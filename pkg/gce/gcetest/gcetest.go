// Package gcetest starts the fake Compute API and a gce.Cloud that talks to
// it over HTTP with the real clients, for the tests of the packages that use
// pkg/gce.
package gcetest

import (
	"context"
	"testing"

	"github.com/gce-ccm/gce-ccm/pkg/gce"
	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

// StartFake starts a fake on a free loopback port, seeded with vms, and
// stops it when the test ends.
func StartFake(t testing.TB, cfg fakecompute.Config, vms ...fakecompute.InstanceSeed) *fakecompute.Server {
	t.Helper()
	srv, err := fakecompute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for _, vm := range vms {
		if err := srv.AddInstance(vm); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// NewCloud returns a Cloud for cfg pointed at srv, closed when the test ends.
func NewCloud(t testing.TB, srv *fakecompute.Server, cfg gce.Config) *gce.Cloud {
	t.Helper()
	ctx := context.Background()
	cfg.APIEndpoint = srv.URL()
	if err := cfg.Complete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	hc, err := gce.NewHTTPClient(ctx, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := gce.New(ctx, cfg, hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cloud.Close)
	return cloud
}
