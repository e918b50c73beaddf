package main

import (
	"math"
	"slices"
	"testing"
)

// pairedFiguresOf parses one BenchmarkPaired/<group>/<kind> line with the
// given sides' times and returns the engine's figures for it.
func pairedFiguresOf(t *testing.T, group, kind string, sides map[string]float64) (pairedEngine, pairedFigures) {
	t.Helper()
	e := engineOf(t, group)
	f, ok := e.figures(resultsOf(sidesLine("Paired/"+group+"/"+kind, sides)), kind)
	if !ok {
		t.Fatalf("%s %s: no figures", group, kind)
	}
	return e, f
}

func TestFiguresOf(t *testing.T) {
	// Three runs of Redis read; the figures are medians of run-by-run
	// values (worked out in the comments), which here differ from the
	// same figures taken of the sides' medians (ours 55000, floor 40000,
	// scs 100000: beyond 15000 and 60000, ours/floor 1.375, ours/scs 0.55).
	r := resultsOf(
		sidesLine("Paired/Redis/read", map[string]float64{"floor": 40000, "ours": 60000, "scs": 100000, "control": 41000, "twin": 60600}),
		sidesLine("Paired/Redis/read", map[string]float64{"floor": 50000, "ours": 55000, "scs": 120000, "control": 50000, "twin": 55000}),
		sidesLine("Paired/Redis/read", map[string]float64{"floor": 30000, "ours": 50000, "scs": 95000, "control": 32000, "twin": 51000}),
	)
	f, ok := engineOf(t, "Redis").figures(r, "read")
	if !ok {
		t.Fatal("Redis read: no figures")
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"ours", f.ours, 55000},
		{"floor", f.floor, 40000},
		{"peer", f.peer, 100000},
		{"oursBeyond", f.oursBeyond, 20000},             // 20000, 5000, 20000
		{"peerBeyond", f.peerBeyond, 65000},             // 60000, 70000, 65000
		{"beyondRatio", f.beyondRatio, 20000.0 / 65000}, // of those two medians
		{"ratioFloor", f.ratioFloor, 1.5},               // 1.5, 1.1, 1.667
		{"ratioPeer", f.ratioPeer, 50000.0 / 95000},     // 0.6, 0.458, 0.526
		{"aa", f.aa, 1000},                              // 1000, 0, 2000
		{"aaRatio", f.aaRatio, 0.025},                   // 0.025, 0, 0.0667
		{"twinAA", f.twinAA, 600},                       // 600, 0, 1000
		{"twinRatio", f.twinRatio, 0.01},                // 0.01, 0, 0.02
		{"noise", f.noise(), 1000},                      // the larger of aa and twinAA
	} {
		checkNear(t, c.what, c.got, c.want)
	}

	// Without a peer, control or twin: NaN for everything they give.
	f, ok = engineOf(t, "Memcached").figures(resultsOf(
		sidesLine("Paired/Memcached/read", map[string]float64{"floor": 40000, "ours": 52000}),
	), "read")
	if !ok {
		t.Fatal("Memcached read: no figures")
	}
	checkNear(t, "memcached oursBeyond", f.oursBeyond, 12000)
	checkNear(t, "memcached ratioFloor", f.ratioFloor, 1.3)
	for what, v := range map[string]float64{
		"peer": f.peer, "peerBeyond": f.peerBeyond, "beyondRatio": f.beyondRatio, "ratioPeer": f.ratioPeer,
		"aa": f.aa, "aaRatio": f.aaRatio, "twinAA": f.twinAA, "twinRatio": f.twinRatio, "noise": f.noise(),
	} {
		if !math.IsNaN(v) {
			t.Errorf("memcached without peer, control or twin: %s = %v, want NaN", what, v)
		}
	}

	// Memory's floor is the bare harness; BenchmarkWarm has the same
	// sides; a twin without a control gives noise from the twin alone.
	r = resultsOf(
		sidesLine("Paired/Memory/write", map[string]float64{"harness": 4000, "ours": 14000, "scs": 60000, "twin": 14300}),
		sidesLine("Warm/Memory/write", map[string]float64{"harness": 3000, "ours": 9000, "scs": 43000}),
	)
	mem := engineOf(t, "Memory")
	f, _ = mem.figuresOf(r, "Paired", "write")
	checkNear(t, "memory floor (harness)", f.floor, 4000)
	checkNear(t, "memory oursBeyond", f.oursBeyond, 10000)
	checkNear(t, "memory peerBeyond", f.peerBeyond, 56000)
	checkNear(t, "memory aa (no control)", f.aa, math.NaN())
	checkNear(t, "memory noise (twin only)", f.noise(), 300)
	f, ok = mem.figuresOf(r, "Warm", "write")
	if !ok {
		t.Fatal("Warm/Memory/write: no figures")
	}
	checkNear(t, "warm memory floor", f.floor, 3000)
	checkNear(t, "warm memory beyondRatio", f.beyondRatio, 6000.0/40000)
	if _, ok := mem.figuresOf(r, "Warm", "read"); ok {
		t.Error("figures of a missing benchmark reported ok")
	}
	if _, ok := engineOf(t, "Redis").figures(r, "write"); ok {
		t.Error("figures of a missing engine reported ok")
	}
}

