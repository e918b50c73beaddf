package main

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

// parseInput is go test -bench output as bench.sh collects it: meta
// lines, benchmark lines with and without the GOMAXPROCS suffix, custom
// metrics, several runs of one benchmark, and lines that are not results.
const parseInput = `goos: linux
goarch: amd64
pkg: github.com/sessionkit/sessions/benchmarks
cpu: AMD EPYC 7B13
BenchmarkHarness-2                            	  388278	      3390 ns/op	    5801 B/op	      19 allocs/op
BenchmarkPaired/Redis/read-2    	   15811	     50000 ns/op	     40000 floor-ns/op	     70000 ours-ns/op	    120000 scs-ns/op	         1.750 ours/floor	   41400 B/op	     394 allocs/op
=== RUN   BenchmarkBar
BenchmarkBar
--- BENCH: BenchmarkFoo-2
    foo_test.go:12: BenchmarkFoo-2 logs 1000 lines
BenchmarkPaired/Redis/read-2    	   15420	     52000 ns/op	     41000 floor-ns/op	     71000 ours-ns/op	    121000 scs-ns/op	         1.732 ours/floor
BenchmarkClearSessions/bolt/100000    	       1	 257991077 ns/op
BenchmarkParallel/sqlite-mattn-4   	       4	 306460817 ns/op	     15287 floor-req/s/core	     10234 ours-req/s/core	      4504 scs-req/s/core	       48.21 ours-cpu-us/req
BenchmarkSize/memory/read/100B-2         	  137626	      9549 ns/op	  10.26 MB/s	    8002 B/op	      34 allocs/op
BenchmarkBroken-2     	     100	       abc ns/op	      12 allocs/op	 7
BenchmarkSize/x-10-2   	     100	       500 ns/op
BenchmarkNoIterations-2
BenchmarkPaired/Redis/read-2    	   16000	     51000 ns/op	     39000 floor-ns/op	     69000 ours-ns/op	    119000 scs-ns/op	         1.769 ours/floor
PASS
ok  	github.com/sessionkit/sessions/benchmarks	123.456s
`

func TestParse(t *testing.T) {
	r := parse(strings.NewReader(parseInput))

	wantMeta := map[string]string{
		"goos":   "linux",
		"goarch": "amd64",
		"pkg":    "github.com/sessionkit/sessions/benchmarks",
		"cpu":    "AMD EPYC 7B13",
	}
	if !maps.Equal(r.meta, wantMeta) {
		t.Errorf("meta = %v, want %v", r.meta, wantMeta)
	}

	// Names without the -N suffix, in the order first seen; lines that
	// are not results (=== RUN, a bare name, --- BENCH, logs, PASS, ok)
	// add none.
	wantOrder := []string{
		"Harness",
		"Paired/Redis/read",
		"ClearSessions/bolt/100000",
		"Parallel/sqlite-mattn",
		"Size/memory/read/100B",
		"Broken",
		"Size/x-10",
	}
	if !slices.Equal(r.order, wantOrder) {
		t.Errorf("order = %q, want %q", r.order, wantOrder)
	}
	if len(r.m) != len(wantOrder) {
		t.Errorf("%d samples, want %d: %v", len(r.m), len(wantOrder), slices.Sorted(maps.Keys(r.m)))
	}

	for name, procs := range map[string]int{
		"Harness":                   2,
		"Paired/Redis/read":         2,
		"ClearSessions/bolt/100000": 1, // no suffix: GOMAXPROCS 1
		"Parallel/sqlite-mattn":     4,
		"Size/x-10":                 2, // only the last -N is the suffix
	} {
		if s := r.get(name); s == nil {
			t.Errorf("%s: missing", name)
		} else if s.procs != procs {
			t.Errorf("%s: procs = %d, want %d", name, s.procs, procs)
		}
	}

	// Several runs of one benchmark are appended in order, each with every
	// unit it printed, custom ones included.
	paired := r.get("Paired/Redis/read")
	wantRuns := []map[string]float64{
		{"ns/op": 50000, "floor-ns/op": 40000, "ours-ns/op": 70000, "scs-ns/op": 120000, "ours/floor": 1.750, "B/op": 41400, "allocs/op": 394},
		{"ns/op": 52000, "floor-ns/op": 41000, "ours-ns/op": 71000, "scs-ns/op": 121000, "ours/floor": 1.732},
		{"ns/op": 51000, "floor-ns/op": 39000, "ours-ns/op": 69000, "scs-ns/op": 119000, "ours/floor": 1.769},
	}
	if len(paired.runs) != len(wantRuns) {
		t.Fatalf("Paired/Redis/read: %d runs, want %d", len(paired.runs), len(wantRuns))
	}
	for i, want := range wantRuns {
		if !maps.Equal(paired.runs[i], want) {
			t.Errorf("Paired/Redis/read run %d = %v, want %v", i, paired.runs[i], want)
		}
	}

	wantParallel := map[string]float64{"ns/op": 306460817, "floor-req/s/core": 15287, "ours-req/s/core": 10234, "scs-req/s/core": 4504, "ours-cpu-us/req": 48.21}
	if got := r.get("Parallel/sqlite-mattn").runs; len(got) != 1 || !maps.Equal(got[0], wantParallel) {
		t.Errorf("Parallel/sqlite-mattn runs = %v, want [%v]", got, wantParallel)
	}
	wantSize := map[string]float64{"ns/op": 9549, "MB/s": 10.26, "B/op": 8002, "allocs/op": 34}
	if got := r.get("Size/memory/read/100B").runs; len(got) != 1 || !maps.Equal(got[0], wantSize) {
		t.Errorf("Size/memory/read/100B runs = %v, want [%v]", got, wantSize)
	}

	// A malformed value is skipped, the pairs after it still read, and a
	// value without a unit at the end of the line is dropped.
	wantBroken := map[string]float64{"allocs/op": 12}
	if got := r.get("Broken").runs; len(got) != 1 || !maps.Equal(got[0], wantBroken) {
		t.Errorf("Broken runs = %v, want [%v]", got, wantBroken)
	}
	if v := r.get("Broken").med("ns/op"); !math.IsNaN(v) {
		t.Errorf("Broken ns/op = %v, want NaN", v)
	}

	if r.get("Bar") != nil || r.get("Foo") != nil || r.get("NoIterations") != nil {
		t.Errorf("a line that is not a result made a sample: %v", slices.Sorted(maps.Keys(r.m)))
	}

	w := &writer{r: r}
	if got := w.procs(); got != 4 {
		t.Errorf("writer.procs() = %d, want 4 (the largest suffix)", got)
	}
	if got := w.runs(); got != 3 {
		t.Errorf("writer.runs() = %d, want 3 (the most runs of one benchmark)", got)
	}
}

