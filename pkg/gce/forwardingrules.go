package gce

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

// GetForwardingRule returns one regional forwarding rule.
func (c *Cloud) GetForwardingRule(ctx context.Context, name string) (*computepb.ForwardingRule, error) {
	var fr *computepb.ForwardingRule
	err := c.read(ctx, "forwardingRules.get", func(ctx context.Context) error {
		var err error
		fr, err = c.forwardingRules.Get(ctx, &computepb.GetForwardingRuleRequest{Project: c.cfg.ProjectID, Region: c.cfg.Region, ForwardingRule: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get forwarding rule %s: %w", name, err)
	}
	return fr, nil
}

// ListForwardingRules lists the region's forwarding rules that match filter,
// in pages of 500.
func (c *Cloud) ListForwardingRules(ctx context.Context, filter string) ([]*computepb.ForwardingRule, error) {
	var out []*computepb.ForwardingRule
	err := c.read(ctx, "forwardingRules.list", func(ctx context.Context) error {
		var err error
		out, err = drain(c.forwardingRules.List(ctx, &computepb.ListForwardingRulesRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, Filter: &filter, MaxResults: ptr(uint32(500)),
		}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list forwarding rules (filter %s): %w", filter, err)
	}
	return out, nil
}

// InsertForwardingRule creates a regional forwarding rule and waits for it.
func (c *Cloud) InsertForwardingRule(ctx context.Context, fr *computepb.ForwardingRule) error {
	err := c.write(ctx, "forwardingRules.insert", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.forwardingRules.Insert(ctx, &computepb.InsertForwardingRuleRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, ForwardingRuleResource: fr, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("insert forwarding rule %s: %w", fr.GetName(), err)
	}
	return nil
}

// DeleteForwardingRule deletes a regional forwarding rule and waits for it.
func (c *Cloud) DeleteForwardingRule(ctx context.Context, name string) error {
	err := c.write(ctx, "forwardingRules.delete", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.forwardingRules.Delete(ctx, &computepb.DeleteForwardingRuleRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, ForwardingRule: name, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("delete forwarding rule %s: %w", name, err)
	}
	return nil
}

// SetForwardingRuleTarget points a forwarding rule at another target (a
// target pool URL) without recreating it, so its IP keeps serving.
func (c *Cloud) SetForwardingRuleTarget(ctx context.Context, name, target string) error {
	err := c.write(ctx, "forwardingRules.setTarget", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.forwardingRules.SetTarget(ctx, &computepb.SetTargetForwardingRuleRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, ForwardingRule: name, RequestId: &requestID,
			TargetReferenceResource: &computepb.TargetReference{Target: &target},
		})
	})
	if err != nil {
		return fmt.Errorf("set target of forwarding rule %s to %s: %w", name, target, err)
	}
	return nil
}

// PatchForwardingRule changes the fields fr sets and waits for it. GCE
// changes only some fields in place, allowGlobalAccess of an internal rule
// among them.
func (c *Cloud) PatchForwardingRule(ctx context.Context, fr *computepb.ForwardingRule) error {
	err := c.write(ctx, "forwardingRules.patch", func(ctx context.Context, requestID string) (*compute.Operation, error) {
		return c.forwardingRules.Patch(ctx, &computepb.PatchForwardingRuleRequest{
			Project: c.cfg.ProjectID, Region: c.cfg.Region, ForwardingRule: fr.GetName(), ForwardingRuleResource: fr, RequestId: &requestID,
		})
	})
	if err != nil {
		return fmt.Errorf("patch forwarding rule %s: %w", fr.GetName(), err)
	}
	return nil
}