func TestMaxKnown(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct{ a, b, want float64 }{
		{1, 2, 2}, {3, 2, 3}, {nan, 2, 2}, {1, nan, 1}, {nan, nan, nan}, {-1, -2, -1},
	} {
		if got := maxKnown(c.a, c.b); !near(got, c.want) {
			t.Errorf("maxKnown(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// verdictCase is one engine's request and what verdict must say of it.
type verdictCase struct {
	name          string
	group, kind   string
	sides         map[string]float64
	target        string
	measured      string
	met, noisy    bool
	why           string
	ok            bool
	judgeMet      bool // what judge alone says (no check for noise)
	judgeMetGiven bool // judgeMet is to be checked
}

func TestVerdict(t *testing.T) {
	const (
		quarter = "ours beyond the floor ≤ ¼ of scs's"
		third   = "ours ≤ ⅓ of gorilla's time"
		ten     = "ours ≤ 10 µs beyond the floor (scs has no store)"
		cached  = "ours ≤ 1.5× the floor (cache GET, database write, cache SET)"
		belowZ  = "below zero: noise"
	)
	cases := []verdictCase{
		// quarterBeyond (Redis): (ours − floor) ≤ ¼ (scs − floor).
		{name: "quarter met", group: "Redis", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 45000, "scs": 100000},
			target: quarter, measured: "5.0 µs vs 60.0 µs: 0.08", met: true, ok: true},
		{name: "quarter missed", group: "Redis", kind: "write",
			sides:  map[string]float64{"floor": 40000, "ours": 70000, "scs": 100000},
			target: quarter, measured: "30.0 µs vs 60.0 µs: 0.50", ok: true},
		{name: "quarter met at the line", group: "Redis", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 55000, "scs": 100000},
			target: quarter, measured: "15.0 µs vs 60.0 µs: 0.25", met: true, ok: true},
		{name: "quarter: ours below the floor", group: "Redis", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 39000, "scs": 100000},
			target: quarter, measured: "-1.0 µs vs 60.0 µs: -0.02", noisy: true, why: belowZ, ok: true,
			judgeMet: true, judgeMetGiven: true},
		{name: "quarter: peer at the floor", group: "Redis", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 45000, "scs": 40000},
			target: quarter, measured: "5.0 µs vs 0.0 µs: +Inf", noisy: true, why: belowZ, ok: true},
		{name: "quarter: peer below the floor", group: "Redis", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 45000, "scs": 39000},
			target: quarter, measured: "5.0 µs vs -1.0 µs: -5.00", noisy: true, why: belowZ, ok: true,
			judgeMet: true, judgeMetGiven: true},
		{name: "quarter: the control's noise reaches the line", group: "Redis", kind: "read",
			// 14 µs beyond, the line at 15 µs: 1 µs from it; control 1.5 µs off.
			sides:  map[string]float64{"floor": 40000, "ours": 54000, "scs": 100000, "control": 41500},
			target: quarter, measured: "14.0 µs vs 60.0 µs: 0.23", noisy: true, ok: true,
			why:      "1.0 µs from the line; A/A: the floor's control differed by 1.5 µs",
			judgeMet: true, judgeMetGiven: true},
		{name: "quarter: the twin's noise reaches the line", group: "Redis", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 54000, "scs": 100000, "control": 40200, "twin": 55500},
			target: quarter, measured: "14.0 µs vs 60.0 µs: 0.23", noisy: true, ok: true,
			why: "1.0 µs from the line; A/A: the floor's control differed by 0.2 µs, ours' twin by 1.5 µs"},
		{name: "quarter: noise exactly at the margin", group: "Redis", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 54000, "scs": 100000, "control": 41000, "twin": 54000},
			target: quarter, measured: "14.0 µs vs 60.0 µs: 0.23", noisy: true, ok: true,
			why: "1.0 µs from the line; A/A: the floor's control differed by 1.0 µs, ours' twin by 0.0 µs"},
		{name: "quarter: noise under the margin", group: "Redis", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 54000, "scs": 100000, "control": 40200, "twin": 54100},
			target: quarter, measured: "14.0 µs vs 60.0 µs: 0.23", met: true, ok: true},
		{name: "quarter, memory: beyond the harness", group: "Memory", kind: "read",
			sides:  map[string]float64{"harness": 4000, "ours": 9000, "scs": 45000, "twin": 9100},
			target: "ours beyond the harness ≤ ¼ of scs's", measured: "5.0 µs vs 41.0 µs: 0.12", met: true, ok: true},
		{name: "quarter, memory: twin only, inconclusive", group: "Memory", kind: "write",
			// 9 µs beyond, the line at 10 µs; the twin 1.2 µs off; no control.
			sides:  map[string]float64{"harness": 4000, "ours": 13000, "scs": 44000, "twin": 14200},
			target: "ours beyond the harness ≤ ¼ of scs's", measured: "9.0 µs vs 40.0 µs: 0.23", noisy: true, ok: true,
			why: "1.0 µs from the line; A/A: ours' twin differed by 1.2 µs"},

		// thirdOfPeer (signed cookies): ours ≤ ⅓ gorilla.
		{name: "third met", group: "SignedCookie", kind: "read",
			sides:  map[string]float64{"floor": 1600, "ours": 10000, "gorilla": 60000},
			target: third, measured: "10.0 µs vs 60.0 µs: 0.17", met: true, ok: true},
		{name: "third met at the line", group: "SignedCookie", kind: "read",
			sides:  map[string]float64{"floor": 1600, "ours": 20000, "gorilla": 60000},
			target: third, measured: "20.0 µs vs 60.0 µs: 0.33", met: true, ok: true},
		{name: "third missed", group: "SignedCookie", kind: "read",
			sides:  map[string]float64{"floor": 1600, "ours": 25000, "gorilla": 60000},
			target: third, measured: "25.0 µs vs 60.0 µs: 0.42", ok: true},
		{name: "third: ours below the floor is no noise", group: "SignedCookie", kind: "write",
			sides:  map[string]float64{"floor": 30000, "ours": 25000, "gorilla": 100000},
			target: third, measured: "25.0 µs vs 100 µs: 0.25", met: true, ok: true},
		{name: "third: twin only, inconclusive", group: "SignedCookie", kind: "write",
			// ours 19.4 µs, the line at 20 µs; the twin 0.7 µs off.
			sides:  map[string]float64{"floor": 1600, "ours": 19400, "gorilla": 60000, "twin": 20100},
			target: third, measured: "19.4 µs vs 60.0 µs: 0.32", noisy: true, ok: true,
			why:      "0.6 µs from the line; A/A: ours' twin differed by 0.7 µs",
			judgeMet: true, judgeMetGiven: true},

		// tenMicros (memcached): ours − floor ≤ 10 µs.
		{name: "ten met", group: "Memcached", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 48000},
			target: ten, measured: "8.0 µs beyond 40.0 µs", met: true, ok: true},
		{name: "ten met at the line", group: "Memcached", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 50000},
			target: ten, measured: "10.0 µs beyond 40.0 µs", met: true, ok: true},
		{name: "ten missed", group: "Memcached", kind: "write",
			sides:  map[string]float64{"floor": 40000, "ours": 60000},
			target: ten, measured: "20.0 µs beyond 40.0 µs", ok: true},
		{name: "ten: below zero", group: "Memcached", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 39000},
			target: ten, measured: "-1.0 µs beyond 40.0 µs", noisy: true, why: belowZ, ok: true,
			judgeMet: true, judgeMetGiven: true},
		{name: "ten: the control's noise reaches the line", group: "Memcached", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 49500, "control": 40600},
			target: ten, measured: "9.5 µs beyond 40.0 µs", noisy: true, ok: true,
			why:      "0.5 µs from the line; A/A: the floor's control differed by 0.6 µs",
			judgeMet: true, judgeMetGiven: true},
		{name: "ten: noise under the margin", group: "Memcached", kind: "read",
			sides:  map[string]float64{"floor": 40000, "ours": 45000, "control": 40100, "twin": 45100},
			target: ten, measured: "5.0 µs beyond 40.0 µs", met: true, ok: true},

		// cachedDBTarget: read-write ours ≤ 1.5× floor; read-only not judged.
		{name: "cached_db met", group: "CachedDB", kind: "write",
			sides:  map[string]float64{"floor": 200000, "ours": 260000},
			target: cached, measured: "260 µs vs 200 µs: 1.30×", met: true, ok: true},
		{name: "cached_db met at the line", group: "CachedDB", kind: "write",
			sides:  map[string]float64{"floor": 200000, "ours": 300000},
			target: cached, measured: "300 µs vs 200 µs: 1.50×", met: true, ok: true},
		{name: "cached_db missed", group: "CachedDB", kind: "write",
			sides:  map[string]float64{"floor": 200000, "ours": 340000},
			target: cached, measured: "340 µs vs 200 µs: 1.70×", ok: true},
		{name: "cached_db: the control's ratio reaches the line", group: "CachedDB", kind: "write",
			// 1.48×, 0.02 from the line; the control 3% off the floor.
			sides:  map[string]float64{"floor": 200000, "ours": 296000, "control": 206000},
			target: cached, measured: "296 µs vs 200 µs: 1.48×", noisy: true, ok: true,
			why:      "0.02 from the line; A/A: the floor's control differed by 0.03",
			judgeMet: true, judgeMetGiven: true},
		{name: "cached_db: the twin's ratio reaches the line", group: "CachedDB", kind: "write",
			sides:  map[string]float64{"floor": 200000, "ours": 296000, "control": 202000, "twin": 302000},
			target: cached, measured: "296 µs vs 200 µs: 1.48×", noisy: true, ok: true,
			why: "0.02 from the line; A/A: the floor's control differed by 0.01, ours' twin by 0.02"},
		{name: "cached_db: noise in ns is not its measure", group: "CachedDB", kind: "write",
			// The control is 1 µs off, the twin 2 µs; as ratios both are
			// far under the 0.2 to the line.
			sides:  map[string]float64{"floor": 200000, "ours": 260000, "control": 201000, "twin": 262000},
			target: cached, measured: "260 µs vs 200 µs: 1.30×", met: true, ok: true},
		{name: "cached_db read-only: no target", group: "CachedDB", kind: "read",
			sides: map[string]float64{"floor": 100000, "ours": 110000, "control": 150000, "twin": 200000}},

		// noTarget.
		{name: "SQLite (modernc): no target", group: "SQLite", kind: "write",
			sides: map[string]float64{"floor": 60000, "ours": 100000, "control": 90000, "twin": 10000}},
		{name: "Redis Cluster: no target", group: "RedisCluster", kind: "read",
			sides: map[string]float64{"floor": 60000, "ours": 59000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, f := pairedFiguresOf(t, c.group, c.kind, c.sides)
			target, measured, met, noisy, why, ok := e.verdict(f, c.kind)
			if target != c.target || measured != c.measured || met != c.met || noisy != c.noisy || why != c.why || ok != c.ok {
				t.Errorf("verdict =\n\t%q, %q, met %v, noisy %v, %q, ok %v; want\n\t%q, %q, met %v, noisy %v, %q, ok %v",
					target, measured, met, noisy, why, ok, c.target, c.measured, c.met, c.noisy, c.why, c.ok)
			}
			jt, jm, jmet, jok := e.judge(f, c.kind)
			if jt != c.target || jm != c.measured || jok != c.ok {
				t.Errorf("judge = %q, %q, ok %v; want %q, %q, ok %v", jt, jm, jok, c.target, c.measured, c.ok)
			}
			if !c.noisy && jmet != c.met {
				t.Errorf("judge met = %v, want %v (as verdict, without noise)", jmet, c.met)
			}
			if c.judgeMetGiven && jmet != c.judgeMet {
				t.Errorf("judge met = %v, want %v", jmet, c.judgeMet)
			}
		})
	}
}

