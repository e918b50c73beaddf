package main

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one set of bars of a grouped bar chart.
type series struct {
	name   string
	values plotter.Values // NaN: no bar
}

// bars draws a grouped bar chart with the value printed above each bar,
// the axis capped at cap (0: no cap) and optional horizontal reference
// lines. It reports false (and writes nothing) when there is no data.
func bars(path, title, ylabel string, groups []string, ss []series, capAt float64, refs map[string]float64) (bool, error) {
	if len(groups) == 0 {
		return false, nil
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	n := len(ss)
	wbar := vg.Points(math.Max(6, math.Min(16, 48/float64(n))))
	top := 0.0
	for _, s := range ss {
		for _, v := range s.values {
			if !math.IsNaN(v) {
				top = math.Max(top, v)
			}
		}
	}
	if capAt > 0 && top > capAt {
		top = capAt
	}
	for i, s := range ss {
		vals := make(plotter.Values, len(s.values))
		var xys plotter.XYs
		var texts []string
		for j, v := range s.values {
			if math.IsNaN(v) {
				continue
			}
			vals[j] = v
			if capAt > 0 {
				vals[j] = math.Min(v, capAt)
			}
			xys = append(xys, plotter.XY{X: float64(j), Y: vals[j]})
			texts = append(texts, short(v))
		}
		b, err := plotter.NewBarChart(vals, wbar)
		if err != nil {
			return false, err
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = 0
		b.Offset = wbar * vg.Length(float64(i)-float64(n-1)/2)
		p.Add(b)
		p.Legend.Add(s.name, b)
		if len(xys) > 0 {
			l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
			if err != nil {
				return false, err
			}
			for k := range l.TextStyle {
				l.TextStyle[k].Font.Size = vg.Points(7)
				l.TextStyle[k].XAlign = draw.XCenter
			}
			l.Offset = vg.Point{X: b.Offset, Y: vg.Points(2)}
			p.Add(l)
		}
	}
	for name, y := range refs {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.6, Y: y}, {X: float64(len(groups)) - 0.4, Y: y}})
		if err != nil {
			return false, err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = plotutil.Color(n + 1)
		p.Add(l)
		p.Legend.Add(name, l)
	}
	p.Add(plotter.NewGrid())
	p.Y.Min, p.Y.Max = 0, top*1.3 // room for the labels and the legend
	p.X.Min, p.X.Max = -0.6, float64(len(groups))-0.4
	p.Legend.Top = true
	p.NominalX(groups...)
	perGroup := math.Max(float64(n)*float64(wbar)*1.5, 78) // points: room for the group's name
	width := max(vg.Points(float64(len(groups))*perGroup+100), 7*vg.Inch)
	return true, p.Save(width, 4.5*vg.Inch, path)
}

