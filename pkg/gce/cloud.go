// Package gce is gce-ccm's only door to the Compute API: gce.conf, auth,
// the apiv1 clients, operation waiting, error classes, client-side rate
// limiting of writes and API metrics.
package gce

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/time/rate"
	computev1 "google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	"k8s.io/klog/v2"
)

// Cloud holds the Compute API clients of one project (and its network
// project) and wraps every call with rate limiting, retries of idempotent
// failures, operation waiting and metrics.
type Cloud struct {
	cfg     Config
	metrics *Metrics
	limiter *rate.Limiter

	instances       *compute.InstancesClient
	zones           *compute.ZonesClient
	routes          *compute.RoutesClient
	addresses       *compute.AddressesClient
	forwardingRules *compute.ForwardingRulesClient
	targetPools     *compute.TargetPoolsClient
	firewalls       *compute.FirewallsClient
	instanceGroups  *compute.InstanceGroupsClient
	backendServices *compute.RegionBackendServicesClient
	healthChecks    *compute.HealthChecksClient
	subnetworks     *compute.SubnetworksClient
	globalOps       *compute.GlobalOperationsClient
	regionOps       *compute.RegionOperationsClient
	zoneOps         *compute.ZoneOperationsClient
	closers         []interface{ Close() error }

	// httpHealthChecks uses google.golang.org/api/compute/v1: apiv1 has no
	// client for the legacy HTTP health checks that target pools require.
	httpHealthChecks *computev1.HttpHealthChecksService
}

// NewHTTPClient returns the HTTP client the Compute clients use: no auth for
// an http:// endpoint (the fake), token-url when configured, else
// Application Default Credentials (metadata server, workload identity, key
// file).
func NewHTTPClient(ctx context.Context, cfg *Config) (*http.Client, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	fenceConnections(base, cfg.Fence)
	plain := &http.Client{Transport: base}
	switch {
	case strings.HasPrefix(cfg.APIEndpoint, "http://"):
		return plain, nil
	case cfg.TokenURL != "":
		ts := oauth2.ReuseTokenSource(nil, &altTokenSource{client: plain, url: cfg.TokenURL, body: cfg.TokenBody})
		return &http.Client{Transport: &oauth2.Transport{Source: ts, Base: base}}, nil
	default:
		ts, err := google.DefaultTokenSource(ctx, "https://www.googleapis.com/auth/compute")
		if err != nil {
			return nil, fmt.Errorf("find Application Default Credentials: %w", err)
		}
		return &http.Client{Transport: &oauth2.Transport{Source: ts, Base: base}}, nil
	}
}

// New returns a Cloud for a completed config. The clients are built with hc
// (from NewHTTPClient); m may be nil when metrics are not wanted.
func New(ctx context.Context, cfg Config, hc *http.Client, m *Metrics) (*Cloud, error) {
	if m == nil {
		m = NewMetrics()
	}
	hc = fencedClient(hc, cfg.Fence)
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if cfg.APIEndpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(cfg.APIEndpoint, "/")))
	}
	c := &Cloud{cfg: cfg, metrics: m, limiter: rate.NewLimiter(rate.Limit(cfg.WriteQPS), cfg.WriteBurst)}
	var errs []error
	c.instances = client(ctx, c, &errs, opts, compute.NewInstancesRESTClient)
	c.zones = client(ctx, c, &errs, opts, compute.NewZonesRESTClient)
	c.routes = client(ctx, c, &errs, opts, compute.NewRoutesRESTClient)
	c.addresses = client(ctx, c, &errs, opts, compute.NewAddressesRESTClient)
	c.forwardingRules = client(ctx, c, &errs, opts, compute.NewForwardingRulesRESTClient)
	c.targetPools = client(ctx, c, &errs, opts, compute.NewTargetPoolsRESTClient)
	c.firewalls = client(ctx, c, &errs, opts, compute.NewFirewallsRESTClient)
	c.instanceGroups = client(ctx, c, &errs, opts, compute.NewInstanceGroupsRESTClient)
	c.backendServices = client(ctx, c, &errs, opts, compute.NewRegionBackendServicesRESTClient)
	c.healthChecks = client(ctx, c, &errs, opts, compute.NewHealthChecksRESTClient)
	c.subnetworks = client(ctx, c, &errs, opts, compute.NewSubnetworksRESTClient)
	c.globalOps = client(ctx, c, &errs, opts, compute.NewGlobalOperationsRESTClient)
	c.regionOps = client(ctx, c, &errs, opts, compute.NewRegionOperationsRESTClient)
	c.zoneOps = client(ctx, c, &errs, opts, compute.NewZoneOperationsRESTClient)
	v1opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if cfg.APIEndpoint != "" {
		v1opts = append(v1opts, option.WithEndpoint(strings.TrimSuffix(cfg.APIEndpoint, "/")+"/compute/v1/"))
	}
	if svc, err := computev1.NewService(ctx, v1opts...); err != nil {
		errs = append(errs, err)
	} else {
		c.httpHealthChecks = svc.HttpHealthChecks
	}
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, fmt.Errorf("create Compute clients: %w", err)
	}
	if cfg.Multizone || cfg.Regional {
		zones, err := c.ZonesInRegion(ctx, cfg.Region)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("list the zones of region %s (multizone): %w", cfg.Region, err)
		}
		c.cfg.Zones = zones
	}
	return c, nil
}

