// Command report turns `go test -bench` output of the benchmarks package
// (and the load test's, and the contention profiles') into RESULTS.md and
// its charts, using the median of the repeated runs of each benchmark.
//
//	go run ./report -in results.txt -md RESULTS.md [-note "..."] [-mutex mutex.txt] [-block block.txt] [-redesign ab.txt]
//
// The charts are written beside RESULTS.md: ratios.png (ours / raw floor,
// on loopback and through the delaying proxy), overhead.png (the time
// beyond the floor, ours and the peer), size.png (cost against session
// size), parallel.png (requests per second per core under parallel load)
// and load.png (the wrk load test).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// sample is one benchmark's results: every run's values by unit.
type sample struct {
	runs  []map[string]float64
	procs int
}

// med is the median over the runs of unit ("ns/op", "B/op", a custom
// metric); NaN when absent.
func (s *sample) med(unit string) float64 {
	if s == nil {
		return math.NaN()
	}
	return s.medf(func(r map[string]float64) float64 {
		if v, ok := r[unit]; ok {
			return v
		}
		return math.NaN()
	})
}

// medf is the median over the runs of a value derived from each run, so
// that a ratio of two metrics measured in the same loop is taken run by
// run.
func (s *sample) medf(f func(map[string]float64) float64) float64 {
	if s == nil {
		return math.NaN()
	}
	var vs []float64
	for _, r := range s.runs {
		if v := f(r); !math.IsNaN(v) && !math.IsInf(v, 0) {
			vs = append(vs, v)
		}
	}
	return median(vs)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type results struct {
	m     map[string]*sample
	order []string
	meta  map[string]string
}

func (r *results) get(name string) *sample { return r.m[name] }

var head = regexp.MustCompile(`^Benchmark(\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$`)

func parse(in io.Reader) *results {
	r := &results{m: map[string]*sample{}, meta: map[string]string{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		t := sc.Text()
		for _, k := range []string{"goos", "goarch", "cpu", "pkg"} {
			if v, ok := strings.CutPrefix(t, k+": "); ok {
				r.meta[k] = v
			}
		}
		m := head.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		name := m[1]
		s := r.m[name]
		if s == nil {
			s = &sample{procs: 1}
			r.m[name] = s
			r.order = append(r.order, name)
		}
		if m[2] != "" {
			s.procs, _ = strconv.Atoi(m[2])
		}
		run := map[string]float64{}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			run[f[i+1]] = v
		}
		s.runs = append(s.runs, run)
	}
	if err := sc.Err(); err != nil {
		// A report from part of the output would judge the targets on
		// what happened to be read.
		log.Fatalf("reading the benchmark output: %v", err)
	}
	return r
}

func main() {
	in := flag.String("in", "results.txt", "go test -bench output")
	md := flag.String("md", "RESULTS.md", "Markdown report to write; the charts go beside it")
	note := flag.String("note", "", "a note printed at the top (for example: a noisy run)")
	run := flag.String("run", "", "when and how busy: printed with the machine")
	mutex := flag.String("mutex", "", "go tool pprof -top output of a mutex profile of the parallel benchmark")
	block := flag.String("block", "", "go tool pprof -top output of a block profile of the parallel benchmark")
	redesign := flag.String("redesign", "", "scripts/abbench.sh's output comparing main at 4ab9a1e with this tree")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	r := parse(f)
	f.Close()
	dir := filepath.Dir(*md)
	charts := []struct {
		file string
		draw func(*results, string) (bool, error)
	}{
		{"ratios.png", drawRatios},
		{"overhead.png", drawOverhead},
		{"size.png", drawSize},
		{"parallel.png", drawParallel},
		{"load.png", drawLoad},
	}
	drawn := map[string]bool{}
	for _, c := range charts {
		ok, err := c.draw(r, filepath.Join(dir, c.file))
		if err != nil {
			log.Fatalf("%s: %v", c.file, err)
		}
		drawn[c.file] = ok
	}
	var b strings.Builder
	w := &writer{w: &b, r: r, drawn: drawn}
	w.all(*note, *run, readFile(*mutex), readFile(*block), abTable(readFile(*redesign)))
	if err := os.WriteFile(*md, []byte(b.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}

func readFile(p string) string {
	if p == "" {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		log.Printf("warning: %v", err)
		return ""
	}
	return string(b)
}

// --- formatting ---------------------------------------------------------------

func us(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "–"
	// The thresholds are where the rounded figure reaches the next unit
	// (999.6 µs prints as 1.00 ms, not 1000 µs).
	case math.Abs(ns) >= 999.5e3:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case math.Abs(ns) >= 99.95e3:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
}

func times(r float64) string {
	if math.IsNaN(r) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r)
}

func num(v float64, prec int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func mark(ok bool) string {
	if ok {
		return "✅ met"
	}
	return "❌ missed"
}

func kindLabel(kind string) string {
	return map[string]string{"read": "read-only", "write": "read-write"}[kind]
}

var kinds = []string{"read", "write"}

// abTable keeps the summary of scripts/abbench.sh's output: from its
// "== A = ..." line on (the raw runs before it are in results.txt).
func abTable(out string) string {
	if i := strings.Index(out, "== A = "); i >= 0 {
		return out[i:]
	}
	return out
}