func TestParseEmpty(t *testing.T) {
	r := parse(strings.NewReader("PASS\nok  \tx\t0.1s\n"))
	if len(r.m) != 0 || len(r.order) != 0 || len(r.meta) != 0 {
		t.Errorf("parse of no results = %+v, want empty", r)
	}
	if r.get("Harness") != nil {
		t.Error("get of a missing benchmark is not nil")
	}
	w := &writer{r: r}
	if w.procs() != 1 || w.runs() != 0 {
		t.Errorf("procs, runs = %d, %d; want 1, 0", w.procs(), w.runs())
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, math.NaN()},
		{[]float64{}, math.NaN()},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{9, 1, 5, 7, 3}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 20}, 15},
		{[]float64{-3, -1, -2}, -2},
	} {
		in := slices.Clone(c.in)
		if got := median(c.in); !near(got, c.want) {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("median sorted its argument: %v, was %v", c.in, in)
		}
	}
}

// runsOf builds a sample from runs of one unit's values; NaN leaves the
// unit out of that run.
func runsOf(unit string, vs ...float64) *sample {
	s := &sample{procs: 1}
	for _, v := range vs {
		run := map[string]float64{"other": 1}
		if !math.IsNaN(v) {
			run[unit] = v
		}
		s.runs = append(s.runs, run)
	}
	return s
}

func TestSampleMed(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		name string
		s    *sample
		want float64
	}{
		{"odd", runsOf("ns/op", 30, 10, 20), 20},
		{"even", runsOf("ns/op", 10, 40, 20, 30), 25},
		{"one", runsOf("ns/op", 7), 7},
		{"absent from some runs", runsOf("ns/op", 30, math.NaN(), 10, math.NaN()), 20},
		{"absent from every run", runsOf("ns/op", math.NaN(), math.NaN()), math.NaN()},
		{"no runs", &sample{}, math.NaN()},
		{"nil sample", nil, math.NaN()},
		{"infinities skipped", &sample{runs: []map[string]float64{
			{"ns/op": 30}, {"ns/op": inf}, {"ns/op": 10}, {"ns/op": -inf}, {"ns/op": 20},
		}}, 20},
		{"NaN value skipped", &sample{runs: []map[string]float64{
			{"ns/op": 30}, {"ns/op": math.NaN()}, {"ns/op": 10}, {"ns/op": 40},
		}}, 30},
	} {
		if got := c.s.med("ns/op"); !near(got, c.want) {
			t.Errorf("%s: med = %v, want %v", c.name, got, c.want)
		}
	}
	var nilSample *sample
	if got := nilSample.medf(func(map[string]float64) float64 { return 1 }); !math.IsNaN(got) {
		t.Errorf("nil sample: medf = %v, want NaN", got)
	}
}

// TestSampleMedfRunByRun: a ratio of two metrics is the median of the
// runs' ratios, not the ratio of the medians.
func TestSampleMedfRunByRun(t *testing.T) {
	s := &sample{runs: []map[string]float64{
		{"a": 100, "b": 10}, // 10
		{"a": 20, "b": 10},  // 2
		{"a": 30, "b": 20},  // 1.5
		{"a": 500, "b": 0},  // +Inf: skipped
		{"a": 7},            // NaN (no b): skipped
	}}
	ratio := s.medf(func(r map[string]float64) float64 {
		b, ok := r["b"]
		if !ok {
			return math.NaN()
		}
		return r["a"] / b
	})
	if ratio != 2 {
		t.Errorf("run-by-run ratio = %v, want 2", ratio)
	}
	if ofMedians := s.med("a") / s.med("b"); ofMedians == ratio {
		t.Fatalf("bad fixture: the ratio of the medians (%v) equals the median of the ratios", ofMedians)
	}
	// A side's figures through side(): ns/op of "<name>-ns/op".
	p := resultsOf(
		sidesLine("Paired/X/read", map[string]float64{"ours": 100, "floor": 10}),
		sidesLine("Paired/X/read", map[string]float64{"ours": 20, "floor": 10}),
		sidesLine("Paired/X/read", map[string]float64{"ours": 30, "floor": 20}),
	).get("Paired/X/read")
	o, f := side("ours"), side("floor")
	checkNear(t, "ours median", p.medf(o), 30)
	checkNear(t, "floor median", p.medf(f), 10)
	checkNear(t, "ours/floor run by run", p.medf(func(x map[string]float64) float64 { return o(x) / f(x) }), 2)
	checkNear(t, "an absent side", p.medf(side("scs")), math.NaN())
}
