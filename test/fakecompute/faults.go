package fakecompute

import (
	"fmt"
	"net/http"
)

// FaultMode says how an injected fault shows itself.
type FaultMode string

const (
	// FaultError answers the call at once with the fault's error.
	FaultError FaultMode = "error"
	// FaultOperation accepts a mutation and returns an operation that ends
	// with the fault's error, changing nothing (a read fails at once).
	FaultOperation FaultMode = "operation"
	// FaultDrop closes the connection without an answer.
	FaultDrop FaultMode = "drop"
)

// Fault makes calls of a method fail: the next Count calls, or each call with
// probability Fraction, or both (Count bounds how many fail by Fraction).
type Fault struct {
	// Method is an API method such as "routes.insert", or "*" for every method.
	Method string `json:"method"`
	// Count is how many calls fail; 0 with a Fraction means unbounded.
	Count int `json:"count,omitempty"`
	// Fraction, in (0,1], makes each call fail with that probability.
	Fraction float64 `json:"fraction,omitempty"`
	// Mode defaults to FaultError.
	Mode FaultMode `json:"mode,omitempty"`
	// Code, Reason and Message of the error; default 503 backendError.
	Code    int    `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

func (f Fault) validate() error {
	if f.Method == "" {
		return fmt.Errorf("fault needs a method (or \"*\")")
	}
	if f.Count < 0 || f.Fraction < 0 || f.Fraction > 1 {
		return fmt.Errorf("fault for %s: count must be >= 0 and fraction within [0,1]", f.Method)
	}
	if f.Count == 0 && f.Fraction == 0 {
		return fmt.Errorf("fault for %s: set count, fraction or both", f.Method)
	}
	switch f.Mode {
	case "", FaultError, FaultOperation, FaultDrop:
	default:
		return fmt.Errorf("fault for %s: unknown mode %q (want error, operation or drop)", f.Method, f.Mode)
	}
	if f.Code != 0 && (f.Code < 400 || f.Code > 599) {
		return fmt.Errorf("fault for %s: code %d is not an HTTP error status", f.Method, f.Code)
	}
	return nil
}

func (f Fault) err() *Error {
	e := &Error{Code: f.Code, Reason: f.Reason, Message: f.Message}
	if e.Code == 0 {
		e.Code = http.StatusServiceUnavailable
	}
	if e.Reason == "" {
		e.Reason = ReasonBackend
	}
	if e.Message == "" {
		e.Message = "Injected fault: " + e.Reason
	}
	if e.Reason == ReasonRateLimitExceeded || e.Reason == ReasonQuotaExceeded {
		e.Domain = "usageLimits"
	}
	return e
}

type faultState struct {
	Fault
	left int // calls still to fail when Count > 0
}

// takeFault returns the fault that applies to this call of method, if any,
// and consumes one of its failures. The caller holds the lock.
func (s *Server) takeFault(method string) *Fault {
	for i, f := range s.faults {
		if f.Method != "*" && f.Method != method {
			continue
		}
		if f.Fraction > 0 && s.rnd.Float64() >= f.Fraction {
			continue
		}
		if f.Count > 0 {
			f.left--
			if f.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		if f.Mode == "" {
			f.Mode = FaultError
		}
		out := f.Fault
		return &out
	}
	return nil
}