func short(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

func nanIfMissing(v float64, ok bool) float64 {
	if !ok {
		return math.NaN()
	}
	return v
}

// drawRatios: ours / raw floor for every engine with a floor, on loopback
// (interleaved) and through the delaying proxy.
func drawRatios(r *results, path string) (bool, error) {
	var groups []string
	ss := []series{{name: "loopback"}, {name: "0.2 ms round trip"}, {name: "1 ms round trip"}}
	for _, e := range pairedEngines {
		if e.floor != "floor" || e.group == "SignedCookie" {
			continue
		}
		for _, kind := range kinds {
			f, ok := e.figures(r, kind)
			if !ok {
				continue
			}
			groups = append(groups, fmt.Sprintf("%s %s", shortName(e.name), map[string]string{"read": "RO", "write": "RW"}[kind]))
			ss[0].values = append(ss[0].values, f.ratioFloor)
			for i, rtt := range networkRTTs {
				s := r.get("Network/" + rtt.name + "/" + e.group + "/" + kind)
				ss[i+1].values = append(ss[i+1].values, nanIfMissing(s.med("ours/floor"), s != nil))
			}
		}
	}
	return bars(path, "ours / raw floor (lower is better; 1 = the store alone)", "ratio (axis capped at 3)",
		groups, ss, 3, map[string]float64{"1.05 (target at 1 ms)": 1.05})
}

// drawOverhead: the time beyond the floor, ours and the peer (loopback,
// interleaved): what the targets compare.
func drawOverhead(r *results, path string) (bool, error) {
	var groups []string
	ss := []series{{name: "ours beyond the floor"}, {name: "peer beyond the floor"}}
	for _, e := range pairedEngines {
		if e.target == noTarget {
			continue
		}
		for _, kind := range kinds {
			f, ok := e.figures(r, kind)
			if !ok {
				continue
			}
			peer := f.peerBeyond
			groups = append(groups, fmt.Sprintf("%s %s", shortName(e.name), map[string]string{"read": "RO", "write": "RW"}[kind]))
			ss[0].values = append(ss[0].values, f.oursBeyond/1e3)
			ss[1].values = append(ss[1].values, peer/1e3)
		}
	}
	return bars(path, "time beyond the floor per request, µs (memory: beyond the harness; cookies: beyond signing alone)", "µs",
		groups, ss, 0, nil)
}

func shortName(s string) string {
	switch s {
	case "SQLite (mattn, scs's driver)":
		return "SQLite-mattn"
	case "SQLite (modernc, our default)":
		return "SQLite"
	case "SQLite (each library's usual driver)":
		return "SQLite (usual driver)"
	case "signed cookies":
		return "cookies"
	case "Redis Cluster":
		return "Cluster"
	case "PostgreSQL":
		return "Postgres"
	}
	return s
}

// drawSize: cost against session size, log-log, with a linear reference.
func drawSize(r *results, path string) (bool, error) {
	p := plot.New()
	p.Title.Text = "cost per request against session size (log-log; dashed: linear growth from 1 KB)"
	p.X.Label.Text = "session size, bytes of JSON"
	p.Y.Label.Text = "µs per request"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	any := false
	i := 0
	for _, eng := range sizeEngines {
		for _, kind := range kinds {
			ts, _ := sizeSlope(r, eng, kind)
			var xys plotter.XYs
			for j, t := range ts {
				if !math.IsNaN(t) {
					xys = append(xys, plotter.XY{X: sizes[j].bytes, Y: t / 1e3})
				}
			}
			if len(xys) < 2 {
				continue
			}
			any = true
			l, s, err := plotter.NewLinePoints(xys)
			if err != nil {
				return false, err
			}
			l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
			s.Shape = plotutil.Shape(i)
			if kind == "read" {
				l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			}
			p.Add(l, s)
			p.Legend.Add(eng+" "+kindLabel(kind), l, s)
			if eng == "memory" && kind == "write" && len(ts) > 1 && !math.IsNaN(ts[1]) {
				// Linear from the 1 KB point.
				ref, err := plotter.NewLine(plotter.XYs{{X: 1000, Y: ts[1] / 1e3}, {X: 100_000, Y: ts[1] / 1e3 * 100}})
				if err != nil {
					return false, err
				}
				ref.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
				ref.Color = plotutil.Color(7)
				p.Add(ref)
				p.Legend.Add("linear (memory read-write)", ref)
			}
			i++
		}
	}
	if !any {
		return false, nil
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = false, false // bottom right: the lines rise to the top right
	return true, p.Save(7*vg.Inch, 5*vg.Inch, path)
}

// drawParallel: requests per second per core, ours, the peer and the
// floor.
func drawParallel(r *results, path string) (bool, error) {
	var groups []string
	ss := []series{{name: "ours"}, {name: "peer (scs; gorilla for cookies)"}, {name: "floor (harness + the store's bare operations)"}}
	for _, st := range parallelStores {
		unit, _, ok := parallelOf(r, st.group)
		if !ok {
			continue
		}
		groups = append(groups, shortName(st.name))
		ss[0].values = append(ss[0].values, unit("ours", "req/s/core"))
		peer := math.NaN()
		if st.peer != "" {
			peer = unit(st.peer, "req/s/core")
		}
		ss[1].values = append(ss[1].values, peer)
		ss[2].values = append(ss[2].values, unit("floor", "req/s/core"))
	}
	// The memory engine's floor (the bare harness) is several times any
	// library's figure: capped (its label keeps the value) so that the
	// stores' bars stay readable.
	top := 0.0
	for _, v := range ss[0].values {
		if !math.IsNaN(v) {
			top = math.Max(top, v)
		}
	}
	return bars(path, "parallel load: requests per second per core (higher is better)", "req/s per core", groups, ss, 1.3*top, nil)
}

// drawLoad: wrk requests per second, ours and scs.
func drawLoad(r *results, path string) (bool, error) {
	var groups []string
	ss := []series{{name: "ours"}, {name: "scs"}}
	for _, st := range loadStores {
		o := r.get("Load/" + st.group + "/ours")
		if o == nil {
			continue
		}
		groups = append(groups, shortName(st.name))
		ss[0].values = append(ss[0].values, o.med("req/s"))
		p := r.get("Load/" + st.group + "/scs")
		ss[1].values = append(ss[1].values, nanIfMissing(p.med("req/s"), p != nil))
	}
	return bars(path, "HTTP load test under wrk: requests per second (higher is better)", "req/s", groups, ss, 0, nil)
}