// TestAAWhy: what an inconclusive verdict says of the A/A comparisons
// names only those the benchmark has.
func TestAAWhy(t *testing.T) {
	nan := math.NaN()
	ratio := func(v float64) string { return num(v, 3) }
	for _, c := range []struct {
		margin, floorAA, twinAA float64
		format                  func(float64) string
		want                    string
	}{
		{1000, 1500, nan, us, "1.0 µs from the line; A/A: the floor's control differed by 1.5 µs"},
		{1000, 1500, 200, us, "1.0 µs from the line; A/A: the floor's control differed by 1.5 µs, ours' twin by 0.2 µs"},
		{1000, nan, 1200, us, "1.0 µs from the line; A/A: ours' twin differed by 1.2 µs"},
		{0.002, 0.006, 0.008, ratio, "0.002 from the line; A/A: the floor's control differed by 0.006, ours' twin by 0.008"},
	} {
		if got := aaWhy(c.margin, c.floorAA, c.twinAA, c.format); got != c.want {
			t.Errorf("aaWhy(%v, %v, %v) = %q, want %q", c.margin, c.floorAA, c.twinAA, got, c.want)
		}
	}
}

func TestAANoise(t *testing.T) {
	s := resultsOf(
		sidesLine("N", map[string]float64{"floor": 100, "control": 110}),
		sidesLine("N", map[string]float64{"floor": 200, "control": 190}),
		sidesLine("N", map[string]float64{"floor": 400, "control": 400}),
	).get("N")
	aa, ratio := aaNoise(s, side("control"), side("floor"))
	checkNear(t, "aa", aa, 10)           // 10, 10, 0
	checkNear(t, "aaRatio", ratio, 0.05) // 0.1, 0.05, 0
	aa, ratio = aaNoise(s, side("twin"), side("ours"))
	if !math.IsNaN(aa) || !math.IsNaN(ratio) {
		t.Errorf("without the control: %v, %v; want NaN, NaN", aa, ratio)
	}
}