func client[T interface{ Close() error }](ctx context.Context, c *Cloud, errs *[]error, opts []option.ClientOption,
	newClient func(context.Context, ...option.ClientOption) (T, error)) T {
	cl, err := newClient(ctx, opts...)
	if err != nil {
		*errs = append(*errs, err)
		return cl
	}
	c.closers = append(c.closers, cl)
	return cl
}

// Close releases the clients.
func (c *Cloud) Close() {
	for _, cl := range c.closers {
		_ = cl.Close()
	}
}

// Config returns the completed configuration.
func (c *Cloud) Config() *Config { return &c.cfg }

// observe records one request's metrics.
func (c *Cloud) observe(method string, start time.Time, err error) {
	c.metrics.RequestLatency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	c.metrics.Requests.WithLabelValues(method, resultOf(err)).Inc()
}

func resultOf(err error) string {
	if err == nil {
		return "ok"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "canceled"
	}
	code, reasons := errorReasons(err)
	switch {
	case len(reasons) > 0:
		return strings.ToLower(reasons[0])
	case code != 0:
		return fmt.Sprintf("http_%d", code)
	}
	return "transport_error"
}

// read runs one read request with metrics.
func (c *Cloud) read(ctx context.Context, method string, fn func(ctx context.Context) error) error {
	start := time.Now()
	err := fn(ctx)
	c.observe(method, start, err)
	return err
}

// maxAttempts bounds how often one mutation is sent when it fails in a way
// a retry can fix; the retries carry the same requestId, so GCE applies the
// mutation at most once.
const maxAttempts = 4

// write sends one mutation with the apiv1 client; see send.
func (c *Cloud) write(ctx context.Context, method string, fn func(ctx context.Context, requestID string) (*compute.Operation, error)) error {
	return c.send(ctx, method, func(ctx context.Context, requestID string) (*computepb.Operation, error) {
		op, err := fn(ctx, requestID)
		if err != nil {
			return nil, err
		}
		return op.Proto(), nil
	})
}

// send is the one path of every mutation: it waits for the rate limiter,
// asks the write fence (Config.Fence) before each attempt, retries transient failures with the same requestId, and waits for the
// operation to end. A failed operation is an *OperationError.
func (c *Cloud) send(ctx context.Context, method string, fn func(ctx context.Context, requestID string) (*computepb.Operation, error)) error {
	waitStart := time.Now()
	if err := c.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("%s: waiting for the client-side rate limiter: %w", method, err)
	}
	c.metrics.RateLimiterWait.Observe(time.Since(waitStart).Seconds())
	requestID := newRequestID()
	start := time.Now()
	var op *computepb.Operation
	for attempt := 1; ; attempt++ {
		// Checked before every attempt: a retry sent after the lease lapsed
		// is as much a write by a replica that may no longer lead.
		if c.cfg.Fence != nil {
			if err := c.cfg.Fence.Allow(); err != nil {
				c.metrics.Requests.WithLabelValues(method, "fenced").Inc()
				return fmt.Errorf("%s refused: %w", method, err)
			}
		}
		t := time.Now()
		var err error
		op, err = fn(asWrite(ctx), requestID)
		if IsLeaseLapsed(err) { // refused by the transport's second look
			c.metrics.Requests.WithLabelValues(method, "fenced").Inc()
			return fmt.Errorf("%s refused: %w", method, err)
		}
		c.observe(method, t, err)
		if err == nil {
			break
		}
		if attempt == maxAttempts || !transient(err) || ctx.Err() != nil {
			return err
		}
		klog.FromContext(ctx).V(4).Info("Retrying Compute request", "method", method, "attempt", attempt, "err", err)
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
	return c.wait(ctx, method, op, start)
}

