package loadbalancer

import (
	"context"
	"errors"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/component-base/metrics"
)

// States of a Service's load balancer in gce_loadbalancers.
const (
	// StateSynced: the last sync made the load balancer match the Service.
	StateSynced = "synced"
	// StateError: the last sync failed in a way a retry or a fix in GCE
	// (quota, permissions, a resource not ours) can mend.
	StateError = "error"
	// StateInvalid: the Service asks for something GCE cannot do; only a
	// change of the Service mends it.
	StateInvalid = "invalid"
)

var lbStates = []string{StateSynced, StateError, StateInvalid}

// Metrics are the load balancers' metrics, kept by Instrument's wrapper
// around the cloudprovider.LoadBalancer the service controllers call.
type Metrics struct {
	// LoadBalancers counts the Services whose load balancer this manager
	// manages, by the state of their last sync.
	LoadBalancers *metrics.GaugeVec
	// Syncs counts calls by operation (ensure, update, delete) and result
	// (ok, error, invalid).
	Syncs *metrics.CounterVec
	// LastSuccess is when a sync last succeeded.
	LastSuccess *metrics.Gauge

	now func() time.Time
	mu  sync.Mutex
	// byService are each Service's last results, by namespace/name.
	byService map[string]serviceSyncs
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		LoadBalancers: metrics.NewGaugeVec(&metrics.GaugeOpts{
			Subsystem: "gce", Name: "loadbalancers",
			Help: "Services whose load balancer this manager manages, by the state of their last sync: synced, error (a retry or a fix in GCE " +
				"can mend it) or invalid (the Service asks for something GCE cannot do).",
			StabilityLevel: metrics.ALPHA,
		}, []string{"state"}),
		Syncs: metrics.NewCounterVec(&metrics.CounterOpts{
			Subsystem: "gce", Name: "loadbalancer_syncs_total",
			Help:           "Load balancer syncs by operation (ensure, update, delete) and result (ok, error, invalid).",
			StabilityLevel: metrics.ALPHA,
		}, []string{"operation", "result"}),
		LastSuccess: metrics.NewGauge(&metrics.GaugeOpts{
			Subsystem: "gce", Name: "loadbalancer_last_successful_sync_timestamp_seconds",
			Help:           "Unix time of the last load balancer sync (ensure, update or delete) that succeeded.",
			StabilityLevel: metrics.ALPHA,
		}),
		now:       time.Now,
		byService: map[string]serviceSyncs{},
	}
}

// Collectors returns every metric, for registration.
func (m *Metrics) Collectors() []metrics.Registerable {
	return []metrics.Registerable{m.LoadBalancers, m.Syncs, m.LastSuccess}
}

// Instrument returns lb with every Ensure, Update and Delete recorded in m.
// Calls that another controller's Services get (ImplementedElsewhere) are
// not recorded.
func (m *Metrics) Instrument(lb cloudprovider.LoadBalancer) cloudprovider.LoadBalancer {
	return &instrumented{LoadBalancer: lb, m: m}
}

type instrumented struct {
	cloudprovider.LoadBalancer
	m *Metrics
}

func (i *instrumented) EnsureLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) (*v1.LoadBalancerStatus, error) {
	st, err := i.LoadBalancer.EnsureLoadBalancer(ctx, clusterName, svc, nodes)
	i.m.record("ensure", svc, err)
	return st, err
}

func (i *instrumented) UpdateLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) error {
	err := i.LoadBalancer.UpdateLoadBalancer(ctx, clusterName, svc, nodes)
	i.m.record("update", svc, err)
	return err
}

func (i *instrumented) EnsureLoadBalancerDeleted(ctx context.Context, clusterName string, svc *v1.Service) error {
	err := i.LoadBalancer.EnsureLoadBalancerDeleted(ctx, clusterName, svc)
	i.m.record("delete", svc, err)
	return err
}

// record counts one call and moves the Service to the state it implies.
func (m *Metrics) record(operation string, svc *v1.Service, err error) {
	if errors.Is(err, cloudprovider.ImplementedElsewhere) {
		return
	}
	result := syncResult(err)
	m.Syncs.WithLabelValues(operation, result).Inc()
	if err == nil {
		m.LastSuccess.Set(float64(m.now().UnixNano()) / 1e9)
	}
	key := serviceKey(svc)
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.byService[key]
	switch operation {
	case "delete":
		if err == nil {
			delete(m.byService, key)
			break
		}
		st.other = result
		m.byService[key] = st
	case "update":
		// Pool membership says nothing about the rest of the load
		// balancer: an ensure's failure stands until an ensure succeeds.
		st.other = result
		m.byService[key] = st
	default:
		st.ensure, st.other = result, "ok"
		m.byService[key] = st
	}
	counts := map[string]int{}
	for _, s := range m.byService {
		counts[s.state()]++
	}
	for _, s := range lbStates {
		m.LoadBalancers.WithLabelValues(s).Set(float64(counts[s]))
	}
}

// serviceSyncs are the results of a Service's last ensure and of its last
// update or failed delete since.
type serviceSyncs struct{ ensure, other string }

func (s serviceSyncs) state() string {
	switch {
	case s.ensure == "invalid":
		return StateInvalid
	case s.ensure == "error" || s.other == "error" || s.other == "invalid":
		return StateError
	}
	return StateSynced
}

// syncResult is the result label of a call's error.
func syncResult(err error) string {
	var input *InputError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &input):
		return "invalid"
	}
	return "error"
}
