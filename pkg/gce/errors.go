package gce

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/api/googleapi"
)

// OperationError is a Compute operation that ended with an error. GCE
// reports many failures (quota, in use, not ready) this way rather than in
// the response to the request.
type OperationError struct {
	Operation  string // operation name
	Target     string // the resource the operation changed
	HTTPStatus int    // httpErrorStatusCode
	Codes      []string
	Messages   []string
	// Quota is set when GCE named the exhausted quota in the error details.
	Quota *QuotaInfo
}

// QuotaInfo names an exhausted quota and its limit.
type QuotaInfo struct {
	Metric string
	Limit  float64
}

// QuotaOf returns the quota a quota error names, when GCE said which: in
// an operation error's quotaInfo, or in the ErrorInfo details of a refused
// request.
func QuotaOf(err error) (metric string, limit float64, ok bool) {
	var oerr *OperationError
	if errors.As(err, &oerr) && oerr.Quota != nil {
		return oerr.Quota.Metric, oerr.Quota.Limit, true
	}
	// googleapi keeps the body's details as decoded JSON. (apierror's typed
	// details stay empty for Compute: its bodies carry "errors", which
	// apierror's strict schema rejects.)
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		for _, d := range gerr.Details {
			m, _ := d.(map[string]any)
			if typ, _ := m["@type"].(string); !strings.HasSuffix(typ, "google.rpc.ErrorInfo") {
				continue
			}
			md, _ := m["metadata"].(map[string]any)
			metric, _ := md["quota_metric"].(string)
			if metric == "" {
				continue
			}
			value, _ := md["quota_limit_value"].(string)
			limit, err := strconv.ParseFloat(value, 64)
			if err != nil {
				limit = -1
			}
			return metric, limit, true
		}
	}
	return "", 0, false
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("operation %s on %s failed (HTTP %d): %s", e.Operation, e.Target, e.HTTPStatus, strings.Join(e.Messages, "; "))
}

// errorReasons returns the HTTP status and the reasons of a Compute error,
// whether it came back from the request (googleapi.Error, wrapped by
// apierror.APIError in the apiv1 client) or from a failed operation. Reasons
// are normalised to the operation form: alreadyExists becomes ALREADY_EXISTS.
func errorReasons(err error) (int, []string) {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		var out []string
		for _, e := range gerr.Errors {
			out = append(out, upperSnake(e.Reason))
		}
		return gerr.Code, out
	}
	var oerr *OperationError
	if errors.As(err, &oerr) {
		return oerr.HTTPStatus, oerr.Codes
	}
	return 0, nil
}

func hasReason(err error, reasons ...string) bool {
	_, got := errorReasons(err)
	for _, g := range got {
		for _, r := range reasons {
			if g == r {
				return true
			}
		}
	}
	return false
}

// IsNotFound reports whether err says the resource does not exist.
func IsNotFound(err error) bool {
	code, _ := errorReasons(err)
	return code == http.StatusNotFound || hasReason(err, "NOT_FOUND", "RESOURCE_NOT_FOUND")
}

// IsAlreadyExists reports whether err says a resource of that name exists.
func IsAlreadyExists(err error) bool {
	code, _ := errorReasons(err)
	return code == http.StatusConflict || hasReason(err, "ALREADY_EXISTS", "RESOURCE_ALREADY_EXISTS")
}

// IsInUse reports whether err says another resource still uses this one.
func IsInUse(err error) bool {
	return hasReason(err, "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE")
}

// IsIPInUse reports whether err says the IP a resource asked for is held by
// another one (a VM, another forwarding rule or an address in use), which
// GCE reports in the operation of an internal forwarding rule's insert.
func IsIPInUse(err error) bool {
	return hasReason(err, "IP_IN_USE_BY_ANOTHER_RESOURCE")
}

// IsQuotaExceeded reports whether err says a quota is exhausted.
func IsQuotaExceeded(err error) bool {
	return hasReason(err, "QUOTA_EXCEEDED")
}

// IsRateLimited reports whether err says the API's rate limit was hit.
func IsRateLimited(err error) bool {
	code, _ := errorReasons(err)
	return code == http.StatusTooManyRequests || hasReason(err, "RATE_LIMIT_EXCEEDED", "USER_RATE_LIMIT_EXCEEDED")
}

// IsForbidden reports whether err says the caller lacks the permission
// (403 that is neither a quota nor a rate limit).
func IsForbidden(err error) bool {
	code, _ := errorReasons(err)
	return code == http.StatusForbidden && !IsQuotaExceeded(err) && !IsRateLimited(err)
}

// IsNotReady reports whether err says the resource is busy with another
// operation; retrying later succeeds.
func IsNotReady(err error) bool {
	return hasReason(err, "RESOURCE_NOT_READY")
}

// IsRetryable reports whether retrying the same request may succeed: rate
// limits, busy resources and server-side errors.
func IsRetryable(err error) bool {
	code, _ := errorReasons(err)
	return IsRateLimited(err) || IsNotReady(err) || code >= 500
}

// upperSnake turns resourceInUseByAnotherResource into
// RESOURCE_IN_USE_BY_ANOTHER_RESOURCE; upper snake input is unchanged.
func upperSnake(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' && i > 0 && s[i-1] >= 'a' && s[i-1] <= 'z' {
			b.WriteByte('_')
		}
		b.WriteByte(ch)
	}
	return strings.ToUpper(b.String())
}
