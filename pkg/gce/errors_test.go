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
