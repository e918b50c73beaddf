package main

import (
	"fmt"
	"math"
)

// targetKind is how issue 17 judges an engine against its floor and peer.
type targetKind int

const (
	noTarget       targetKind = iota
	quarterBeyond             // (ours − floor) ≤ ¼ (peer − floor)
	thirdOfPeer               // ours ≤ ⅓ peer
	tenMicros                 // ours − floor ≤ 10 µs (no peer on this store)
	cachedDBTarget            // read-write: ours ≤ 1.5× floor
)

// pairedEngine is one group of BenchmarkPaired: ours, the floor and the
// peer timed in one loop.
type pairedEngine struct {
	name   string
	group  string // BenchmarkPaired/<group>/{read,write}
	peer   string // side name of the peer, "" for none
	floor  string // side name of the floor ("harness" for memory)
	target targetKind
}

var pairedEngines = []pairedEngine{
	{"memory", "Memory", "scs", "harness", quarterBeyond},
	{"signed cookies", "SignedCookie", "gorilla", "floor", thirdOfPeer},
	{"SQLite (mattn, scs's driver)", "SQLiteMattn", "scs", "floor", quarterBeyond},
	{"SQLite (modernc, our default)", "SQLite", "", "floor", noTarget},
	{"PostgreSQL", "Postgres", "scs", "floor", quarterBeyond},
	{"MariaDB", "MariaDB", "", "floor", noTarget},
	{"Redis", "Redis", "scs", "floor", quarterBeyond},
	{"Redis Cluster", "RedisCluster", "", "floor", noTarget},
	{"memcached", "Memcached", "", "floor", tenMicros},
	{"cached_db", "CachedDB", "", "floor", cachedDBTarget},
}

// side returns the per-run function reading a side's ns/op.
func side(name string) func(map[string]float64) float64 {
	return func(r map[string]float64) float64 {
		if v, ok := r[name+"-ns/op"]; ok {
			return v
		}
		return math.NaN()
	}
}

// pairedFigures are the medians of one interleaved benchmark.
type pairedFigures struct {
	ours, floor, peer       float64
	oursBeyond, peerBeyond  float64 // beyond the floor
	ratioFloor, beyondRatio float64 // ours/floor; (ours − floor)/(peer − floor)
	ratioPeer               float64 // ours/peer
	// aa and aaRatio are the A/A comparison, where the benchmark has a
	// control (the floor's work again on a client of its own): the median
	// over the runs of |control − floor| and of |control/floor − 1|.
	// twinAA and twinRatio are the same for our side, where it has a twin
	// (our requests again through a Manager of its own): |twin − ours|
	// and |twin/ours − 1|. A target closer to its line than the larger of
	// the two cannot be told from the noise of the loop. NaN without them.
	aa, aaRatio       float64
	twinAA, twinRatio float64
}

// noise is the larger of the two A/A differences in ns (see
// pairedFigures), NaN when there is neither.
func (f pairedFigures) noise() float64 { return maxKnown(f.aa, f.twinAA) }

// maxKnown is the larger of a and b that is not NaN (NaN if both are).
func maxKnown(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return math.Max(a, b)
}

func (e pairedEngine) figures(r *results, kind string) (pairedFigures, bool) {
	return e.figuresOf(r, "Paired", kind)
}

// figuresOf is figures from the benchmark bench (BenchmarkPaired's loop,
// or BenchmarkWarm's, which has the same sides).
func (e pairedEngine) figuresOf(r *results, bench, kind string) (pairedFigures, bool) {
	s := r.get(bench + "/" + e.group + "/" + kind)
	if s == nil {
		return pairedFigures{}, false
	}
	o, f := side("ours"), side(e.floor)
	p := side(e.peer)
	pf := pairedFigures{
		ours:       s.medf(o),
		floor:      s.medf(f),
		peer:       math.NaN(),
		oursBeyond: s.medf(func(x map[string]float64) float64 { return o(x) - f(x) }),
		peerBeyond: math.NaN(), beyondRatio: math.NaN(), ratioPeer: math.NaN(),
		ratioFloor: s.medf(func(x map[string]float64) float64 { return o(x) / f(x) }),
	}
	pf.aa, pf.aaRatio = aaNoise(s, side("control"), f)
	pf.twinAA, pf.twinRatio = aaNoise(s, side("twin"), o)
	if e.peer != "" {
		pf.peer = s.medf(p)
		pf.peerBeyond = s.medf(func(x map[string]float64) float64 { return p(x) - f(x) })
		// The ratio of the medians of the run-by-run differences: a
		// median of ratios would blow up in a run where the peer's
		// difference comes out near zero.
		pf.beyondRatio = pf.oursBeyond / pf.peerBeyond
		pf.ratioPeer = s.medf(func(x map[string]float64) float64 { return o(x) / p(x) })
	}
	return pf, true
}

