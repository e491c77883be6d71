package fakecompute_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/gce-ccm/gce-ccm/test/fakecompute"
)

const benchRoutes = 5000

// insertV1Routes inserts n routes with apiv1 from workers goroutines. Without
// latency every operation is DONE in the insert's answer, so none needs a wait.
func insertV1Routes(tb testing.TB, e *env, prefix string, n, workers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				op, err := e.v1.routes.Insert(e.ctx, &computepb.InsertRouteRequest{Project: project, RouteResource: &computepb.Route{
					Name: str(fmt.Sprintf("%s-%05d", prefix, i)), Network: str(networkLink),
					DestRange: str(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)), NextHopIp: str("10.128.0.9")}})
				if err == nil && !op.Done() {
					err = op.Wait(e.ctx)
				}
				if err != nil {
					tb.Errorf("insert %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkRoutes measures the fake with the apiv1 client: inserting 5,000
// routes (8 concurrent callers) and listing them in pages of 500.
func BenchmarkRoutes(b *testing.B) {
	b.Run("insert", func(b *testing.B) {
		var total time.Duration
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			e := newEnv(b, fakecompute.Config{})
			b.StartTimer()
			start := time.Now()
			insertV1Routes(b, e, fmt.Sprintf("b%d", i), benchRoutes, 8)
			total += time.Since(start)
		}
		b.ReportMetric(float64(benchRoutes*b.N)/total.Seconds(), "routes/s")
	})

	b.Run("list", func(b *testing.B) {
		e := newEnv(b, fakecompute.Config{})
		insertV1Routes(b, e, "l", benchRoutes, 8)
		var total time.Duration
		for b.Loop() {
			start := time.Now()
			n := 0
			it := e.v1.routes.List(e.ctx, &computepb.ListRoutesRequest{Project: project, MaxResults: u32(500)})
			for _, err := range it.All() {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			total += time.Since(start)
			if n != benchRoutes {
				b.Fatalf("listed %d routes, want %d", n, benchRoutes)
			}
		}
		b.ReportMetric(float64(benchRoutes*b.N)/total.Seconds(), "routes/s")
	})
}
