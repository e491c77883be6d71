package gce

import (
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/api/googleapi"
)

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	sync := func(code int, reason string) error {
		return fmt.Errorf("insert thing: %w", &googleapi.Error{Code: code, Errors: []googleapi.ErrorItem{{Reason: reason}}})
	}
	inOp := func(status int, code string) error {
		return fmt.Errorf("insert thing: %w", &OperationError{HTTPStatus: status, Codes: []string{code}})
	}
	type classes struct{ notFound, exists, inUse, quota, rate, notReady, retryable bool }
	tests := []struct {
		name string
		err  error
		want classes
	}{
		{"sync notFound", sync(http.StatusNotFound, "notFound"), classes{notFound: true}},
		{"op notFound", inOp(http.StatusNotFound, "RESOURCE_NOT_FOUND"), classes{notFound: true}},
		{"sync alreadyExists", sync(http.StatusConflict, "alreadyExists"), classes{exists: true}},
		{"op alreadyExists", inOp(http.StatusConflict, "ALREADY_EXISTS"), classes{exists: true}},
		{"sync in use", sync(http.StatusBadRequest, "resourceInUseByAnotherResource"), classes{inUse: true}},
		{"op in use", inOp(http.StatusBadRequest, "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE"), classes{inUse: true}},
		{"sync quota", sync(http.StatusForbidden, "quotaExceeded"), classes{quota: true}},
		{"op quota", inOp(http.StatusForbidden, "QUOTA_EXCEEDED"), classes{quota: true}},
		{"rate limit", sync(http.StatusForbidden, "rateLimitExceeded"), classes{rate: true, retryable: true}},
		{"user rate limit", sync(http.StatusForbidden, "userRateLimitExceeded"), classes{rate: true, retryable: true}},
		{"429", sync(http.StatusTooManyRequests, ""), classes{rate: true, retryable: true}},
		{"not ready", sync(http.StatusBadRequest, "resourceNotReady"), classes{notReady: true, retryable: true}},
		{"backend error", sync(http.StatusServiceUnavailable, "backendError"), classes{retryable: true}},
		{"invalid", sync(http.StatusBadRequest, "invalid"), classes{}},
		{"plain error", fmt.Errorf("boom"), classes{}},
		{"nil", nil, classes{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := classes{IsNotFound(tc.err), IsAlreadyExists(tc.err), IsInUse(tc.err), IsQuotaExceeded(tc.err),
				IsRateLimited(tc.err), IsNotReady(tc.err), IsRetryable(tc.err)}
			if got != tc.want {
				t.Errorf("classes of %v = %+v, want %+v", tc.err, got, tc.want)
			}
		})
	}
}

func TestUpperSnake(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"resourceInUseByAnotherResource": "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
		"notFound":                       "NOT_FOUND",
		"QUOTA_EXCEEDED":                 "QUOTA_EXCEEDED",
		"invalid":                        "INVALID",
	} {
		if got := upperSnake(in); got != want {
			t.Errorf("upperSnake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuotaOf(t *testing.T) {
	t.Parallel()
	inOp := fmt.Errorf("wrapped: %w", &OperationError{HTTPStatus: 403, Codes: []string{"QUOTA_EXCEEDED"},
		Quota: &QuotaInfo{Metric: "compute.googleapis.com/routes", Limit: 250}})
	sync := &googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "quotaExceeded"}}, Details: []any{
		map[string]any{"@type": "type.googleapis.com/google.rpc.Help"},
		map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXCEEDED",
			"metadata": map[string]any{"quota_metric": "STATIC_ROUTES_PER_NETWORK", "quota_limit_value": "100"}},
	}}
	for _, tc := range []struct {
		name   string
		err    error
		metric string
		limit  float64
		ok     bool
	}{
		{"operation quotaInfo", inOp, "compute.googleapis.com/routes", 250, true},
		{"request ErrorInfo", fmt.Errorf("insert: %w", sync), "STATIC_ROUTES_PER_NETWORK", 100, true},
		{"no details", &googleapi.Error{Code: 403}, "", 0, false},
		{"not a Compute error", fmt.Errorf("boom"), "", 0, false},
	} {
		metric, limit, ok := QuotaOf(tc.err)
		if metric != tc.metric || limit != tc.limit || ok != tc.ok {
			t.Errorf("%s: QuotaOf = %q, %v, %v; want %q, %v, %v", tc.name, metric, limit, ok, tc.metric, tc.limit, tc.ok)
		}
	}
}

// An internal rule's IP held elsewhere fails its operation with 409
// IP_IN_USE_BY_ANOTHER_RESOURCE, which is not "already exists" for the
// caller even though it shares the status.
func TestIsIPInUse(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("insert rule: %w", &OperationError{HTTPStatus: http.StatusConflict, Codes: []string{"IP_IN_USE_BY_ANOTHER_RESOURCE"}})
	if !IsIPInUse(err) {
		t.Errorf("IsIPInUse(%v) = false", err)
	}
	if IsIPInUse(fmt.Errorf("x: %w", &OperationError{HTTPStatus: http.StatusConflict, Codes: []string{"ALREADY_EXISTS"}})) || IsIPInUse(nil) {
		t.Error("IsIPInUse of another error = true")
	}
}