// aaNoise returns the A/A figures of a side and its control, run by run
// (see pairedFigures): the medians of |control − side| and of
// |control/side − 1|, or NaN, NaN without the control.
func aaNoise(s *sample, control, of func(map[string]float64) float64) (aa, aaRatio float64) {
	if math.IsNaN(s.medf(control)) {
		return math.NaN(), math.NaN()
	}
	return s.medf(func(x map[string]float64) float64 { return math.Abs(control(x) - of(x)) }),
		s.medf(func(x map[string]float64) float64 { return math.Abs(control(x)/of(x) - 1) })
}

// aaWhy says what the A/A comparisons measured, for an inconclusive
// target: format prints one figure. It names only the comparisons the
// benchmark has (memory and signed cookies have a twin but no control).
func aaWhy(margin, floorAA, twinAA float64, format func(float64) string) string {
	why := format(margin) + " from the line; A/A: "
	if math.IsNaN(floorAA) {
		return why + "ours' twin differed by " + format(twinAA)
	}
	why += "the floor's control differed by " + format(floorAA)
	if !math.IsNaN(twinAA) {
		why += ", ours' twin by " + format(twinAA)
	}
	return why
}

// verdict judges one engine's request against its target: the target's
// text, the measured figure, and whether it is met. ok is false when
// there is no target for it. noisy reports a figure that neither meets
// nor misses the target: one beyond the floor below zero (the floor, a
// part of the request, measured slower than the whole request), or one
// nearer to the target's line than the floor measured against its own
// control, or ours against its twin (the A/A comparisons), which it then
// says in why.
func (e pairedEngine) verdict(f pairedFigures, kind string) (target, measured string, met, noisy bool, why string, ok bool) {
	switch e.target {
	case quarterBeyond, tenMicros:
		if f.oursBeyond < 0 || (e.target == quarterBeyond && f.peerBeyond <= 0) {
			noisy, why = true, "below zero: noise"
		}
	}
	if !noisy && !math.IsNaN(f.noise()) {
		line, at := math.NaN(), f.oursBeyond // the target's line, and ours, in ns
		switch e.target {
		case quarterBeyond:
			line = f.peerBeyond / 4
		case tenMicros:
			line = 10e3
		case thirdOfPeer:
			line, at = f.peer/3, f.ours
		case cachedDBTarget:
			margin := math.Abs(f.ratioFloor - 1.5)
			if kind == "write" && maxKnown(f.aaRatio, f.twinRatio) >= margin {
				noisy, why = true, aaWhy(margin, f.aaRatio, f.twinRatio, func(v float64) string { return fmt.Sprintf("%.2f", v) })
			}
		}
		if margin := math.Abs(at - line); f.noise() >= margin {
			noisy, why = true, aaWhy(margin, f.aa, f.twinAA, us)
		}
	}
	target, measured, met, ok = e.judge(f, kind)
	return target, measured, met && !noisy, noisy, why, ok
}

// judge is verdict without the check for noise.
func (e pairedEngine) judge(f pairedFigures, kind string) (target, measured string, met, ok bool) {
	switch e.target {
	case quarterBeyond:
		what := "floor"
		if e.floor == "harness" {
			what = "harness"
		}
		return fmt.Sprintf("ours beyond the %s ≤ ¼ of %s's", what, e.peer),
			fmt.Sprintf("%s vs %s: %.2f", us(f.oursBeyond), us(f.peerBeyond), f.beyondRatio),
			f.beyondRatio <= 0.25, !math.IsNaN(f.beyondRatio)
	case thirdOfPeer:
		return fmt.Sprintf("ours ≤ ⅓ of %s's time", e.peer),
			fmt.Sprintf("%s vs %s: %.2f", us(f.ours), us(f.peer), f.ratioPeer),
			f.ratioPeer <= 1.0/3, !math.IsNaN(f.ratioPeer)
	case tenMicros:
		return "ours ≤ 10 µs beyond the floor (scs has no store)",
			fmt.Sprintf("%s beyond %s", us(f.oursBeyond), us(f.floor)),
			f.oursBeyond <= 10e3, !math.IsNaN(f.oursBeyond)
	case cachedDBTarget:
		if kind != "write" {
			return "", "", false, false
		}
		return "ours ≤ 1.5× the floor (cache GET, database write, cache SET)",
			fmt.Sprintf("%s vs %s: %.2f×", us(f.ours), us(f.floor), f.ratioFloor),
			f.ratioFloor <= 1.5, !math.IsNaN(f.ratioFloor)
	}
	return "", "", false, false
}

