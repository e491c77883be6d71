package gce

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

// Target pools cannot be updated in place: affinity and the other settings
// are fixed at creation, so a change means a new pool. Membership and the
// health check have their own methods. GCE bounds the instances in one
// request; the caller chooses the batches.

// GetTargetPool returns one regional target pool.
func (c *Cloud) GetTargetPool(ctx context.Context, name string) (*computepb.TargetPool, error) {
	var tp *computepb.TargetPool
	err := c.read(ctx, "targetPools.get", func(ctx context.Context) error {
		var err error
		tp, err = c.targetPools.Get(ctx, &computepb.GetTargetPoolRequest{Project: c.cfg.ProjectID, Region: c.cfg.Region, TargetPool: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get target pool %s: %w", name, err)
	}
	return tp, nil
}

// InsertTargetPool creates a regional target pool and waits for it.
func (c *Cloud) InsertTargetPool(ctx context.Context, tp *computepb.TargetPool) error {
	err := c.write(ctx, "targetPools.insert", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.targetPools.Insert(ctx, &computepb.InsertTargetPoolRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, TargetPoolResource: tp, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("insert target pool %s with %d instances: %w", tp.GetName(), len(tp.GetInstances()), err)
	}
	return nil
}

// DeleteTargetPool deletes a regional target pool and waits for it.
func (c *Cloud) DeleteTargetPool(ctx context.Context, name string) error {
	err := c.write(ctx, "targetPools.delete", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.targetPools.Delete(ctx, &computepb.DeleteTargetPoolRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, TargetPool: name, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("delete target pool %s: %w", name, err)
	}
	return nil
}

// AddInstancesToTargetPool adds the instances (URLs) to a pool in one request.
func (c *Cloud) AddInstancesToTargetPool(ctx context.Context, name string, instances []string) error {
	err := c.write(ctx, "targetPools.addInstance", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.targetPools.AddInstance(ctx, &computepb.AddInstanceTargetPoolRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, TargetPool: name, RequestId: &requestID,
			TargetPoolsAddInstanceRequestResource: &computepb.TargetPoolsAddInstanceRequest{Instances: instanceRefs(instances)},
		})
	})
	if err != nil {
		return fmt.Errorf("add %d instances to target pool %s: %w", len(instances), name, err)
	}
	return nil
}

// RemoveInstancesFromTargetPool removes the instances (URLs) from a pool in
// one request.
func (c *Cloud) RemoveInstancesFromTargetPool(ctx context.Context, name string, instances []string) error {
	err := c.write(ctx, "targetPools.removeInstance", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.targetPools.RemoveInstance(ctx, &computepb.RemoveInstanceTargetPoolRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, TargetPool: name, RequestId: &requestID,
			TargetPoolsRemoveInstanceRequestResource: &computepb.TargetPoolsRemoveInstanceRequest{Instances: instanceRefs(instances)},
		})
	})
	if err != nil {
		return fmt.Errorf("remove %d instances from target pool %s: %w", len(instances), name, err)
	}
	return nil
}

// AddHealthCheckToTargetPool attaches a legacy HTTP health check (URL) to a
// pool; a pool has at most one.
func (c *Cloud) AddHealthCheckToTargetPool(ctx context.Context, name, healthCheck string) error {
	err := c.write(ctx, "targetPools.addHealthCheck", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.targetPools.AddHealthCheck(ctx, &computepb.AddHealthCheckTargetPoolRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, TargetPool: name, RequestId: &requestID,
			TargetPoolsAddHealthCheckRequestResource: &computepb.TargetPoolsAddHealthCheckRequest{
				HealthChecks: []*computepb.HealthCheckReference{{HealthCheck: &healthCheck}},
			},
		})
	})
	if err != nil {
		return fmt.Errorf("add health check %s to target pool %s: %w", healthCheck, name, err)
	}
	return nil
}

// RemoveHealthCheckFromTargetPool detaches a health check (URL) from a pool.
func (c *Cloud) RemoveHealthCheckFromTargetPool(ctx context.Context, name, healthCheck string) error {
	err := c.write(ctx, "targetPools.removeHealthCheck", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.targetPools.RemoveHealthCheck(ctx, &computepb.RemoveHealthCheckTargetPoolRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, TargetPool: name, RequestId: &requestID,
			TargetPoolsRemoveHealthCheckRequestResource: &computepb.TargetPoolsRemoveHealthCheckRequest{
				HealthChecks: []*computepb.HealthCheckReference{{HealthCheck: &healthCheck}},
			},
		})
	})
	if err != nil {
		return fmt.Errorf("remove health check %s from target pool %s: %w", healthCheck, name, err)
	}
	return nil
}

func instanceRefs(links []string) []*computepb.InstanceReference {
	out := make([]*computepb.InstanceReference, len(links))
	for i := range links {
		out[i] = &computepb.InstanceReference{Instance: &links[i]}
	}
	return out
}
