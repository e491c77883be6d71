package gce

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// WriteFence decides whether this process may still write to Compute. Every
// mutation passes it in send, right before each attempt goes on the wire,
// so a write method added later is fenced without knowing it.
type WriteFence interface {
	// Allow returns nil when a write may be sent now, else an error that
	// says why not.
	Allow() error
}

// ErrLeaseLapsed is the class of the error a LeaseFence returns once the
// leader lease is no longer known to be held.
var ErrLeaseLapsed = errors.New("the leader lease is no longer known to be held by this process")

// LeaseFence is the WriteFence of a replica that runs under leader
// election. It is told when the lease was last renewed (Renewed, with the
// time the successful renew request was sent) and allows writes until that
// time plus Valid by the local clock. Another replica can take the lease
// over only LeaseDuration after it observed that renewal, so with Valid at
// most the renew deadline (shorter than the lease duration) a write that
// passes the fence reaches GCE while the lease is still this process's,
// unless the write itself takes longer than the difference.
//
// A process frozen (SIGSTOP, a stalled VM, a long GC pause) while a write
// waits in the rate limiter or between retries finds the fence closed when
// it wakes: the write is refused and StepDown is called once, as upstream
// leader election exits when it loses the lease.
type LeaseFence struct {
	// Valid is how long after a renewal writes are allowed.
	Valid time.Duration
	// StepDown is called once, with the refusal, on the first refused write;
	// the manager's logs it and exits the process.
	StepDown func(error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu      sync.Mutex
	renewed time.Time // zero: never held
	stepped bool
}

// Renewed records that a renew (or acquisition) of the lease sent at "at"
// succeeded. Older times than the one recorded are ignored.
func (f *LeaseFence) Renewed(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.renewed.IsZero() || at.After(f.renewed) {
		f.renewed = at
	}
}

// Allow implements WriteFence.
func (f *LeaseFence) Allow() error {
	t := f.now()
	f.mu.Lock()
	renewed := f.renewed
	err := f.check(renewed, t)
	step := err != nil && !f.stepped
	if step {
		f.stepped = true
	}
	f.mu.Unlock()
	if step && f.StepDown != nil {
		f.StepDown(err)
	}
	return err
}

// now reads the fence's clock (f.Now, else time.Now).
func (f *LeaseFence) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Lapsed returns the refusal of a lease that was held and has lapsed, and
// nil while it is held or before it ever was. It does not step down.
func (f *LeaseFence) Lapsed() error {
	t := f.now()
	f.mu.Lock()
	renewed := f.renewed
	f.mu.Unlock()
	if renewed.IsZero() {
		return nil
	}
	return f.check(renewed, t)
}

// lapser is a fence that can tell a lapsed lease from one never held.
type lapser interface{ Lapsed() error }

// fencedConn refuses to write to a Compute connection once the lease that
// was held has lapsed: the last look, right before bytes reach the socket.
// A request that passed the checks in send and in the transport just before
// the process froze is stopped here when it wakes. Reads go no further
// either then; the process is stepping down.
type fencedConn struct {
	net.Conn
	fence lapser
}

func (fc *fencedConn) Write(b []byte) (int, error) {
	if err := fc.fence.Lapsed(); err != nil {
		return 0, err
	}
	return fc.Conn.Write(b)
}

// fenceConnections makes every connection t dials a fencedConn.
func fenceConnections(t *http.Transport, fence WriteFence) {
	l, ok := fence.(lapser)
	if !ok {
		return
	}
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &fencedConn{Conn: c, fence: l}, nil
	}
}

// check compares both the monotonic and the wall clock readings (when the
// times carry them) and refuses when either says the lease has lapsed: the
// monotonic clock stops while the machine is suspended, the wall clock can
// be stepped by NTP; a false refusal costs a restart, a false allowance a
// write by a replica that may no longer lead.
func (f *LeaseFence) check(renewed, now time.Time) error {
	if renewed.IsZero() {
		return fmt.Errorf("%w: it has not been acquired", ErrLeaseLapsed)
	}
	deadline := renewed.Add(f.Valid)
	late := now.Sub(deadline)                       // monotonic when both carry it
	wallLate := now.Round(0).Sub(deadline.Round(0)) // wall clock only
	if wallLate > late {
		late = wallLate
	}
	if late >= 0 {
		return fmt.Errorf("%w: last renewed %s ago, writes are allowed for %s after a renewal",
			ErrLeaseLapsed, (f.Valid + late).Round(time.Millisecond), f.Valid)
	}
	return nil
}

// IsLeaseLapsed reports whether err is a write refused by a LeaseFence.
func IsLeaseLapsed(err error) bool { return errors.Is(err, ErrLeaseLapsed) }

// writeKey marks the context of a write's request.
type writeKey struct{}

// asWrite marks ctx as that of a write request, which the fenced transport
// checks again.
func asWrite(ctx context.Context) context.Context { return context.WithValue(ctx, writeKey{}, true) }

// fencedTransport asks the fence once more for a write request, in the
// transport, right before the request goes to a connection: send's check
// comes before the client library builds and encodes the request, and a
// process frozen in between would otherwise send it when it wakes. What is
// left between this check and the bytes on the wire (taking a connection,
// writing it) no user-space check can close.
type fencedTransport struct {
	base  http.RoundTripper
	fence WriteFence
}

func (t *fencedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Context().Value(writeKey{}) != nil {
		if err := t.fence.Allow(); err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, err
		}
	}
	return t.base.RoundTrip(req)
}

// fencedClient returns hc with its transport behind the fence, or hc when
// there is no fence.
func fencedClient(hc *http.Client, fence WriteFence) *http.Client {
	if fence == nil || hc == nil {
		return hc
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out := *hc
	out.Transport = &fencedTransport{base: base, fence: fence}
	return &out
}