// Network stores of BenchmarkNetwork.
var networkStores = []struct{ name, group, peer string }{
	{"Redis", "Redis", "scs"},
	{"memcached", "Memcached", ""},
	{"PostgreSQL", "Postgres", "scs"},
	{"MariaDB", "MariaDB", ""},
	{"cached_db", "CachedDB", ""},
}

var networkRTTs = []struct {
	name string
	ns   float64
}{{"rtt=200us", 200e3}, {"rtt=1ms", 1e6}}

// parallelSide returns the per-run function reading a side's unit in
// BenchmarkParallel ("req/s/core", "cpu-us/req", "allocs/req"): NaN where
// the side is absent.
func parallelSide(side, unit string) func(map[string]float64) float64 {
	return func(r map[string]float64) float64 {
		if v, ok := r[side+"-"+unit]; ok {
			return v
		}
		return math.NaN()
	}
}

// parallelOf returns the medians of one store's BenchmarkParallel: a
// side's unit, or (ratio) the run-by-run ratio of two sides' throughput.
func parallelOf(r *results, group string) (unit func(side, unit string) float64, ratio func(a, b string) float64, ok bool) {
	s := r.get("Parallel/" + group)
	unit = func(side, u string) float64 { return s.medf(parallelSide(side, u)) }
	ratio = func(a, b string) float64 {
		ra, rb := parallelSide(a, "req/s/core"), parallelSide(b, "req/s/core")
		return s.medf(func(x map[string]float64) float64 { return ra(x) / rb(x) })
	}
	return unit, ratio, s != nil
}

// Stores of BenchmarkParallel, with the peer measured beside ours.
var parallelStores = []struct {
	name, group, peer string
	target            bool // issue 17: ours ≥ 2× the peer
}{
	{"memory", "memory", "scs", true},
	{"signed cookies", "cookie", "gorilla", false},
	{"SQLite (modernc, our default)", "sqlite", "", false},
	{"SQLite (mattn, scs's driver)", "sqlite-mattn", "scs", true},
	{"bolt", "bolt", "", false},
	{"PostgreSQL", "postgres", "scs", true},
	{"MariaDB", "mariadb", "", false},
	{"Redis", "redis", "scs", true},
	{"memcached", "memcached", "", false},
	{"cached_db", "cached_db", "", false},
}

// Stores of BenchmarkLoad.
var loadStores = []struct{ name, group string }{
	{"memory", "memory"},
	{"Redis", "redis"},
	{"SQLite (each library's usual driver)", "sqlite"},
	{"SQLite (mattn, scs's driver)", "sqlite-mattn"},
}

// Engines and sizes of BenchmarkSize.
var sizeEngines = []string{"memory", "sqlite", "redis", "cached_db"}

var sizes = []struct {
	name  string
	bytes float64
}{{"100B", 100}, {"1KB", 1000}, {"10KB", 10_000}, {"100KB", 100_000}}

// linearSlack is the noise allowed on "no faster than linearly": each
// tenfold step in size may cost at most 10× (+10%).
const linearSlack = 1.10

// sizeSlope returns, for one engine and request, the times at each size
// and the largest growth exponent between consecutive sizes
// (log(t2/t1) / log(s2/s1); 1 is linear).
func sizeSlope(r *results, eng, kind string) ([]float64, float64) {
	var ts []float64
	worst := math.NaN()
	for i, sz := range sizes {
		t := r.get("Size/" + eng + "/" + kind + "/" + sz.name).med("ns/op")
		ts = append(ts, t)
		if i > 0 && !math.IsNaN(t) && !math.IsNaN(ts[i-1]) {
			// The nominal sizes: the sessions BenchmarkSize builds are
			// within 2% of them.
			s1, s2 := sizes[i-1].bytes, sz.bytes
			slope := math.Log(t/ts[i-1]) / math.Log(s2/s1)
			if math.IsNaN(worst) || slope > worst {
				worst = slope
			}
		}
	}
	return ts, worst
}
