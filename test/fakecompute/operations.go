package fakecompute

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	compute "google.golang.org/api/compute/v1"
)

// operation is a long-running operation. Its effect on resources is applied
// when it is created (after validation); the resources it touches stay
// locked (mutations of them answer resourceNotReady) until it ends, when
// resources it deletes disappear. An operation chosen to fail applies nothing
// and ends with its error.
type operation struct {
	op        *compute.Operation
	ref       ref // where the operation lives: project and scope
	requestID string
	done      chan struct{}
	failure   *Error
	locks     []interface{ release(*operation) }
	finish    []func()
	timer     *time.Timer
}

func (o *operation) isDone() bool {
	select {
	case <-o.done:
		return true
	default:
		return false
	}
}

// complete ends the operation; the caller holds the server lock.
func (s *Server) complete(o *operation) {
	if o.isDone() {
		return
	}
	for _, l := range o.locks {
		l.release(o)
	}
	for _, f := range o.finish {
		f()
	}
	op := o.op
	op.Status = "DONE"
	op.Progress = 100
	op.EndTime = s.timestamp()
	if e := o.failure; e != nil {
		op.Error = &compute.OperationError{Errors: []*compute.OperationErrorErrors{{Code: opErrorCode(e.Reason), Message: e.Message}}}
		op.HttpErrorStatusCode = int64(e.Code)
		op.HttpErrorMessage = http.StatusText(e.Code)
	}
	close(o.done)
}

// mutate runs apply under the server lock as one operation of type opType.
// apply validates, changes the resources, locks them with o and returns the
// target; on error nothing may have changed. A retried request with the same
// requestId gets the first request's operation and changes nothing.
func (s *Server) mutate(c *call, opType string, apply func(o *operation) (ref, uint64, *Error)) (any, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.byRequestID(c); o != nil {
		return s.opJSON(o), nil
	}
	o := s.newOperation(c, opType)
	target, id, err := apply(o)
	if err != nil && err.inOperation {
		// Accepted, then failed: the operation ends with the error and
		// nothing changed.
		o.op.TargetLink = target.link()
		o.failure = err
		s.start(o, c.method)
		return s.opJSON(o), nil
	}
	if err != nil {
		delete(s.ops, o.ref.key())
		if c.requestID != "" {
			delete(s.requests, c.project+"/"+c.requestID)
		}
		return nil, err
	}
	o.op.TargetLink = target.link()
	o.op.TargetId = id
	s.start(o, c.method)
	return s.opJSON(o), nil
}

func (s *Server) byRequestID(c *call) *operation {
	if c.requestID == "" {
		return nil
	}
	return s.requests[c.project+"/"+c.requestID]
}

// newOperation registers an operation in the request's project and scope.
// The caller holds the server lock.
func (s *Server) newOperation(c *call, opType string) *operation {
	s.nextOp++
	name := "operation-" + s.now().Format("20060102150405") + "-" + hexID(s.nextOp)
	scopeRef := ref{project: c.project, scope: c.scope, kind: "operations", name: name}
	op := &compute.Operation{
		Kind:          "compute#operation",
		Id:            s.newID(),
		Name:          name,
		OperationType: opType,
		Status:        "RUNNING",
		User:          "fake-compute@" + c.project + ".iam.gserviceaccount.com",
		Progress:      0,
		InsertTime:    s.timestamp(),
		StartTime:     s.timestamp(),
		SelfLink:      scopeRef.link(),
	}
	switch {
	case strings.HasPrefix(c.scope, "zones/"):
		op.Zone = scopeLink(c.project, c.scope)
	case strings.HasPrefix(c.scope, "regions/"):
		op.Region = scopeLink(c.project, c.scope)
	}
	o := &operation{op: op, ref: scopeRef, requestID: c.requestID, done: make(chan struct{})}
	s.ops[scopeRef.key()] = o
	if c.requestID != "" {
		s.requests[c.project+"/"+c.requestID] = o
	}
	return o
}

// start schedules the end of the operation after the method's latency; with
// no latency it ends at once. The caller holds the server lock.
func (s *Server) start(o *operation, method string) {
	d := s.latencyFor(method)
	if d <= 0 {
		s.complete(o)
		return
	}
	o.timer = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.complete(o)
	})
}

func (s *Server) opJSON(o *operation) json.RawMessage {
	raw, _ := json.Marshal(o.op)
	return raw
}

// handleOperation serves get and wait for operations of any scope.
func (s *Server) handleOperation(wait bool) handler {
	return func(c *call) (any, *Error) {
		key := c.project + "/" + c.scope + "/" + c.name
		s.mu.Lock()
		o := s.ops[key]
		s.mu.Unlock()
		if o == nil {
			return nil, errNotFound(ref{project: c.project, scope: c.scope, kind: "operations", name: c.name}.path())
		}
		if wait {
			// Like GCE, wait returns when the operation is done or after a
			// bounded time, whichever comes first; the caller waits again.
			t := time.NewTimer(s.cfg.MaxWait)
			defer t.Stop()
			select {
			case <-o.done:
			case <-t.C:
			case <-s.closing:
			case <-c.ctx.Done():
				return nil, &Error{Code: 499, Reason: "cancelled", Message: context.Cause(c.ctx).Error()}
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.opJSON(o), nil
	}
}

func hexID(n uint64) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 16)
	for i := 0; i < 8 || n > 0; i++ {
		b = append(b, digits[n&15])
		n >>= 4
	}
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
