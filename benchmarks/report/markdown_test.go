package main

import (
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// targetsOf runs the Markdown writer's targets section on r and returns
// its table rows (the lines starting "| " after the header) and the
// summary that follows the table.
func targetsOf(t *testing.T, r *results) (rows []string, summary string) {
	t.Helper()
	var b strings.Builder
	w := &writer{w: &b, r: r}
	w.targets()
	out := b.String()
	const header = "| target | engine | request | measured | status |\n| --- | --- | --- | --- | --- |\n"
	if !strings.HasPrefix(out, "## Issue 17 targets\n\n") {
		t.Fatalf("targets section does not start with its heading:\n%s", out)
	}
	_, rest, ok := strings.Cut(out, header)
	if !ok {
		t.Fatalf("no table header in:\n%s", out)
	}
	// The rows, each ending in a newline, then a blank line, then the
	// summary.
	for !strings.HasPrefix(rest, "\n") {
		row, after, ok := strings.Cut(rest, "\n")
		if !ok {
			t.Fatalf("no blank line after the table in:\n%s", out)
		}
		rows = append(rows, row)
		rest = after
	}
	return rows, rest[1:]
}

// parallelLine builds a BenchmarkParallel line from each side's requests
// per second per core ("" sides left out), with its CPU and allocations
// per request.
func parallelLine(group string, reqs map[string]float64) string {
	m := map[string]float64{"ns/op": 3e8}
	for side, v := range reqs {
		m[side+"-req/s/core"] = v
		m[side+"-cpu-us/req"] = 1e6 / v
		m[side+"-allocs/req"] = 40
	}
	return benchLine("Parallel/"+group, m)
}

// networkLine builds a BenchmarkNetwork/rtt=1ms line: the sides' times
// and the ours/floor ratio the benchmark reports.
func networkLine(group, kind string, sides map[string]float64) string {
	return sidesLineWith("Network/rtt=1ms/"+group+"/"+kind, sides,
		map[string]float64{"ours/floor": sides["ours"] / sides["floor"], "B/op": 20000, "allocs/op": 150})
}

// targetsInput is a results set with every kind of target row: met,
// missed, inconclusive (below zero, and A/A noise) and out of reach.
func targetsInput() *results {
	return resultsOf(
		// Per request, interleaved.
		sidesLine("Paired/SignedCookie/read", map[string]float64{"floor": 1600, "gorilla": 50000, "ours": 10000, "twin": 10100}),
		sidesLine("Paired/SQLite/read", map[string]float64{"floor": 60000, "ours": 90000}), // no target
		sidesLine("Paired/Redis/read", map[string]float64{"floor": 40000, "ours": 45000, "scs": 100000, "control": 40100, "twin": 45200}),
		sidesLine("Paired/Redis/write", map[string]float64{"floor": 90000, "ours": 104000, "scs": 150000, "control": 91500, "twin": 104300}),
		sidesLine("Paired/Memcached/read", map[string]float64{"floor": 40000, "ours": 39000}),
		sidesLine("Paired/Memcached/write", map[string]float64{"floor": 76000, "ours": 114000}),
		sidesLine("Paired/CachedDB/read", map[string]float64{"floor": 100000, "ours": 110000}), // only read-write judged
		sidesLine("Paired/CachedDB/write", map[string]float64{"floor": 200000, "ours": 260000}),
		// Allocations.
		benchLine("Harness", map[string]float64{"ns/op": 3800, "B/op": 5801, "allocs/op": 19}),
		benchLine("Memory/ours/write", map[string]float64{"ns/op": 9881, "B/op": 10667, "allocs/op": 49}),
		// At a 1 ms round trip.
		networkLine("Redis", "read", map[string]float64{"floor": 1000000, "ours": 1030000, "scs": 1100000, "control": 1001000, "twin": 1031000}),
		networkLine("Memcached", "read", map[string]float64{"floor": 1000000, "ours": 1070000, "control": 1002000}),
		networkLine("Postgres", "read", map[string]float64{"floor": 1000000, "ours": 1048000, "scs": 1100000, "control": 1006000, "twin": 1052000}),
		networkLine("CachedDB", "write", map[string]float64{"floor": 2000000, "ours": 2600000}),
		sidesLineWith("Network/rtt=200us/Redis/read", map[string]float64{"floor": 300000, "ours": 400000}, map[string]float64{"ours/floor": 1.333}), // not a target
		// Parallel.
		parallelLine("memory", map[string]float64{"ours": 90000, "scs": 20000, "floor": 200000}),
		parallelLine("cookie", map[string]float64{"ours": 78902, "gorilla": 17642}), // no target
		parallelLine("sqlite-mattn", map[string]float64{"ours": 9000, "scs": 4500, "floor": 8000}),
		parallelLine("postgres", map[string]float64{"ours": 5700, "scs": 4300, "floor": 7100}),
		parallelLine("redis", map[string]float64{"ours": 12000, "scs": 8000, "floor": 18000}),
		// Size: linear, and just within the slack.
		sizeLines("memory", "read", 1000, 10_000, 100_000, 1_000_000),
		sizeLines("sqlite", "write", 1000, 10_965, 100_000, 1_000_000),
	)
}

// sizeLines builds the BenchmarkSize lines of one engine and request,
// joined, with the given times in ns at 100B, 1KB, 10KB and 100KB (NaN
// leaves a size out), 3 bytes allocated per byte of session.
func sizeLines(eng, kind string, ns ...float64) string {
	var lines []string
	for i, v := range ns {
		if math.IsNaN(v) {
			continue
		}
		lines = append(lines, benchLine("Size/"+eng+"/"+kind+"/"+sizes[i].name,
			map[string]float64{"ns/op": v, "B/op": 3 * sizes[i].bytes, "MB/s": sizes[i].bytes / v * 1e3}))
	}
	return strings.Join(lines, "\n")
}

func TestTargets(t *testing.T) {
	rows, summary := targetsOf(t, targetsInput())
	const (
		net     = "within 1.05× of the raw floor at a 1 ms round trip"
		par     = "parallel requests/s per core ≥ 2× scs's"
		inconcl = "⚠️ inconclusive"
	)
	want := []string{
		"| ours ≤ ⅓ of gorilla's time | signed cookies | read-only | 10.0 µs vs 50.0 µs: 0.20 | ✅ met |",
		"| ours beyond the floor ≤ ¼ of scs's | Redis | read-only | 5.0 µs vs 60.0 µs: 0.08 | ✅ met |",
		"| ours beyond the floor ≤ ¼ of scs's | Redis | read-write | 14.0 µs vs 60.0 µs: 0.23 (1.0 µs from the line; A/A: the floor's control differed by 1.5 µs, ours' twin by 0.3 µs) | " + inconcl + " |",
		"| ours ≤ 10 µs beyond the floor (scs has no store) | memcached | read-only | -1.0 µs beyond 40.0 µs (below zero: noise) | " + inconcl + " |",
		"| ours ≤ 10 µs beyond the floor (scs has no store) | memcached | read-write | 38.0 µs beyond 76.0 µs | ❌ missed |",
		"| ours ≤ 1.5× the floor (cache GET, database write, cache SET) | cached_db | read-write | 260 µs vs 200 µs: 1.30× | ✅ met |",
		"| allocations ≤ 50 beyond the harness | memory | read-write | 30 allocs (49 − harness 19) | ✅ met |",
		"| " + net + " | Redis | read-only | 1.03 ms vs 1.00 ms: 1.030× | ✅ met |",
		"| " + net + " | memcached | read-only | 1.07 ms vs 1.00 ms: 1.070× | ❌ missed |",
		"| " + net + " | PostgreSQL | read-only | 1.05 ms vs 1.00 ms: 1.048× (0.002 from the line; A/A: the floor's control differed by 0.006, ours' twin by 0.004) | " + inconcl + " |",
		"| " + net + " | cached_db | read-write | 2.60 ms vs 2.00 ms: 1.300× | ❌ missed |",
		"| cached_db read-write ≤ 1.5× its floor, at a 1 ms round trip | cached_db | read-write | 1.30× | ✅ met |",
		"| " + par + " | memory | mixed | 90000 vs 20000: 4.50×; the floor 200000: 10.00× scs's | ✅ met |",
		"| " + par + " | SQLite (mattn, scs's driver) | mixed | 9000 vs 4500: 2.00×; the floor 8000: 1.78× scs's | ✅ met |",
		"| " + par + " | PostgreSQL | mixed | 5700 vs 4300: 1.33×; the floor 7100: 1.65× scs's | ❌ missed, out of reach here (the floor itself is under 2×) |",
		"| " + par + " | Redis | mixed | 12000 vs 8000: 1.50×; the floor 18000: 2.25× scs's | ❌ missed |",
		"| cost grows no faster than linearly with session size (exponent ≤ 1, +10% per tenfold step for noise) | memory, SQLite, Redis, cached_db | both | largest exponent: memory read 1.00; sqlite write 1.04 | ✅ met |",
	}
	if !slices.Equal(rows, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	// 9 met, 3 inconclusive, 1 out of reach, of 17.
	wantSummary := "9 of 17 targets met in this run (3 inconclusive: a figure beyond the floor below zero means the floor, " +
		"a part of the request, was measured slower than the whole request, which only noise does; and a figure nearer to " +
		"its target's line than the floor measured against its control (the same operations on a client of their own in " +
		"the same loop), or ours against its twin (our requests through a Manager of its own), cannot be told from the " +
		"noise either); 1 of the missed is out of reach on this machine: the floor, the same harness making only the " +
		"store's bare operations on sessions of its own, is itself under the line, so no library making those operations " +
		"could meet it here.\n\n"
	if summary != wantSummary {
		t.Errorf("summary:\n%q\nwant:\n%q", summary, wantSummary)
	}
}

func TestTargetsSummaryCounts(t *testing.T) {
	for _, c := range []struct {
		name    string
		r       *results
		rows    int
		summary string
	}{
		{"nothing measured", resultsOf(), 0, "0 of 0 targets met in this run.\n\n"},
		{"all met", resultsOf(
			sidesLine("Paired/Memcached/read", map[string]float64{"floor": 40000, "ours": 48000}),
		), 1, "1 of 1 targets met in this run.\n\n"},
		{"two out of reach, none inconclusive", resultsOf(
			parallelLine("postgres", map[string]float64{"ours": 5700, "scs": 4300, "floor": 7100}),
			parallelLine("redis", map[string]float64{"ours": 9000, "scs": 8000, "floor": 15000}),
			parallelLine("memory", map[string]float64{"ours": 30000, "floor": 200000}), // no peer: no row
		), 2, "0 of 2 targets met in this run; 2 of the missed are out of reach on this machine: the floor, the same " +
			"harness making only the store's bare operations on sessions of its own, is itself under the line, so no " +
			"library making those operations could meet it here.\n\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, summary := targetsOf(t, c.r)
			if len(rows) != c.rows {
				t.Errorf("%d rows, want %d:\n%s", len(rows), c.rows, strings.Join(rows, "\n"))
			}
			if summary != c.summary {
				t.Errorf("summary:\n%q\nwant:\n%q", summary, c.summary)
			}
		})
	}
	// One inconclusive row alone: the count and its explanation, no
	// out-of-reach clause.
	_, summary := targetsOf(t, resultsOf(
		networkLine("MariaDB", "write", map[string]float64{"floor": 1000000, "ours": 1049000, "control": 1003000}),
	))
	if !strings.HasPrefix(summary, "0 of 1 targets met in this run (1 inconclusive: ") ||
		strings.Contains(summary, "out of reach") || !strings.HasSuffix(summary, "cannot be told from the noise either).\n\n") {
		t.Errorf("summary with one inconclusive row: %q", summary)
	}
}

// TestTargetsNetworkLine: the 1 ms rows against the 1.05× line, with and
// without A/A noise as large as the margin.
func TestTargetsNetworkLine(t *testing.T) {
	const target = "within 1.05× of the raw floor at a 1 ms round trip"
	for _, c := range []struct {
		name  string
		sides map[string]float64
		row   string
	}{
		{"met, no A/A", map[string]float64{"floor": 1000000, "ours": 1050000},
			"| " + target + " | Redis | read-write | 1.05 ms vs 1.00 ms: 1.050× | ✅ met |"},
		{"missed, noise under the margin", map[string]float64{"floor": 1000000, "ours": 1060000, "control": 1005000, "twin": 1065000},
			"| " + target + " | Redis | read-write | 1.06 ms vs 1.00 ms: 1.060× | ❌ missed |"},
		{"met, noise under the margin", map[string]float64{"floor": 1000000, "ours": 1020000, "control": 1005000, "twin": 1025000},
			"| " + target + " | Redis | read-write | 1.02 ms vs 1.00 ms: 1.020× | ✅ met |"},
		{"inconclusive: the control's noise exactly the margin", map[string]float64{"floor": 1000000, "ours": 1000000, "control": 1050000},
			"| " + target + " | Redis | read-write | 1.00 ms vs 1.00 ms: 1.000× (0.050 from the line; A/A: the floor's control differed by 0.050) | ⚠️ inconclusive |"},
		{"inconclusive from the twin alone", map[string]float64{"floor": 1000000, "ours": 1040000, "twin": 1060800},
			"| " + target + " | Redis | read-write | 1.04 ms vs 1.00 ms: 1.040× (0.010 from the line; A/A: ours' twin differed by 0.020) | ⚠️ inconclusive |"},
		{"inconclusive above the line", map[string]float64{"floor": 1000000, "ours": 1055000, "control": 1010000, "twin": 1057110},
			"| " + target + " | Redis | read-write | 1.05 ms vs 1.00 ms: 1.055× (0.005 from the line; A/A: the floor's control differed by 0.010, ours' twin by 0.002) | ⚠️ inconclusive |"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, _ := targetsOf(t, resultsOf(networkLine("Redis", "write", c.sides)))
			if len(rows) != 1 || rows[0] != c.row {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), c.row)
			}
		})
	}
}

