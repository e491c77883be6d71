package gce

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

// Health checks of the healthChecks API (not the legacy HTTP ones target
// pools use) are global resources of the cluster's project; backend
// services of internal load balancers use them.

// GetHealthCheck returns one global health check.
func (c *Cloud) GetHealthCheck(ctx context.Context, name string) (*computepb.HealthCheck, error) {
	var hc *computepb.HealthCheck
	err := c.read(ctx, "healthChecks.get", func(ctx context.Context) error {
		var err error
		hc, err = c.healthChecks.Get(ctx, &computepb.GetHealthCheckRequest{Project: c.cfg.ProjectID, HealthCheck: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get health check %s: %w", name, err)
	}
	return hc, nil
}

// InsertHealthCheck creates a global health check and waits for it.
func (c *Cloud) InsertHealthCheck(ctx context.Context, hc *computepb.HealthCheck) error {
	err := c.write(ctx, "healthChecks.insert", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.healthChecks.Insert(ctx, &computepb.InsertHealthCheckRequest{
			Project: c.cfg.ProjectID, HealthCheckResource: hc, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("insert health check %s: %w", hc.GetName(), err)
	}
	return nil
}

// PatchHealthCheck changes the fields hc sets and waits for it.
func (c *Cloud) PatchHealthCheck(ctx context.Context, hc *computepb.HealthCheck) error {
	err := c.write(ctx, "healthChecks.patch", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.healthChecks.Patch(ctx, &computepb.PatchHealthCheckRequest{
			Project: c.cfg.ProjectID, HealthCheck: hc.GetName(), HealthCheckResource: hc, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("patch health check %s: %w", hc.GetName(), err)
	}
	return nil
}

// DeleteHealthCheck deletes a global health check and waits for it. GCE
// refuses (resourceInUseByAnotherResource) while a backend service uses it.
func (c *Cloud) DeleteHealthCheck(ctx context.Context, name string) error {
	err := c.write(ctx, "healthChecks.delete", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.healthChecks.Delete(ctx, &computepb.DeleteHealthCheckRequest{
			Project: c.cfg.ProjectID, HealthCheck: name, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("delete health check %s: %w", name, err)
	}
	return nil
}
