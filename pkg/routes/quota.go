package routes

import (
	"sync"
	"time"
)

// quotaGate keeps an exhausted static route quota from turning into a storm
// of failing inserts. The first quota error closes it; while it is closed,
// inserts fail at once with that error, except one per period, the probe,
// which is sent: its success (or any route deleted meanwhile) opens the
// gate again, its quota error closes it for another period.
type quotaGate struct {
	mu       sync.Mutex
	period   time.Duration
	now      func() time.Time
	closedAt time.Time // zero while open
	probing  bool
	last     error // the quota error that closed the gate
}

func newQuotaGate(period time.Duration, now func() time.Time) *quotaGate {
	return &quotaGate{period: period, now: now}
}

func (g *quotaGate) setPeriod(d time.Duration) {
	g.mu.Lock()
	g.period = d
	g.mu.Unlock()
}

// allow reports whether an insert may be sent now. When it may not, wait is
// how long until the next probe may go, and last the quota error to report.
// A caller that is allowed must report the outcome with succeeded, failed
// or done.
func (g *quotaGate) allow() (ok bool, wait time.Duration, last error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closedAt.IsZero() {
		return true, 0, nil
	}
	if g.probing {
		return false, g.period, g.last
	}
	if waited := g.now().Sub(g.closedAt); waited < g.period {
		return false, g.period - waited, g.last
	}
	g.probing = true
	return true, 0, nil
}

// isClosed reports whether the quota is known to be exhausted.
func (g *quotaGate) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.closedAt.IsZero()
}

// succeeded: an insert went through, so the quota has room.
func (g *quotaGate) succeeded() { g.opened() }

// opened: room was made (a route deleted) or an insert succeeded.
func (g *quotaGate) opened() {
	g.mu.Lock()
	g.closedAt, g.probing, g.last = time.Time{}, false, nil
	g.mu.Unlock()
}

// failed: an insert hit the quota.
func (g *quotaGate) failed(err error) {
	g.mu.Lock()
	g.closedAt, g.probing, g.last = g.now(), false, err
	g.mu.Unlock()
}

// done: an allowed insert ended otherwise (another error): it told nothing
// about the quota, and the next caller may probe.
func (g *quotaGate) done() {
	g.mu.Lock()
	g.probing = false
	g.mu.Unlock()
}
