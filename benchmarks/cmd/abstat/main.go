// Command abstat compares two sets of `go test -bench` results, A and B,
// taken alternately in one run (scripts/abbench.sh): for every benchmark
// and unit it prints the median of each side, the change from A to B,
// and each side's spread (the range of its runs as a share of its
// median), so a change smaller than the noise reads as such.
//
//	go run ./cmd/abstat a.txt b.txt
package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

type key struct{ bench, unit string }

func read(path string) (map[key][]float64, []key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	vals := map[key][]float64{}
	var order []key
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || !strings.HasPrefix(fs[0], "Benchmark") {
			continue
		}
		name := fs[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the GOMAXPROCS suffix
			}
		}
		for i := 2; i+1 < len(fs); i += 2 {
			v, err := strconv.ParseFloat(fs[i], 64)
			if err != nil {
				continue
			}
			k := key{name, fs[i+1]}
			if _, ok := vals[k]; !ok {
				order = append(order, k)
			}
			vals[k] = append(vals[k], v)
		}
	}
	return vals, order, sc.Err()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func spread(v []float64) float64 {
	m := median(v)
	if m == 0 {
		return 0
	}
	return (slices.Max(v) - slices.Min(v)) / m * 100
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: abstat A.txt B.txt")
		os.Exit(2)
	}
	a, order, err := read(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, _, err := read(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%-58s %-12s %12s %12s %8s %14s\n", "benchmark", "unit", "A median", "B median", "B/A", "spread A / B")
	for _, k := range order {
		va, vb := a[k], b[k]
		if len(vb) == 0 {
			continue
		}
		ma, mb := median(va), median(vb)
		ratio := math.NaN()
		if ma != 0 {
			ratio = mb / ma
		}
		fmt.Printf("%-58s %-12s %12.4g %12.4g %8.3f %6.0f%% /%4.0f%%  (n=%d/%d)\n", k.bench, k.unit, ma, mb, ratio, spread(va), spread(vb), len(va), len(vb))
	}
}