// TestTargetsSizeGrowth: the growth row fails as soon as one engine's
// exponent is beyond 1 + log10(1.1).
func TestTargetsSizeGrowth(t *testing.T) {
	rows, summary := targetsOf(t, resultsOf(
		sizeLines("memory", "read", 1000, 10_000, 100_000, 1_000_000),
		sizeLines("redis", "write", 1000, 11_220, 100_000, 1_000_000), // 1.05
	))
	want := "| cost grows no faster than linearly with session size (exponent ≤ 1, +10% per tenfold step for noise) | " +
		"memory, SQLite, Redis, cached_db | both | largest exponent: memory read 1.00; redis write 1.05 | ❌ missed |"
	if len(rows) != 1 || rows[0] != want {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), want)
	}
	if summary != "0 of 1 targets met in this run.\n\n" {
		t.Errorf("summary = %q", summary)
	}
}

func TestUs(t *testing.T) {
	for _, c := range []struct {
		ns   float64
		want string
	}{
		{math.NaN(), "–"},
		{0, "0.0 µs"},
		{999, "1.0 µs"},
		{5000, "5.0 µs"},
		{99_940, "99.9 µs"},
		{99_960, "100 µs"}, // not "100.0 µs": the unit follows the rounded figure
		{100_000, "100 µs"},
		{999_400, "999 µs"},
		{999_600, "1.00 ms"}, // not "1000 µs"
		{260_400, "260 µs"},
		{999_000, "999 µs"},
		{1e6, "1.00 ms"},
		{2_512_689, "2.51 ms"},
		{9_267_506_180, "9267.51 ms"},
		{-1000, "-1.0 µs"},
		{-150_000, "-150 µs"},
		{-2e6, "-2.00 ms"},
	} {
		if got := us(c.ns); got != c.want {
			t.Errorf("us(%v) = %q, want %q", c.ns, got, c.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{times(1.048), "1.05×"},
		{times(4.5), "4.50×"},
		{times(math.NaN()), "–"},
		{num(1, 1), "1.0"},
		{num(12158.4, 0), "12158"},
		{num(0.7777, 2), "0.78"},
		{num(math.NaN(), 2), "–"},
		{mark(true), "✅ met"},
		{mark(false), "❌ missed"},
		{kindLabel("read"), "read-only"},
		{kindLabel("write"), "read-write"},
		{kindLabel("mixed"), ""},
		{short(212675), "212675"},
		{short(100), "100"},
		{short(48.56), "48.6"},
		{short(4.503), "4.5"},
		{short(0.0123), "0.012"},
		{shortName("SQLite (mattn, scs's driver)"), "SQLite-mattn"},
		{shortName("SQLite (modernc, our default)"), "SQLite"},
		{shortName("signed cookies"), "cookies"},
		{shortName("PostgreSQL"), "Postgres"},
		{shortName("memcached"), "memcached"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !math.IsNaN(nanIfMissing(3, false)) || nanIfMissing(3, true) != 3 {
		t.Error("nanIfMissing")
	}
}

func TestAbTable(t *testing.T) {
	runs := "goos: linux\nBenchmarkRedesign-2 100 5000 ns/op\n"
	table := "== A = 4ab9a1e, B = this tree\nmetric  A  B\nns/op  5000  4000\n"
	for _, c := range []struct{ in, want string }{
		{runs + table, table},
		{table, table},
		{"no summary here\n", "no summary here\n"},
		{"", ""},
	} {
		if got := abTable(c.in); got != c.want {
			t.Errorf("abTable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTopLines(t *testing.T) {
	prof := `File: bench.test
Type: delay

Showing nodes accounting for 16544.89ms, 100% of 16546.52ms total
      flat  flat%   sum%        cum   cum%
 9632.96ms 58.22% 58.22%  9632.96ms 58.22%  sync.(*Mutex).Unlock (inline)
 5539.14ms 33.48% 91.69% 14645.18ms 88.51%  sync.(*RWMutex).Unlock

 1372.79ms  8.30%   100%  1372.79ms  8.30%  sync.(*RWMutex).RUnlock
         0     0%   100% 15282.47ms 92.36%  github.com/sessionkit/sessions.(*Manager).Finish
`
	want := `File: bench.test
Type: delay
Showing nodes accounting for 16544.89ms, 100% of 16546.52ms total
      flat  flat%   sum%        cum   cum%
 9632.96ms 58.22% 58.22%  9632.96ms 58.22%  sync.(*Mutex).Unlock (inline)
 5539.14ms 33.48% 91.69% 14645.18ms 88.51%  sync.(*RWMutex).Unlock
 1372.79ms  8.30%   100%  1372.79ms  8.30%  sync.(*RWMutex).RUnlock
`
	if got := topLines(prof, 3); got != want {
		t.Errorf("topLines(3):\n%s\nwant:\n%s", got, want)
	}
	if got := topLines(prof, 10); strings.Count(got, "\n") != 8 || !strings.HasSuffix(got, "(*Manager).Finish\n") {
		t.Errorf("topLines(10) should keep all 4 entries and the 4 header lines:\n%s", got)
	}
	if got := topLines("a\n\nb\n", 1); got != "a\nb\n" {
		t.Errorf("topLines without a flat%% header = %q, want every non-blank line", got)
	}
}

// fullInput is a results set with a benchmark for every section of the
// report, three runs of the interleaved ones.
func fullInput() string {
	lines := []string{
		"goos: linux",
		"goarch: amd64",
		"pkg: github.com/sessionkit/sessions/benchmarks",
		"cpu: Test CPU",
		benchLine("Harness", map[string]float64{"ns/op": 3800, "B/op": 5801, "allocs/op": 19}),
		benchLine("Memory/ours/read", map[string]float64{"ns/op": 7000, "B/op": 8000, "allocs/op": 34}),
		benchLine("Memory/ours/write", map[string]float64{"ns/op": 9881, "B/op": 10667, "allocs/op": 49}),
		benchLine("Memory/scs/read", map[string]float64{"ns/op": 40000, "B/op": 20000, "allocs/op": 300}),
		benchLine("Redis/ours/read", map[string]float64{"ns/op": 70000, "B/op": 20000, "allocs/op": 120}),
		benchLine("Redis/floor/read", map[string]float64{"ns/op": 45000, "B/op": 500, "allocs/op": 8}),
		benchLine("Redis/scs/read", map[string]float64{"ns/op": 100000, "B/op": 30000, "allocs/op": 320}),
		benchLine("Redis/floor-cas/write", map[string]float64{"ns/op": 95000, "B/op": 700, "allocs/op": 12}),
		sidesLineWith("Paired/Memory/read", map[string]float64{"harness": 4000, "ours": 9000, "scs": 45000, "twin": 9100}, map[string]float64{"B/op": 41400, "allocs/op": 394}),
		sidesLineWith("Paired/Redis/write", map[string]float64{"floor": 90000, "floor-cas": 100000, "ours": 150000, "scs": 190000, "control": 90500, "twin": 151000}, map[string]float64{"ours/floor": 1.667, "B/op": 52902, "allocs/op": 633}),
		sidesLineWith("Warm/Redis/write", map[string]float64{"floor": 80000, "floor-cas": 90000, "ours": 120000, "scs": 170000, "control": 80500, "twin": 121000}, map[string]float64{"ours/floor": 1.5, "B/op": 476279, "allocs/op": 5698}),
		sidesLineWith("Context/Redis/read", map[string]float64{"ours": 68000, "background": 65900}, map[string]float64{"B/op": 20379, "allocs/op": 118}),
		sidesLineWith("Observer/Memory/read", map[string]float64{"ours": 6600, "observed": 6700}, map[string]float64{"B/op": 16742, "allocs/op": 68}),
		networkLine("Redis", "read", map[string]float64{"floor": 1000000, "ours": 1030000, "scs": 1100000, "control": 1001000, "twin": 1031000}),
		networkLine("Redis", "write", map[string]float64{"floor": 2000000, "floor-cas": 2010000, "ours": 2080000, "scs": 2200000, "control": 2002000, "twin": 2081000}),
		sidesLineWith("Network/rtt=200us/Redis/read", map[string]float64{"floor": 300000, "ours": 330000, "scs": 400000}, map[string]float64{"ours/floor": 1.1, "B/op": 20000, "allocs/op": 150}),
		benchLine("RoundTrips/Redis/read", map[string]float64{"ns/op": 2e9, "ours-rt/op": 1, "ours-ex/op": 1, "floor-rt/op": 1, "floor-ex/op": 1, "scs-rt/op": 1, "scs-ex/op": 1}),
		benchLine("RoundTrips/Redis/write", map[string]float64{"ns/op": 2e9, "ours-rt/op": 2, "ours-ex/op": 3, "floor-rt/op": 2, "floor-ex/op": 2}),
		parallelLine("memory", map[string]float64{"ours": 90000, "scs": 20000, "floor": 200000}),
		parallelLine("redis", map[string]float64{"ours": 12000, "scs": 8000, "floor": 18000}),
		benchLine("Load/memory/ours", map[string]float64{"ns/op": 1e10, "failed": 0, "p50-us": 386, "p90-us": 3080, "p99-us": 7586, "req/s": 31695}),
		benchLine("Load/memory/scs", map[string]float64{"ns/op": 1e10, "failed": 0, "p50-us": 590, "p90-us": 7413, "p99-us": 17090, "req/s": 18015}),
		sizeLines("memory", "read", 9549, 11619, 52954, 483484),
		"BenchmarkClearSessions/sqlite/1000000-2         \t       1\t9267506180 ns/op",
	}
	// Three runs of the interleaved benchmarks (the same figures: the
	// medians are those figures).
	out := strings.Join(lines, "\n") + "\n"
	var again []string
	for _, l := range lines {
		if strings.HasPrefix(l, "BenchmarkPaired/") || strings.HasPrefix(l, "BenchmarkWarm/") {
			again = append(again, l, l)
		}
	}
	return out + strings.Join(again, "\n") + "\n"
}

func TestWriterAll(t *testing.T) {
	r := parse(strings.NewReader(fullInput()))
	var b strings.Builder
	drawn := map[string]bool{"ratios.png": false, "overhead.png": true, "size.png": true, "parallel.png": true, "load.png": false}
	w := &writer{w: &b, r: r, drawn: drawn}
	mutex := "File: bench.test\n      flat  flat%   sum%        cum   cum%\n 9632.96ms 58.22% 58.22%  9632.96ms 58.22%  sync.(*Mutex).Unlock\n"
	w.all("a test note", "a test run", mutex, "", abTable("raw runs\n== A = 4ab9a1e, B = this tree\nns/op 5000 4000\n"))
	md := b.String()

	headings := []string{
		"# Benchmark results",
		"## Issue 17 targets",
		"## Per request, interleaved (the headline)",
		"## What the check-and-set costs",
		"## One request after another side's, and in streaks",
		"## What honouring the request's context costs",
		"## What the observer costs (issue 16)",
		"## A store on another machine: through a delaying proxy",
		"## Parallel load",
		"## HTTP load test (wrk)",
		"## Cost against session size",
		"## Contention",
		"## Every engine, benchmarked separately (allocations)",
		"## Before and after the redesign: main at 4ab9a1e against this tree",
		"## clearsessions at scale",
		"## Every benchmark (medians)",
	}
	var got []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "#") {
			got = append(got, l)
		}
	}
	if !slices.Equal(got, headings) {
		t.Errorf("headings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(headings, "\n"))
	}

	for _, bad := range []string{"NaN", "Inf", "%!", "<nil>"} {
		if i := strings.Index(md, bad); i >= 0 {
			t.Errorf("the report has %q: …%s…", bad, md[max(0, i-120):min(len(md), i+40)])
		}
	}

	for _, want := range []string{
		"> **a test note**\n\n",
		"Figures are medians over up to 3 runs; machine: Test CPU, linux/amd64, GOMAXPROCS 2; run: a test run.\n\n",
		"costs 3.8 µs, 5801 B, 19 allocs; it is in every middleware figure",
		// Charts: only those drawn.
		"![time beyond the floor, ours and the peer](overhead.png)\n\n",
		"![cost against session size](size.png)\n\n",
		"![requests per second per core under parallel load](parallel.png)\n\n",
		// Targets.
		"| ours beyond the harness ≤ ¼ of scs's | memory | read-only | 5.0 µs vs 41.0 µs: 0.12 | ✅ met |\n",
		"| ours beyond the floor ≤ ¼ of scs's | Redis | read-write | 60.0 µs vs 100 µs: 0.60 | ❌ missed |\n",
		"\n6 of 8 targets met in this run.\n\n",
		// Headline.
		"| memory | read-only | 9.0 µs | 4.0 µs (harness) | scs 45.0 µs | 5.0 µs | 41.0 µs | 2.25× | 0.12 | – | 0.1 µs |\n",
		"| Redis | read-write | 150 µs | 90.0 µs | scs 190 µs | 60.0 µs | 100 µs | 1.67× | 0.60 | 0.5 µs | 1.0 µs |\n",
		// Check-and-set: loopback and 1 ms.
		"| Redis | loopback | GET + the Lua script (compare, SET PX) | 90.0 µs | 100 µs | 10.0 µs | 60.0 µs | 50.0 µs |\n",
		"| Redis | 1ms | GET + the Lua script (compare, SET PX) | 2.00 ms | 2.01 ms | 10.0 µs | 80.0 µs | 70.0 µs |\n",
		// Warm.
		"| Redis | read-write | 90.0 µs → 80.0 µs | 60.0 µs → 40.0 µs | 100 µs → 90.0 µs |\n",
		// Context, observer.
		"| Redis | read-only | 68.0 µs | 65.9 µs | 2.1 µs |\n",
		"| memory | read-only | 6.6 µs | 6.7 µs | 0.1 µs | +1.5 % |\n",
		// Network, with the counted round trips.
		"| Redis | read-only | 200us | 330 µs | 300 µs | 400 µs | 1.100× | – | – | 30.0 µs | 1.0 / 1.0 / 1.0 |\n",
		"| Redis | read-only | 1ms | 1.03 ms | 1.00 ms | 1.10 ms | 1.030× | 0.001 | 0.001 | 30.0 µs | 1.0 / 1.0 / 1.0 |\n",
		"| Redis | read-write | 1ms | 2.08 ms | 2.00 ms | 2.20 ms | 1.040× | 0.001 | 0.000 | 80.0 µs | 2.0 (+1.0 after the response) / 2.0 |\n",
		// Parallel.
		"| memory | 90000 | scs | 20000 | 4.50× | 200000 | 0.45× | 10.00× | 11.1 µs | 50.0 µs | 5.0 µs | 40 | 40 |\n",
		// Load.
		"| memory | ours | 31695 | 386 µs | 3.08 ms | 7.59 ms | 0 | 1.76× |\n",
		"| memory | scs | 18015 | 590 µs | 7.41 ms | 17.09 ms | 0 |  |\n",
		// Size: memory read measured, the others dashes.
		"| memory | read-only | 9.5 µs | 11.6 µs | 53.0 µs | 483 µs | 0.96 | 3.0× the session |\n",
		"| cached_db | read-write | – | – | – | – | – | – |\n",
		// Contention and redesign.
		"<details><summary>mutex profile</summary>\n\n```\nFile: bench.test\n",
		"```\n== A = 4ab9a1e, B = this tree\nns/op 5000 4000\n```\n\n",
		// Separate.
		"| memory | read-only | 7.0 µs | 8000 | 34 | – | scs 40.0 µs | 300 |\n",
		"| Redis | read-only | 70.0 µs | 20000 | 120 | 45.0 µs | scs 100 µs | 320 |\n",
		"Redis read-write floor with the check-and-set script that a write without lost updates needs (GET + EVALSHA): 95.0 µs.\n",
		// clearsessions and every benchmark.
		"| sqlite/1000000 | 9267.51 ms |\n",
		"| ClearSessions/sqlite/1000000 | 9267.51 ms | – | – |  | 1 |\n",
		"| Paired/Memory/read | 67.1 µs | 41400 | 394 | 4000 harness-ns/op, 9000 ours-ns/op, 4.5e+04 scs-ns/op, 9100 twin-ns/op | 3 |\n",
		"| Size/memory/read/100B | 9.5 µs | 300 | – | 10.5 MB/s | 1 |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, absent := range []string{"ratios.png", "load.png", "block profile"} {
		if strings.Contains(md, absent) {
			t.Errorf("the report has %q", absent)
		}
	}
}

// TestWriterAllEmpty: with nothing measured, the report has only the
// sections that do not depend on data, and no NaN.
func TestWriterAllEmpty(t *testing.T) {
	var b strings.Builder
	w := &writer{w: &b, r: resultsOf(), drawn: map[string]bool{}}
	w.all("", "", "", "", "")
	md := b.String()
	var headings []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "#") {
			headings = append(headings, l)
		}
	}
	want := []string{
		"# Benchmark results",
		"## Issue 17 targets",
		"## Per request, interleaved (the headline)",
		"## Contention",
		"## Every engine, benchmarked separately (allocations)",
		"## Every benchmark (medians)",
	}
	if !slices.Equal(headings, want) {
		t.Errorf("headings:\n%s\nwant:\n%s", strings.Join(headings, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(md, "NaN") || strings.Contains(md, "![") || strings.Contains(md, "> **") {
		t.Errorf("empty report:\n%s", md)
	}
	if !strings.Contains(md, "\n0 of 0 targets met in this run.\n\n") {
		t.Error("no summary of zero targets")
	}
	if !strings.Contains(md, "machine: , /, GOMAXPROCS 1.\n\n") {
		t.Error("machine line without meta")
	}
}

// TestRealResults runs the writer on the full run's results.txt beside
// the module, when there is one (it is not committed): every target row
// has a status, the summary adds up, and nothing prints as NaN.
// REPORT_RESULTS names the output of a real run (scripts/bench-smoke.sh
// sets it to its own); without it the test reads make bench's
// results.txt, and skips only when there is none (a fresh clone: the file
// is not committed).
func TestRealResults(t *testing.T) {
	path, required := os.LookupEnv("REPORT_RESULTS")
	if !required {
		path = "../results.txt"
	}
	in, err := os.ReadFile(path)
	switch {
	case err != nil && required:
		t.Fatalf("REPORT_RESULTS: %v", err)
	case err != nil:
		t.Skipf("no run to read (set REPORT_RESULTS, or run make bench): %v", err)
	}
	r := parse(strings.NewReader(string(in)))
	if len(r.order) == 0 {
		t.Fatalf("%s has no benchmarks", path)
	}
	rows, summary := targetsOf(t, r)
	met, inconclusive, outOfReach := 0, 0, 0
	for _, row := range rows {
		switch {
		case strings.HasSuffix(row, "| ✅ met |"):
			met++
		case strings.HasSuffix(row, "| ⚠️ inconclusive |"):
			inconclusive++
		case strings.HasSuffix(row, "| ❌ missed, out of reach here (the floor itself is under 2×) |"):
			outOfReach++
		case strings.HasSuffix(row, "| ❌ missed |"):
		default:
			t.Errorf("a target row without a status: %s", row)
		}
	}
	m := regexp.MustCompile(`^(\d+) of (\d+) targets met in this run`).FindStringSubmatch(summary)
	if m == nil || m[1] != num(float64(met), 0) || m[2] != num(float64(len(rows)), 0) {
		t.Errorf("summary %q does not match %d met of %d rows", summary, met, len(rows))
	}
	if (inconclusive > 0) != strings.Contains(summary, num(float64(inconclusive), 0)+" inconclusive") {
		t.Errorf("summary %q does not count %d inconclusive", summary, inconclusive)
	}
	if (outOfReach > 0) != strings.Contains(summary, num(float64(outOfReach), 0)+" of the missed") {
		t.Errorf("summary %q does not count %d out of reach", summary, outOfReach)
	}
	var b strings.Builder
	(&writer{w: &b, r: r, drawn: map[string]bool{}}).all("", "", "", "", "")
	if md := b.String(); strings.Contains(md, "NaN") || strings.Contains(md, "%!") {
		i := max(strings.Index(md, "NaN"), strings.Index(md, "%!"))
		t.Errorf("the report of results.txt has NaN or a format error: …%s…", md[max(0, i-120):min(len(md), i+40)])
	}
}

// Without -benchmem (B/op and allocs/op absent from every line) the
// report prints "–" for them, and leaves out the allocation target
// rather than marking it missed on a figure nobody took.
func TestWithoutBenchmem(t *testing.T) {
	in, err := os.ReadFile("../results.txt") // committed: make bench's last run
	if err != nil {
		t.Fatal(err)
	}
	strip := regexp.MustCompile(`\s+[0-9.]+ (B|allocs)/op`)
	r := parse(strings.NewReader(strip.ReplaceAllString(string(in), "")))
	if !math.IsNaN(r.get("Harness").med("allocs/op")) {
		t.Fatal("the input still has allocs/op")
	}
	var b strings.Builder
	(&writer{w: &b, r: r, drawn: map[string]bool{}}).all("", "", "", "", "")
	md := b.String()
	if i := strings.Index(md, "NaN"); i >= 0 {
		t.Errorf("NaN in the report: …%s…", md[max(0, i-120):min(len(md), i+40)])
	}
	if strings.Contains(md, "allocations ≤ 50 beyond the harness") {
		t.Error("the allocation target is judged without allocation figures")
	}
	if want := "costs " + us(r.get("Harness").med("ns/op")) + ", – B, – allocs;"; !strings.Contains(md, want) {
		t.Errorf("the harness sentence does not read %q", want)
	}
}
