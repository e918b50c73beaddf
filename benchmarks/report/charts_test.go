package main

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pngSignature is the 8 bytes every PNG file starts with.
var pngSignature = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}

// chartInput is a results set with data for every chart: interleaved
// figures (ratios, overhead), the delaying proxy (ratios), sizes, the
// parallel benchmark of every store (ten groups: a wide chart) and the
// load test.
func chartInput() *results {
	var lines []string
	for _, e := range pairedEngines {
		sides := map[string]float64{"ours": 60000, e.floor: 40000}
		if e.peer != "" {
			sides[e.peer] = 100000
		}
		for _, kind := range kinds {
			lines = append(lines, sidesLine("Paired/"+e.group+"/"+kind, sides))
		}
	}
	lines = append(lines,
		networkLine("Redis", "read", map[string]float64{"floor": 1000000, "ours": 1030000}),
		networkLine("Redis", "write", map[string]float64{"floor": 2000000, "ours": 8000000}), // 4×: capped at 3
		sizeLines("memory", "write", 10000, 15000, 80000, 900000),
		sizeLines("redis", "read", 50000, 52000, 70000, math.NaN()), // three sizes only
	)
	for _, st := range parallelStores {
		reqs := map[string]float64{"ours": 10000, "floor": 15000}
		if st.peer != "" {
			reqs[st.peer] = 5000
		}
		lines = append(lines, parallelLine(st.group, reqs))
	}
	lines = append(lines,
		benchLine("Load/memory/ours", map[string]float64{"ns/op": 1e10, "req/s": 31695}),
		benchLine("Load/memory/scs", map[string]float64{"ns/op": 1e10, "req/s": 18015}),
		benchLine("Load/redis/ours", map[string]float64{"ns/op": 1e10, "req/s": 14453}), // no scs
	)
	return resultsOf(strings.Join(lines, "\n"))
}

// chartFiles are main's charts, with the shape (width / height) each
// must have for chartInput: a bar chart is 7 by 4.5 inches, wider when its
// groups need more room (78 points a group, plus 100), so its shape tells
// how many groups it drew; size.png is 7 by 5.
var chartFiles = []struct {
	file   string
	draw   func(*results, string) (bool, error)
	aspect float64
}{
	// Eight engines with a floor of store operations (not memory's
	// harness, not cookies' signing), read and write.
	{"ratios.png", drawRatios, (16*78 + 100) / (4.5 * 72)},
	// Seven engines with a target, read and write.
	{"overhead.png", drawOverhead, (14*78 + 100) / (4.5 * 72)},
	{"size.png", drawSize, 7 / 5.0},
	// Ten stores, three bars each.
	{"parallel.png", drawParallel, (10*78 + 100) / (4.5 * 72)},
	// Two stores: the minimum width.
	{"load.png", drawLoad, 7 / 4.5},
}

// decodePNG checks that path holds a PNG and returns its image.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, pngSignature) {
		t.Fatalf("%s does not start with the PNG signature: % x", path, b[:min(8, len(b))])
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func TestChartsDrawn(t *testing.T) {
	r := chartInput()
	dir := t.TempDir()
	for _, c := range chartFiles {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join(dir, c.file)
			ok, err := c.draw(r, path)
			if err != nil || !ok {
				t.Fatalf("draw = %v, %v; want true, nil", ok, err)
			}
			img := decodePNG(t, path)
			bounds := img.Bounds()
			if bounds.Dy() < 300 {
				t.Errorf("a %v image", bounds.Size())
			}
			if aspect := float64(bounds.Dx()) / float64(bounds.Dy()); math.Abs(aspect-c.aspect) > 0.01 {
				t.Errorf("width/height = %.3f, want %.3f", aspect, c.aspect)
			}
			// Not blank: a chart has more than one colour.
			first := img.At(bounds.Min.X, bounds.Min.Y)
			blank := true
			for y := bounds.Min.Y; y < bounds.Max.Y && blank; y += 7 {
				for x := bounds.Min.X; x < bounds.Max.X; x += 7 {
					if img.At(x, y) != first {
						blank = false
						break
					}
				}
			}
			if blank {
				t.Error("the chart is one colour")
			}
		})
	}
}

func TestChartsNothingToDraw(t *testing.T) {
	// Benchmarks, but none that any chart shows.
	r := resultsOf(
		benchLine("Harness", map[string]float64{"ns/op": 3800, "B/op": 5801, "allocs/op": 19}),
		benchLine("Memory/ours/read", map[string]float64{"ns/op": 7000}),
		benchLine("ClearSessions/sqlite/1000000", map[string]float64{"ns/op": 9e9}),
		benchLine("Size/memory/read/100B", map[string]float64{"ns/op": 9549}), // one size: no line
	)
	dir := t.TempDir()
	for _, c := range chartFiles {
		path := filepath.Join(dir, c.file)
		ok, err := c.draw(r, path)
		if ok || err != nil {
			t.Errorf("%s: draw = %v, %v; want false, nil", c.file, ok, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: written without data (stat: %v)", c.file, err)
		}
	}
}

func TestBarsNoGroups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.png")
	ok, err := bars(path, "title", "y", nil, []series{{name: "ours"}}, 0, nil)
	if ok || err != nil {
		t.Errorf("bars without groups = %v, %v; want false, nil", ok, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("bars without groups wrote a file (stat: %v)", err)
	}
}
