package gce

import (
	"context"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	computev1 "google.golang.org/api/compute/v1"
)

// Lists of the load balancer resources that the controllers only ever read
// by name; the audit (pkg/audit) reads them whole, one paged list per kind,
// to find what no Service accounts for.

// ListTargetPools lists the region's target pools that match filter ("" for
// all), in pages of 500.
func (c *Cloud) ListTargetPools(ctx context.Context, filter string) ([]*computepb.TargetPool, error) {
	var out []*computepb.TargetPool
	err := c.read(ctx, "targetPools.list", func(ctx context.Context) error {
		var err error
		out, err = drain(c.targetPools.List(ctx, &computepb.ListTargetPoolsRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, Filter: optionalFilter(filter), MaxResults: ptr(uint32(500)),
		}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list target pools (filter %s): %w", filter, err)
	}
	return out, nil
}

// ListFirewalls lists the network project's firewall rules that match
// filter ("" for all), in pages of 500.
func (c *Cloud) ListFirewalls(ctx context.Context, filter string) ([]*computepb.Firewall, error) {
	var out []*computepb.Firewall
	err := c.read(ctx, "firewalls.list", func(ctx context.Context) error {
		var err error
		out, err = drain(c.firewalls.List(ctx, &computepb.ListFirewallsRequest{
			Project: c.cfg.NetworkProjectID, Filter: optionalFilter(filter), MaxResults: ptr(uint32(500)),
		}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list firewalls (filter %s): %w", filter, err)
	}
	return out, nil
}

// ListHTTPHealthChecks lists the project's legacy HTTP health checks that
// match filter ("" for all), in pages of 500.
func (c *Cloud) ListHTTPHealthChecks(ctx context.Context, filter string) ([]*HTTPHealthCheck, error) {
	var out []*HTTPHealthCheck
	err := c.read(ctx, "httpHealthChecks.list", func(ctx context.Context) error {
		out = nil
		call := c.httpHealthChecks.List(c.cfg.ProjectID).MaxResults(500).Context(ctx)
		if filter != "" {
			call = call.Filter(filter)
		}
		return call.Pages(ctx, func(page *computev1.HttpHealthCheckList) error {
			for _, h := range page.Items {
				out = append(out, healthCheckFromV1(h))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list HTTP health checks (filter %s): %w", filter, err)
	}
	return out, nil
}

// optionalFilter leaves an empty filter out of the request.
func optionalFilter(filter string) *string {
	if filter == "" {
		return nil
	}
	return &filter
}

// ListHealthChecks lists the project's health checks of the healthChecks
// API (those of internal load balancers) that match filter ("" for all),
// in pages of 500.
func (c *Cloud) ListHealthChecks(ctx context.Context, filter string) ([]*computepb.HealthCheck, error) {
	var out []*computepb.HealthCheck
	err := c.read(ctx, "healthChecks.list", func(ctx context.Context) error {
		var err error
		out, err = drain(c.healthChecks.List(ctx, &computepb.ListHealthChecksRequest{
			Project: c.cfg.ProjectID, Filter: optionalFilter(filter), MaxResults: ptr(uint32(500)),
		}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list health checks (filter %s): %w", filter, err)
	}
	return out, nil
}
