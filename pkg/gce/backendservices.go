package gce

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

// Regional backend services of internal load balancers live in the
// cluster's project and region.

// GetRegionBackendService returns one regional backend service.
func (c *Cloud) GetRegionBackendService(ctx context.Context, name string) (*computepb.BackendService, error) {
	var bs *computepb.BackendService
	err := c.read(ctx, "regionBackendServices.get", func(ctx context.Context) error {
		var err error
		bs, err = c.backendServices.Get(ctx, &computepb.GetRegionBackendServiceRequest{Project: c.cfg.ProjectID, Region: c.cfg.Region, BackendService: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get backend service %s: %w", name, err)
	}
	return bs, nil
}

// ListRegionBackendServices lists the region's backend services that match
// filter, in pages of 500.
func (c *Cloud) ListRegionBackendServices(ctx context.Context, filter string) ([]*computepb.BackendService, error) {
	var out []*computepb.BackendService
	err := c.read(ctx, "regionBackendServices.list", func(ctx context.Context) error {
		var err error
		out, err = drain(c.backendServices.List(ctx, &computepb.ListRegionBackendServicesRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, Filter: &filter, MaxResults: ptr(uint32(500)),
		}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list backend services (filter %s): %w", filter, err)
	}
	return out, nil
}

// InsertRegionBackendService creates a regional backend service and waits
// for it.
func (c *Cloud) InsertRegionBackendService(ctx context.Context, bs *computepb.BackendService) error {
	err := c.write(ctx, "regionBackendServices.insert", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.backendServices.Insert(ctx, &computepb.InsertRegionBackendServiceRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, BackendServiceResource: bs, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("insert backend service %s: %w", bs.GetName(), err)
	}
	return nil
}

// PatchRegionBackendService changes the fields bs sets (lists are replaced
// whole) and waits for it; bs.Fingerprint, when set, makes GCE refuse the
// change if the backend service changed since it was read.
func (c *Cloud) PatchRegionBackendService(ctx context.Context, bs *computepb.BackendService) error {
	err := c.write(ctx, "regionBackendServices.patch", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.backendServices.Patch(ctx, &computepb.PatchRegionBackendServiceRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, BackendService: bs.GetName(), BackendServiceResource: bs, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("patch backend service %s: %w", bs.GetName(), err)
	}
	return nil
}

// DeleteRegionBackendService deletes a regional backend service and waits
// for it. GCE refuses (resourceInUseByAnotherResource) while a forwarding
// rule uses it.
func (c *Cloud) DeleteRegionBackendService(ctx context.Context, name string) error {
	err := c.write(ctx, "regionBackendServices.delete", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.backendServices.Delete(ctx, &computepb.DeleteRegionBackendServiceRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, BackendService: name, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("delete backend service %s: %w", name, err)
	}
	return nil
}
