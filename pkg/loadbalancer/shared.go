package loadbalancer

import (
	"context"
	"sync"
)

// sharedWrites makes the Services synced at the same time write a resource
// they share (the cluster's node health check and its firewall) once. The
// first caller of a key runs fn; callers that arrive while it runs wait for
// its outcome instead of running fn themselves. Without it, each of the
// Services saw the resource missing and inserted it: one insert succeeded,
// the others spent write quota on 409 alreadyExists, and Services whose
// pool referenced the health check before its insert operation ended got
// 400 resourceNotReady and were retried after the service controller's
// backoff.
type sharedWrites struct {
	mu      sync.Mutex
	flights map[string]*flight
}

type flight struct {
	done chan struct{}
	val  string
	err  error
}

// do runs fn once for the concurrent callers of key and returns its result
// to all of them.
func (s *sharedWrites) do(ctx context.Context, key string, fn func() (string, error)) (string, error) {
	s.mu.Lock()
	if f, ok := s.flights[key]; ok {
		s.mu.Unlock()
		select {
		case <-f.done:
			return f.val, f.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if s.flights == nil {
		s.flights = map[string]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	s.flights[key] = f
	s.mu.Unlock()

	f.val, f.err = fn()
	s.mu.Lock()
	delete(s.flights, key)
	s.mu.Unlock()
	close(f.done)
	return f.val, f.err
}
