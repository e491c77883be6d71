package gce

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

// Firewalls belong to the network, so they live in the network project (the
// Shared VPC host when there is one).

// GetFirewall returns one firewall rule.
func (c *Cloud) GetFirewall(ctx context.Context, name string) (*computepb.Firewall, error) {
	var fw *computepb.Firewall
	err := c.read(ctx, "firewalls.get", func(ctx context.Context) error {
		var err error
		fw, err = c.firewalls.Get(ctx, &computepb.GetFirewallRequest{Project: c.cfg.NetworkProjectID, Firewall: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get firewall %s: %w", name, err)
	}
	return fw, nil
}

// InsertFirewall creates a firewall rule and waits for it.
func (c *Cloud) InsertFirewall(ctx context.Context, fw *computepb.Firewall) error {
	err := c.write(ctx, "firewalls.insert", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: c.cfg.NetworkProjectID, FirewallResource: fw, RequestId: &requestID})
	})
	if err != nil {
		return fmt.Errorf("insert firewall %s: %w", fw.GetName(), err)
	}
	return nil
}

// PatchFirewall changes the fields fw sets (an unset or empty field keeps its
// value) and waits for it.
func (c *Cloud) PatchFirewall(ctx context.Context, fw *computepb.Firewall) error {
	err := c.write(ctx, "firewalls.patch", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.firewalls.Patch(ctx, &computepb.PatchFirewallRequest{Project: c.cfg.NetworkProjectID, Firewall: fw.GetName(), FirewallResource: fw, RequestId: &requestID})
	})
	if err != nil {
		return fmt.Errorf("patch firewall %s: %w", fw.GetName(), err)
	}
	return nil
}

// UpdateFirewall replaces a firewall rule with fw (fields fw leaves unset
// take their defaults, so an emptied list is cleared) and waits for it.
func (c *Cloud) UpdateFirewall(ctx context.Context, fw *computepb.Firewall) error {
	err := c.write(ctx, "firewalls.update", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.firewalls.Update(ctx, &computepb.UpdateFirewallRequest{Project: c.cfg.NetworkProjectID, Firewall: fw.GetName(), FirewallResource: fw, RequestId: &requestID})
	})
	if err != nil {
		return fmt.Errorf("update firewall %s: %w", fw.GetName(), err)
	}
	return nil
}

// DeleteFirewall deletes a firewall rule and waits for it.
func (c *Cloud) DeleteFirewall(ctx context.Context, name string) error {
	err := c.write(ctx, "firewalls.delete", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: c.cfg.NetworkProjectID, Firewall: name, RequestId: &requestID})
	})
	if err != nil {
		return fmt.Errorf("delete firewall %s: %w", name, err)
	}
	return nil
}
