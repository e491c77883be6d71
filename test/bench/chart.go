package main

import (
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"time"
)

// sample is the state of route convergence at one moment.
type sample struct {
	t         float64 // seconds since the sampler started
	inserts   int     // route inserts the fake accepted
	available int     // nodes NetworkUnavailable=False
}

// sampler records route convergence in the background.
type sampler struct {
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	points []sample
}

// startSampler samples w every interval until stop. It reads the fake's
// call counts and the bench's node informer, both cheap.
func startSampler(w *world, interval time.Duration) *sampler {
	s := &sampler{done: make(chan struct{})}
	start := time.Now()
	take := func() {
		avail, _ := w.nodeCounts()
		p := sample{t: time.Since(start).Seconds(), inserts: w.env.Fake.Calls()["routes.insert"]["ok"], available: avail}
		s.mu.Lock()
		s.points = append(s.points, p)
		s.mu.Unlock()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		take()
		for {
			select {
			case <-s.done:
				take()
				return
			case <-t.C:
				take()
			}
		}
	}()
	return s
}

func (s *sampler) stop() []sample {
	close(s.done)
	s.wg.Wait()
	return s.points
}

// firstAt is the time of the first sample that satisfies ok, or -1.
func firstAt(points []sample, ok func(sample) bool) float64 {
	for _, p := range points {
		if ok(p) {
			return p.t
		}
	}
	return -1
}

// writeChart draws route convergence over time as SVG: accepted route
// inserts, nodes marked network available, and the model's fastest
// possible insert curve min(N, B + Q t) with its completion at the bound.
func writeChart(path, name string, n int, c *config, points []sample, r *result) error {
	const (
		width, height = 800, 460
		left, right   = 70, 30
		top, bottom   = 50, 70
	)
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	tMax := r.BoundSeconds
	if len(points) > 0 {
		tMax = max(tMax, points[len(points)-1].t)
	}
	tMax = niceCeil(tMax * 1.05)
	yMax := niceCeil(float64(n) * 1.05)
	x := func(t float64) float64 { return float64(left) + t/tMax*pw }
	y := func(v float64) float64 { return float64(top) + ph - v/yMax*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s: %d nodes join at once (L=%gs, Q=%g/s): %.1fs, bound %.1fs, ratio %.2f</text>`+"\n",
		left, name, n, c.latency.Seconds(), c.qps, r.Seconds, r.BoundSeconds, r.Ratio)

	// Grid and axes.
	for _, t := range ticks(tMax) {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x(t), top, x(t), y(0))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", x(t), y(0)+16, t)
	}
	for _, v := range ticks(yMax) {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", left, y(v), x(tMax), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, y(0), x(tMax), y(0))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="black"/>`+"\n", left, top, left, y(0))
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">seconds since the first node joined</text>`+"\n", x(tMax/2), height-30)
	fmt.Fprintf(&b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">count</text>`+"\n", y(yMax/2))

	// The model's fastest insert curve and its completion time.
	burst, q, l := float64(c.burst()), c.qps, c.latency.Seconds()
	tFull := math.Max(0, float64(n)-burst) / q
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#999" stroke-width="1.5" stroke-dasharray="6 4" points="%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f"/>`+"\n",
		x(0), y(math.Min(burst, float64(n))), x(tFull), y(float64(n)), x(tFull+l), y(float64(n)), x(tMax), y(float64(n)))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="2 3"/>`+"\n", x(r.BoundSeconds), top, x(r.BoundSeconds), y(0))

	line := func(color string, v func(sample) int) {
		var pts []string
		for _, p := range points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.t), y(float64(v(p)))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
	}
	line("#1f77b4", func(p sample) int { return p.inserts })
	line("#d62728", func(p sample) int { return p.available })

	// Legend.
	legend := []struct{ color, dash, text string }{
		{"#1f77b4", "", "route inserts accepted by the API"},
		{"#d62728", "", "nodes NetworkUnavailable=False"},
		{"#999", "6 4", "model: min(N, B + Q t); bound = max(0, N-B)/Q + L"},
	}
	for i, e := range legend {
		ly := float64(top) + 14 + float64(i)*18
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n",
			x(0)+10, ly, x(0)+40, ly, e.color, e.dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", x(0)+46, ly+4, e.text)
	}
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// ticks are about five round values from 0 to top.
func ticks(top float64) []float64 {
	step := niceCeil(top / 6)
	var out []float64
	for v := 0.0; v <= top+step/1e6; v += step {
		out = append(out, v)
	}
	return out
}
