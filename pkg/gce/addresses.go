package gce

import (
	"context"
	"errors"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
)

// Load balancer addresses, forwarding rules and target pools are regional
// resources of the cluster's project, in the cluster's region.

// GetAddress returns one regional address.
func (c *Cloud) GetAddress(ctx context.Context, name string) (*computepb.Address, error) {
	var a *computepb.Address
	err := c.read(ctx, "addresses.get", func(ctx context.Context) error {
		var err error
		a, err = c.addresses.Get(ctx, &computepb.GetAddressRequest{Project: c.cfg.ProjectID, Region: c.cfg.Region, Address: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get address %s: %w", name, err)
	}
	return a, nil
}

// ListAddresses lists the region's addresses that match filter, e.g.
// `address eq "203.0.113.7"`, in pages of 500.
func (c *Cloud) ListAddresses(ctx context.Context, filter string) ([]*computepb.Address, error) {
	var out []*computepb.Address
	err := c.read(ctx, "addresses.list", func(ctx context.Context) error {
		var err error
		out, err = drain(c.addresses.List(ctx, &computepb.ListAddressesRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, Filter: &filter, MaxResults: ptr(uint32(500)),
		}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list addresses (filter %s): %w", filter, err)
	}
	return out, nil
}

// InsertAddress reserves a regional address and waits for it. Setting
// addr.Address asks for that IP; when a forwarding rule already uses it
// ephemerally, GCE promotes it to static.
func (c *Cloud) InsertAddress(ctx context.Context, addr *computepb.Address) error {
	err := c.write(ctx, "addresses.insert", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.addresses.Insert(ctx, &computepb.InsertAddressRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, AddressResource: addr, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("insert address %s: %w", addr.GetName(), err)
	}
	return nil
}

// DeleteAddress releases a regional address and waits for it.
func (c *Cloud) DeleteAddress(ctx context.Context, name string) error {
	err := c.write(ctx, "addresses.delete", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.addresses.Delete(ctx, &computepb.DeleteAddressRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, Address: name, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("delete address %s: %w", name, err)
	}
	return nil
}

// drain reads every item of a list iterator; the iterator pages on its own.
func drain[T any](it interface{ Next() (T, error) }) ([]T, error) {
	var out []T
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}
