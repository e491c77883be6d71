package gce

import (
	"context"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// Subnetworks belong to the network project (the Shared VPC host, when
// there is one), in the cluster's region. gce-ccm only reads them: an
// internal load balancer takes its IP from one.

// GetSubnetwork returns one subnetwork of the cluster's region.
func (c *Cloud) GetSubnetwork(ctx context.Context, name string) (*computepb.Subnetwork, error) {
	var sn *computepb.Subnetwork
	err := c.read(ctx, "subnetworks.get", func(ctx context.Context) error {
		var err error
		sn, err = c.subnetworks.Get(ctx, &computepb.GetSubnetworkRequest{Project: c.networkProject(), Region: c.cfg.Region, Subnetwork: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get subnetwork %s: %w", name, err)
	}
	return sn, nil
}

// ListSubnetworks lists the region's subnetworks that match filter, e.g.
// `network eq ".*/networks/default"`.
func (c *Cloud) ListSubnetworks(ctx context.Context, filter string) ([]*computepb.Subnetwork, error) {
	var out []*computepb.Subnetwork
	err := c.read(ctx, "subnetworks.list", func(ctx context.Context) error {
		var err error
		out, err = drain(c.subnetworks.List(ctx, &computepb.ListSubnetworksRequest{
			Project: c.networkProject(), Region: c.cfg.Region, Filter: &filter, MaxResults: ptr(uint32(500)),
		}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list subnetworks (filter %s): %w", filter, err)
	}
	return out, nil
}

func (c *Cloud) networkProject() string {
	if c.cfg.NetworkProjectID != "" {
		return c.cfg.NetworkProjectID
	}
	return c.cfg.ProjectID
}
