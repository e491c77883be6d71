package gce

import (
	"context"
	"encoding/json"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	computev1 "google.golang.org/api/compute/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Legacy HTTP health checks are the only kind a target pool accepts. They
// are global resources of the cluster's project. apiv1 has no client (and
// computepb no message) for them, so they go through
// google.golang.org/api/compute/v1 and this file's own type.

// HTTPHealthCheck is a legacy HTTP health check.
type HTTPHealthCheck struct {
	Name        string
	Description string
	Host        string
	RequestPath string
	Port        int64
	// CheckIntervalSec, TimeoutSec, HealthyThreshold and UnhealthyThreshold
	// take GCE's defaults when zero.
	CheckIntervalSec   int64
	TimeoutSec         int64
	HealthyThreshold   int64
	UnhealthyThreshold int64
	// SelfLink is set on health checks read from GCE.
	SelfLink string
}

func (h *HTTPHealthCheck) toV1() *computev1.HttpHealthCheck {
	return &computev1.HttpHealthCheck{
		Name: h.Name, Description: h.Description, Host: h.Host, RequestPath: h.RequestPath, Port: h.Port,
		CheckIntervalSec: h.CheckIntervalSec, TimeoutSec: h.TimeoutSec,
		HealthyThreshold: h.HealthyThreshold, UnhealthyThreshold: h.UnhealthyThreshold,
	}
}

func healthCheckFromV1(h *computev1.HttpHealthCheck) *HTTPHealthCheck {
	return &HTTPHealthCheck{
		Name: h.Name, Description: h.Description, Host: h.Host, RequestPath: h.RequestPath, Port: h.Port,
		CheckIntervalSec: h.CheckIntervalSec, TimeoutSec: h.TimeoutSec,
		HealthyThreshold: h.HealthyThreshold, UnhealthyThreshold: h.UnhealthyThreshold, SelfLink: h.SelfLink,
	}
}

// GetHTTPHealthCheck returns one legacy HTTP health check.
func (c *Cloud) GetHTTPHealthCheck(ctx context.Context, name string) (*HTTPHealthCheck, error) {
	var hc *computev1.HttpHealthCheck
	err := c.read(ctx, "httpHealthChecks.get", func(ctx context.Context) error {
		var err error
		hc, err = c.httpHealthChecks.Get(c.cfg.ProjectID, name).Context(ctx).Do()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get HTTP health check %s: %w", name, err)
	}
	return healthCheckFromV1(hc), nil
}

// InsertHTTPHealthCheck creates a legacy HTTP health check and waits for it.
func (c *Cloud) InsertHTTPHealthCheck(ctx context.Context, hc *HTTPHealthCheck) error {
	err := c.writeV1(ctx, "httpHealthChecks.insert", func(ctx context.Context, requestID string) (*computev1.Operation, error) {
		return c.httpHealthChecks.Insert(c.cfg.ProjectID, hc.toV1()).RequestId(requestID).Context(ctx).Do()
	})
	if err != nil {
		return fmt.Errorf("insert HTTP health check %s: %w", hc.Name, err)
	}
	return nil
}

// UpdateHTTPHealthCheck replaces a legacy HTTP health check with hc and
// waits for it.
func (c *Cloud) UpdateHTTPHealthCheck(ctx context.Context, hc *HTTPHealthCheck) error {
	err := c.writeV1(ctx, "httpHealthChecks.update", func(ctx context.Context, requestID string) (*computev1.Operation, error) {
		return c.httpHealthChecks.Update(c.cfg.ProjectID, hc.Name, hc.toV1()).RequestId(requestID).Context(ctx).Do()
	})
	if err != nil {
		return fmt.Errorf("update HTTP health check %s: %w", hc.Name, err)
	}
	return nil
}

// DeleteHTTPHealthCheck deletes a legacy HTTP health check and waits for it.
func (c *Cloud) DeleteHTTPHealthCheck(ctx context.Context, name string) error {
	err := c.writeV1(ctx, "httpHealthChecks.delete", func(ctx context.Context, requestID string) (*computev1.Operation, error) {
		return c.httpHealthChecks.Delete(c.cfg.ProjectID, name).RequestId(requestID).Context(ctx).Do()
	})
	if err != nil {
		return fmt.Errorf("delete HTTP health check %s: %w", name, err)
	}
	return nil
}

// writeV1 sends a mutation with google.golang.org/api/compute/v1 through
// send, converting its operation to the apiv1 message.
func (c *Cloud) writeV1(ctx context.Context, method string, fn func(ctx context.Context, requestID string) (*computev1.Operation, error)) error {
	return c.send(ctx, method, func(ctx context.Context, requestID string) (*computepb.Operation, error) {
		op, err := fn(ctx, requestID)
		if err != nil {
			return nil, err
		}
		return operationFromV1(op)
	})
}

// operationFromV1 converts a compute/v1 operation to the apiv1 message
// through their common JSON form.
func operationFromV1(op *computev1.Operation) (*computepb.Operation, error) {
	raw, err := json.Marshal(op)
	if err != nil {
		return nil, fmt.Errorf("encode operation %s: %w", op.Name, err)
	}
	var pb computepb.Operation
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &pb); err != nil {
		return nil, fmt.Errorf("decode operation %s: %w", op.Name, err)
	}
	return &pb, nil
}
