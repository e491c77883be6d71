package gce

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
)

// GetInstance returns one VM.
func (c *Cloud) GetInstance(ctx context.Context, zone, name string) (*computepb.Instance, error) {
	var inst *computepb.Instance
	err := c.read(ctx, "instances.get", func(ctx context.Context) error {
		var err error
		inst, err = c.instances.Get(ctx, &computepb.GetInstanceRequest{Project: c.cfg.ProjectID, Zone: zone, Instance: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get instance %s/%s: %w", zone, name, err)
	}
	return inst, nil
}

// ListInstances returns every VM of the project in the configured zones,
// with one paged aggregated list (one request per 500 VMs, not per zone).
// With node-instance-prefix set only VMs whose names start with it are
// listed, by the same name filter the long-standing GCE provider puts on its
// instance lists; callers look up any other VM by name.
func (c *Cloud) ListInstances(ctx context.Context) ([]*computepb.Instance, error) {
	zones := map[string]bool{}
	for _, z := range c.cfg.Zones {
		zones["zones/"+z] = true
	}
	req := &computepb.AggregatedListInstancesRequest{Project: c.cfg.ProjectID, MaxResults: ptr(uint32(500))}
	// (validate refuses a prefix no VM name can have, which would hide
	// every VM.)
	if p := c.cfg.NodeInstancePrefix; p != "" && namePrefixRE.MatchString(p) {
		req.Filter = ptr(fmt.Sprintf(`name eq "%s.*"`, p))
	}
	out, err := c.aggregatedInstances(ctx, req, func(scope string) bool { return zones[scope] })
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return out, nil
}

// InstancesWithIP lists the VMs of the project, in any zone, with a network
// interface whose internal IP is ip (one aggregated list with a filter on
// networkInterfaces.networkIP); callers check the interface's subnetwork.
func (c *Cloud) InstancesWithIP(ctx context.Context, ip string) ([]*computepb.Instance, error) {
	req := &computepb.AggregatedListInstancesRequest{Project: c.cfg.ProjectID, MaxResults: ptr(uint32(500)),
		Filter: ptr(fmt.Sprintf(`networkInterfaces.networkIP = "%s"`, ip))}
	out, err := c.aggregatedInstances(ctx, req, func(string) bool { return true })
	if err != nil {
		return nil, fmt.Errorf("list instances with IP %s: %w", ip, err)
	}
	return out, nil
}

// aggregatedInstances pages through an aggregated instance list and keeps
// the VMs of the scopes ("zones/<zone>") keep accepts. A retried read
// starts over.
func (c *Cloud) aggregatedInstances(ctx context.Context, req *computepb.AggregatedListInstancesRequest,
	keep func(scope string) bool) ([]*computepb.Instance, error) {
	var out []*computepb.Instance
	err := c.read(ctx, "instances.aggregatedList", func(ctx context.Context) error {
		out = out[:0]
		it := c.instances.AggregatedList(ctx, req)
		for {
			pair, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			if keep(pair.Key) {
				out = append(out, pair.Value.GetInstances()...)
			}
		}
	})
	return out, err
}

// ZonesInRegion lists the zones of a region.
func (c *Cloud) ZonesInRegion(ctx context.Context, region string) ([]string, error) {
	var out []string
	err := c.read(ctx, "zones.list", func(ctx context.Context) error {
		it := c.zones.List(ctx, &computepb.ListZonesRequest{Project: c.cfg.ProjectID})
		for {
			z, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			if lastPathSegment(z.GetRegion()) == region {
				out = append(out, z.GetName())
			}
		}
	})
	return out, err
}

func ptr[T any](v T) *T { return &v }

// namePrefixRE matches what can start a VM name; none of it is special in
// the RE2 of list filters.
var namePrefixRE = regexp.MustCompile(`^[a-z][-a-z0-9]*$`)

// ZoneOfLink returns the zone name of a zone URL or a resource URL within a zone.
func ZoneOfLink(link string) string {
	_, rest, ok := strings.Cut(link, "/zones/")
	if !ok {
		return ""
	}
	z, _, _ := strings.Cut(rest, "/")
	return z
}
