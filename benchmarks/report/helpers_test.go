package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// resultsOf parses hand-written `go test -bench` output, one line per
// argument, into a results set, as main does with results.txt.
func resultsOf(lines ...string) *results {
	return parse(strings.NewReader(strings.Join(lines, "\n") + "\n"))
}

// benchLine builds one benchmark line as go test prints it at
// GOMAXPROCS 2: "Benchmark<name>-2  1000  <v> <unit> ...", with "ns/op"
// first (when given) and the other units sorted by name, as the testing
// package sorts its custom metrics.
func benchLine(name string, metrics map[string]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Benchmark%s-2   \t    1000\t", name)
	if v, ok := metrics["ns/op"]; ok {
		fmt.Fprintf(&b, "%12s ns/op\t", fmtValue(v))
	}
	units := make([]string, 0, len(metrics))
	for u := range metrics {
		if u != "ns/op" {
			units = append(units, u)
		}
	}
	slices.Sort(units)
	for _, u := range units {
		fmt.Fprintf(&b, "%12s %s\t", fmtValue(metrics[u]), u)
	}
	return strings.TrimRight(b.String(), "\t")
}

// fmtValue prints a metric's value without losing digits.
func fmtValue(v float64) string { return fmt.Sprintf("%g", v) }

// sidesLine builds an interleaved benchmark's line (BenchmarkPaired,
// BenchmarkWarm, BenchmarkNetwork, ...): each side's time as
// "<v> <side>-ns/op", plus a total ns/op that the report ignores.
func sidesLine(name string, sides map[string]float64) string {
	return sidesLineWith(name, sides, nil)
}

// sidesLineWith is sidesLine with extra units (such as "ours/floor",
// "B/op") beside the sides' times.
func sidesLineWith(name string, sides, extra map[string]float64) string {
	m := map[string]float64{"ns/op": 0}
	for s, v := range sides {
		m[s+"-ns/op"] = v
		m["ns/op"] += v
	}
	for u, v := range extra {
		m[u] = v
	}
	return benchLine(name, m)
}

// engineOf returns the pairedEngines entry of a BenchmarkPaired group.
func engineOf(t *testing.T, group string) pairedEngine {
	t.Helper()
	for _, e := range pairedEngines {
		if e.group == group {
			return e
		}
	}
	t.Fatalf("no paired engine with group %q", group)
	return pairedEngine{}
}

// near reports whether got is within a relative 1e-9 of want (NaN only
// equals NaN).
func near(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

// checkNear fails the test when got is not near want.
func checkNear(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
