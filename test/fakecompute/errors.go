package fakecompute

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Error is an error the fake answers with, in the shape Google's APIs use:
// {"error":{"code":N,"message":"...","errors":[{"domain":"global","reason":"...","message":"..."}]}}.
// Inside a failed operation the same error appears as an operation error whose
// code is the reason in upper snake case (notFound becomes NOT_FOUND) and whose
// httpErrorStatusCode is Code.
type Error struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Domain  string `json:"domain,omitempty"`
	// Details are google.rpc status details (objects with an "@type").
	Details []map[string]any `json:"details,omitempty"`
	// inOperation marks an error GCE reports in the operation it returns
	// rather than on the call: the call succeeds, the operation fails.
	inOperation bool
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message)
}

// The reasons GCE returns and the fake reproduces.
const (
	ReasonNotFound          = "notFound"
	ReasonAlreadyExists     = "alreadyExists"
	ReasonInUse             = "resourceInUseByAnotherResource"
	ReasonInvalid           = "invalid"
	ReasonBadRequest        = "badRequest"
	ReasonQuotaExceeded     = "quotaExceeded"
	ReasonRateLimitExceeded = "rateLimitExceeded"
	ReasonNotReady          = "resourceNotReady"
	ReasonConditionNotMet   = "conditionNotMet"
	ReasonForbidden         = "forbidden"
	ReasonInternal          = "internalError"
	ReasonBackend           = "backendError"
)

// ReasonIPInUse is what GCE's operation reports, as IP_IN_USE_BY_ANOTHER_RESOURCE
// with HTTP status 409, when an INTERNAL address or forwarding rule asks for
// an internal IP that something else holds.
const ReasonIPInUse = "ipInUseByAnotherResource"

func errIPInUse(ip string) *Error {
	return &Error{Code: http.StatusConflict, Reason: ReasonIPInUse, inOperation: true,
		Message: fmt.Sprintf("IP '%s' is already being used by another resource.", ip)}
}

func errNotFound(link string) *Error {
	return &Error{Code: http.StatusNotFound, Reason: ReasonNotFound,
		Message: fmt.Sprintf("The resource '%s' was not found", link)}
}

func errAlreadyExists(link string) *Error {
	return &Error{Code: http.StatusConflict, Reason: ReasonAlreadyExists,
		Message: fmt.Sprintf("The resource '%s' already exists", link)}
}

func errInUse(link, user string) *Error {
	return &Error{Code: http.StatusBadRequest, Reason: ReasonInUse,
		Message: fmt.Sprintf("The resource '%s' is already being used by '%s'", link, user)}
}

func errNotReady(link string) *Error {
	return &Error{Code: http.StatusBadRequest, Reason: ReasonNotReady,
		Message: fmt.Sprintf("The resource '%s' is not ready", link)}
}

func errInvalid(format string, args ...any) *Error {
	return &Error{Code: http.StatusBadRequest, Reason: ReasonInvalid, Message: fmt.Sprintf(format, args...)}
}

func errInvalidField(field string, value any, why string) *Error {
	return errInvalid("Invalid value for field '%s': '%v'. %s", field, value, why)
}

func errRequired(field string) *Error {
	return &Error{Code: http.StatusBadRequest, Reason: "required",
		Message: fmt.Sprintf("Required field '%s' not specified", field)}
}

func errQuota(metric string, limit int, scope string) *Error {
	return &Error{Code: http.StatusForbidden, Reason: ReasonQuotaExceeded, Domain: "usageLimits",
		Message: fmt.Sprintf("Quota '%s' exceeded.  Limit: %d.0 %s.", metric, limit, scope),
		// Machine-readable, so clients need not parse the message.
		Details: []map[string]any{{
			"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
			"reason": "QUOTA_EXCEEDED", "domain": "compute.googleapis.com",
			"metadata": map[string]string{"quota_metric": metric, "quota_limit_value": fmt.Sprint(limit)},
		}}}
}

func errRateLimited() *Error {
	return &Error{Code: http.StatusForbidden, Reason: ReasonRateLimitExceeded, Domain: "usageLimits",
		Message: "Rate Limit Exceeded"}
}

// opErrorCode turns a reason such as resourceInUseByAnotherResource into the
// code an operation error carries, RESOURCE_IN_USE_BY_ANOTHER_RESOURCE.
func opErrorCode(reason string) string {
	var b strings.Builder
	for i, r := range reason {
		if r >= 'A' && r <= 'Z' && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func writeError(w http.ResponseWriter, e *Error) {
	domain := e.Domain
	if domain == "" {
		domain = "global"
	}
	inner := map[string]any{
		"code":    e.Code,
		"message": e.Message,
		"errors":  []map[string]string{{"domain": domain, "reason": e.Reason, "message": e.Message}},
	}
	if len(e.Details) > 0 {
		inner["details"] = e.Details
	}
	body := map[string]any{"error": inner}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Code)
	_ = json.NewEncoder(w).Encode(body)
}
