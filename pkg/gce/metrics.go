package gce

import (
	"k8s.io/component-base/metrics"
)

// Metrics are the Compute API metrics gce-ccm exports. Create them with
// NewMetrics and register them once, e.g. with legacyregistry.MustRegister
// (whose registry /metrics serves) or a test registry.
type Metrics struct {
	Requests        *metrics.CounterVec
	RequestLatency  *metrics.HistogramVec
	OperationWait   *metrics.HistogramVec
	RateLimiterWait *metrics.Histogram
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	buckets := metrics.ExponentialBuckets(0.005, 2, 14) // 5ms .. ~40s
	return &Metrics{
		Requests: metrics.NewCounterVec(&metrics.CounterOpts{
			Subsystem: "gce", Name: "api_requests_total",
			Help:           "Compute API requests by method (e.g. routes.insert) and result (ok or the error reason).",
			StabilityLevel: metrics.ALPHA,
		}, []string{"method", "result"}),
		RequestLatency: metrics.NewHistogramVec(&metrics.HistogramOpts{
			Subsystem: "gce", Name: "api_request_duration_seconds",
			Help:           "Latency of Compute API requests, by method.",
			Buckets:        buckets,
			StabilityLevel: metrics.ALPHA,
		}, []string{"method"}),
		OperationWait: metrics.NewHistogramVec(&metrics.HistogramOpts{
			Subsystem: "gce", Name: "api_operation_duration_seconds",
			Help:           "Time from a Compute mutation's request to the end of its operation, by method.",
			Buckets:        buckets,
			StabilityLevel: metrics.ALPHA,
		}, []string{"method"}),
		RateLimiterWait: metrics.NewHistogram(&metrics.HistogramOpts{
			Subsystem: "gce", Name: "api_rate_limiter_wait_seconds",
			Help:           "Time Compute API writes waited for the client-side rate limiter.",
			Buckets:        buckets,
			StabilityLevel: metrics.ALPHA,
		}),
	}
}

// Collectors returns every metric, for registration.
func (m *Metrics) Collectors() []metrics.Registerable {
	return []metrics.Registerable{m.Requests, m.RequestLatency, m.OperationWait, m.RateLimiterWait}
}
