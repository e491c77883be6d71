package gce

import (
	"context"
	"errors"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
)

// Routes live in the network project: the Shared VPC host when there is one.

// ListRoutes lists the network project's routes that match filter, in pages
// of 500.
func (c *Cloud) ListRoutes(ctx context.Context, filter string) ([]*computepb.Route, error) {
	var out []*computepb.Route
	err := c.read(ctx, "routes.list", func(ctx context.Context) error {
		it := c.routes.List(ctx, &computepb.ListRoutesRequest{Project: c.cfg.NetworkProjectID, Filter: &filter, MaxResults: ptr(uint32(500))})
		for {
			r, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, r)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return out, nil
}

// GetRoute returns one route.
func (c *Cloud) GetRoute(ctx context.Context, name string) (*computepb.Route, error) {
	var r *computepb.Route
	err := c.read(ctx, "routes.get", func(ctx context.Context) error {
		var err error
		r, err = c.routes.Get(ctx, &computepb.GetRouteRequest{Project: c.cfg.NetworkProjectID, Route: name})
		return err
	})
	return r, err
}

// InsertRoute creates a route and waits for it.
func (c *Cloud) InsertRoute(ctx context.Context, route *computepb.Route) error {
	return c.write(ctx, "routes.insert", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.routes.Insert(ctx, &computepb.InsertRouteRequest{Project: c.cfg.NetworkProjectID, RouteResource: route, RequestId: &requestID})
	})
}

// DeleteRoute deletes a route and waits for it.
func (c *Cloud) DeleteRoute(ctx context.Context, name string) error {
	return c.write(ctx, "routes.delete", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.routes.Delete(ctx, &computepb.DeleteRouteRequest{Project: c.cfg.NetworkProjectID, Route: name, RequestId: &requestID})
	})
}
