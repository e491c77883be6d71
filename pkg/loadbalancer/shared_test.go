package loadbalancer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

func TestSharedWritesRunOnceForConcurrentCallers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var s sharedWrites
		var runs atomic.Int32
		release := make(chan struct{})
		fn := func() (string, error) {
			runs.Add(1)
			<-release
			return "link", errors.New("shared failure")
		}
		const callers = 10
		var results [callers]string
		var errs [callers]error
		for i := range callers {
			go func() { results[i], errs[i] = s.do(context.Background(), "k", fn) }()
		}
		synctest.Wait() // one caller in fn, the others waiting for it
		if got := runs.Load(); got != 1 {
			t.Fatalf("fn ran %d times while callers overlapped, want 1", got)
		}
		close(release)
		synctest.Wait()
		for i := range callers {
			if results[i] != "link" || errs[i] == nil || errs[i].Error() != "shared failure" {
				t.Errorf("caller %d got (%q, %v), want the shared outcome (\"link\", shared failure)", i, results[i], errs[i])
			}
		}
		// Once the flight has ended, a call runs fn anew.
		if _, err := s.do(context.Background(), "k", func() (string, error) { runs.Add(1); return "", nil }); err != nil {
			t.Fatal(err)
		}
		if got := runs.Load(); got != 2 {
			t.Errorf("fn ran %d times in all, want 2", got)
		}
	})
}

func TestSharedWritesKeysAreIndependent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var s sharedWrites
		release := make(chan struct{})
		go func() {
			_, _ = s.do(context.Background(), "a", func() (string, error) { <-release; return "", nil })
		}()
		synctest.Wait()
		got, err := s.do(context.Background(), "b", func() (string, error) { return "b", nil })
		if got != "b" || err != nil {
			t.Errorf("key b got (%q, %v) while key a was in flight, want (\"b\", nil)", got, err)
		}
		close(release)
	})
}

func TestSharedWritesWaiterHonoursContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var s sharedWrites
		release := make(chan struct{})
		go func() {
			_, _ = s.do(context.Background(), "k", func() (string, error) { <-release; return "", nil })
		}()
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.do(ctx, "k", func() (string, error) { t.Error("a waiter ran fn"); return "", nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		close(release)
	})
}
