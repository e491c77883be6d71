package gce

import (
	"context"
	"errors"
	"fmt"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
)

// Unmanaged instance groups are zonal resources of the cluster's project;
// internal load balancers' backend services point at them. GCE bounds the
// instances in one addInstances or removeInstances request; the caller
// chooses the batches.

// GetInstanceGroup returns one zonal instance group.
func (c *Cloud) GetInstanceGroup(ctx context.Context, zone, name string) (*computepb.InstanceGroup, error) {
	var ig *computepb.InstanceGroup
	err := c.read(ctx, "instanceGroups.get", func(ctx context.Context) error {
		var err error
		ig, err = c.instanceGroups.Get(ctx, &computepb.GetInstanceGroupRequest{Project: c.cfg.ProjectID, Zone: zone, InstanceGroup: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get instance group %s/%s: %w", zone, name, err)
	}
	return ig, nil
}

// ListInstanceGroups returns the instance groups that match filter in
// every zone of the cluster's region, with one paged aggregated list.
func (c *Cloud) ListInstanceGroups(ctx context.Context, filter string) ([]*computepb.InstanceGroup, error) {
	var out []*computepb.InstanceGroup
	prefix := "zones/" + c.cfg.Region + "-"
	err := c.read(ctx, "instanceGroups.aggregatedList", func(ctx context.Context) error {
		it := c.instanceGroups.AggregatedList(ctx, &computepb.AggregatedListInstanceGroupsRequest{
			Project: c.cfg.ProjectID, Filter: &filter, MaxResults: ptr(uint32(500)),
		})
		for {
			pair, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			if strings.HasPrefix(pair.Key, prefix) {
				out = append(out, pair.Value.GetInstanceGroups()...)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list instance groups (filter %s): %w", filter, err)
	}
	return out, nil
}

// InsertInstanceGroup creates an unmanaged instance group and waits for it.
func (c *Cloud) InsertInstanceGroup(ctx context.Context, zone string, ig *computepb.InstanceGroup) error {
	err := c.write(ctx, "instanceGroups.insert", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.instanceGroups.Insert(ctx, &computepb.InsertInstanceGroupRequest{
			Project: c.cfg.ProjectID, Zone: zone, InstanceGroupResource: ig, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("insert instance group %s/%s: %w", zone, ig.GetName(), err)
	}
	return nil
}

// DeleteInstanceGroup deletes an instance group and waits for it. GCE
// refuses (resourceInUseByAnotherResource) while a backend service uses it.
func (c *Cloud) DeleteInstanceGroup(ctx context.Context, zone, name string) error {
	err := c.write(ctx, "instanceGroups.delete", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.instanceGroups.Delete(ctx, &computepb.DeleteInstanceGroupRequest{
			Project: c.cfg.ProjectID, Zone: zone, InstanceGroup: name, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("delete instance group %s/%s: %w", zone, name, err)
	}
	return nil
}

// ListInstanceGroupInstances returns the URLs of the instances in a group,
// whatever their state.
func (c *Cloud) ListInstanceGroupInstances(ctx context.Context, zone, name string) ([]string, error) {
	var out []string
	err := c.read(ctx, "instanceGroups.listInstances", func(ctx context.Context) error {
		list, err := drain(c.instanceGroups.ListInstances(ctx, &computepb.ListInstancesInstanceGroupsRequest{
			Project: c.cfg.ProjectID, Zone: zone, InstanceGroup: name, MaxResults: ptr(uint32(500)),
			InstanceGroupsListInstancesRequestResource: &computepb.InstanceGroupsListInstancesRequest{InstanceState: ptr("ALL")},
		}))
		for _, i := range list {
			out = append(out, i.GetInstance())
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list instances of instance group %s/%s: %w", zone, name, err)
	}
	return out, nil
}

// AddInstancesToInstanceGroup adds the instances (URLs) to a group in one
// request.
func (c *Cloud) AddInstancesToInstanceGroup(ctx context.Context, zone, name string, instances []string) error {
	err := c.write(ctx, "instanceGroups.addInstances", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.instanceGroups.AddInstances(ctx, &computepb.AddInstancesInstanceGroupRequest{
			Project: c.cfg.ProjectID, Zone: zone, InstanceGroup: name, RequestId: &requestID,
			InstanceGroupsAddInstancesRequestResource: &computepb.InstanceGroupsAddInstancesRequest{Instances: instanceRefs(instances)},
		})
	})
	if err != nil {
		return fmt.Errorf("add %d instances to instance group %s/%s: %w", len(instances), zone, name, err)
	}
	return nil
}

// RemoveInstancesFromInstanceGroup removes the instances (URLs) from a
// group in one request.
func (c *Cloud) RemoveInstancesFromInstanceGroup(ctx context.Context, zone, name string, instances []string) error {
	err := c.write(ctx, "instanceGroups.removeInstances", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.instanceGroups.RemoveInstances(ctx, &computepb.RemoveInstancesInstanceGroupRequest{
			Project: c.cfg.ProjectID, Zone: zone, InstanceGroup: name, RequestId: &requestID,
			InstanceGroupsRemoveInstancesRequestResource: &computepb.InstanceGroupsRemoveInstancesRequest{Instances: instanceRefs(instances)},
		})
	})
	if err != nil {
		return fmt.Errorf("remove %d instances from instance group %s/%s: %w", len(instances), zone, name, err)
	}
	return nil
}