// transient reports whether a request that failed may succeed when sent
// again unchanged: no answer at all, a server error, or a rate limit.
func transient(err error) bool {
	code, _ := errorReasons(err)
	return code == 0 || code >= 500 || IsRateLimited(err)
}

func backoff(attempt int) time.Duration {
	return time.Duration(100<<attempt) * time.Millisecond // 200ms, 400ms, 800ms
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wait blocks until op is DONE using the operations' wait method (a
// server-side long poll), then turns an operation error into an error.
func (c *Cloud) wait(ctx context.Context, method string, op *computepb.Operation, start time.Time) error {
	project := projectOfLink(op.GetSelfLink())
	failures := 0
	for op.GetStatus() != computepb.Operation_DONE {
		var next *computepb.Operation
		var err error
		t := time.Now()
		switch {
		case op.GetZone() != "":
			next, err = c.zoneOps.Wait(ctx, &computepb.WaitZoneOperationRequest{Project: project, Zone: lastPathSegment(op.GetZone()), Operation: op.GetName()})
			c.observe("zoneOperations.wait", t, err)
		case op.GetRegion() != "":
			next, err = c.regionOps.Wait(ctx, &computepb.WaitRegionOperationRequest{Project: project, Region: lastPathSegment(op.GetRegion()), Operation: op.GetName()})
			c.observe("regionOperations.wait", t, err)
		default:
			next, err = c.globalOps.Wait(ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: op.GetName()})
			c.observe("globalOperations.wait", t, err)
		}
		if err != nil {
			failures++
			if failures == maxAttempts || !transient(err) || ctx.Err() != nil {
				return fmt.Errorf("wait for operation %s of %s: %w", op.GetName(), method, err)
			}
			if err := sleep(ctx, backoff(failures)); err != nil {
				return err
			}
			continue
		}
		op = next
	}
	c.metrics.OperationWait.WithLabelValues(method).Observe(time.Since(start).Seconds())
	if errs := op.GetError().GetErrors(); len(errs) > 0 || op.GetHttpErrorStatusCode() >= 400 {
		oe := &OperationError{Operation: op.GetName(), Target: op.GetTargetLink(), HTTPStatus: int(op.GetHttpErrorStatusCode())}
		for _, e := range errs {
			oe.Codes = append(oe.Codes, upperSnake(e.GetCode()))
			oe.Messages = append(oe.Messages, e.GetMessage())
			for _, d := range e.GetErrorDetails() {
				if q := d.GetQuotaInfo(); q != nil {
					oe.Quota = &QuotaInfo{Metric: q.GetMetricName(), Limit: q.GetLimit()}
				}
			}
		}
		if len(oe.Messages) == 0 {
			oe.Messages = []string{op.GetHttpErrorMessage()}
		}
		c.metrics.Requests.WithLabelValues(method+".operation", resultOf(oe)).Inc()
		return oe
	}
	return nil
}

// projectOfLink returns P from a URL containing /projects/P/.
func projectOfLink(link string) string {
	_, rest, ok := strings.Cut(link, "projects/")
	if !ok {
		return ""
	}
	p, _, _ := strings.Cut(rest, "/")
	return p
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // UUID version 4
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// altTokenSource gets tokens by POSTing token-body to token-url, the
// mechanism the long-standing Kubernetes GCE provider's token-url uses; the
// answer is {"accessToken": "...", "expireTime": RFC 3339}.
type altTokenSource struct {
	client *http.Client
	url    string
	body   string
}

func (a *altTokenSource) Token() (*oauth2.Token, error) {
	req, err := http.NewRequest(http.MethodPost, a.url, bytes.NewBufferString(a.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token-url: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token-url %s answered %s", a.url, resp.Status)
	}
	var tok struct {
		AccessToken string    `json:"accessToken"`
		ExpireTime  time.Time `json:"expireTime"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return nil, fmt.Errorf("token-url %s: decode answer: %w", a.url, err)
	}
	return &oauth2.Token{AccessToken: tok.AccessToken, Expiry: tok.ExpireTime}, nil
}