// sizeResults builds BenchmarkSize results for one engine and request:
// times in ns at 100B, 1KB, 10KB and 100KB; NaN leaves a size out.
func sizeResults(eng, kind string, ns ...float64) *results {
	return resultsOf(sizeLines(eng, kind, ns...))
}

func TestSizeSlope(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name  string
		ns    []float64
		slope float64
	}{
		{"linear", []float64{1000, 10_000, 100_000, 1_000_000}, 1},
		{"quadratic", []float64{1000, 100_000, 10_000_000, 1_000_000_000}, 2},
		{"flat", []float64{5000, 5000, 5000, 5000}, 0},
		{"the largest step counts", []float64{1000, 10_000, 1_000_000, 3_162_277.66}, 2}, // 1, 2, 0.5
		{"fixed cost, then linear", []float64{10_000, 11_000, 20_000, 110_000}, math.Log10(110_000.0 / 20_000)},
		{"a missing size breaks its two steps", []float64{1000, nan, 100_000, 1_000_000}, 1}, // only 10KB→100KB
		{"only the missing steps would be steep", []float64{1000, nan, 10_000_000, 100_000_000}, 1},
		{"one size only", []float64{nan, nan, 5000, nan}, nan},
		{"none", []float64{nan, nan, nan, nan}, nan},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts, slope := sizeSlope(sizeResults("memory", "write", c.ns...), "memory", "write")
			checkNear(t, "slope", slope, c.slope)
			if len(ts) != len(sizes) {
				t.Fatalf("%d times, want one per size (%d)", len(ts), len(sizes))
			}
			for i := range ts {
				checkNear(t, "time at "+sizes[i].name, ts[i], c.ns[i])
			}
		})
	}
	// Another engine's or request's figures are not mixed in.
	r := sizeResults("memory", "write", 1000, 100_000, 10_000_000, 1_000_000_000)
	if ts, slope := sizeSlope(r, "memory", "read"); !math.IsNaN(slope) || slices.ContainsFunc(ts, func(v float64) bool { return !math.IsNaN(v) }) {
		t.Errorf("memory read from memory write's figures: %v, %v", ts, slope)
	}
}
