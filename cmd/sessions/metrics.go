package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/messages"
	"github.com/sessionkit/sessions/observe"
)

// The demo's live counts (sessions demo --debug-api): an observer on the
// demo's Manager counts every engine call and decision by engine,
// operation and outcome, and /metrics shows the counts as a page, as
// JSON (?format=json) or as Prometheus' text format (?format=text). The
// debug action POST /debug/slow-add holds a request for a few seconds
// between loading the session and saving it, so that two tabs collide
// and the counts show the conflict being merged.

// metrics is a sessions observer (observe.Observer) that counts events.
// Observe takes one mutex for a few map updates: cheap enough for every
// request of a demo.
type metrics struct {
	started time.Time

	mu        sync.Mutex
	events    map[eventKey]int64
	latency   map[observe.Op]*opLatency
	conflicts int64 // saves that met a concurrent change
	retries   int64 // their compare-and-swap rounds
	merged    int64 // conflicts that ended stored
	cleared   int64 // records clear_expired removed
}

// eventKey is what events are counted by.
type eventKey struct {
	Engine  string
	Op      observe.Op
	Outcome observe.Outcome
}

// opLatency summarizes the durations of one engine call.
type opLatency struct {
	count      int64
	total, max time.Duration
}

// newMetrics returns an empty counter, started now.
func newMetrics() *metrics {
	return &metrics{started: time.Now(), events: map[eventKey]int64{}, latency: map[observe.Op]*opLatency{}}
}

// engineCalls are the operations that are engine calls (with a
// duration); the others are decisions.
var engineCalls = []observe.Op{observe.OpLoad, observe.OpCreate, observe.OpUpdate, observe.OpTouch, observe.OpDelete,
	observe.OpClearExpired, observe.OpList, observe.OpIndex}

// decisions are the other operations, in the order the page lists them.
var decisions = []observe.Op{observe.OpConflict, observe.OpInterrupted, observe.OpIdleRefresh, observe.OpCycle, observe.OpTooLarge}

// Observe implements observe.Observer.
func (m *metrics) Observe(_ context.Context, e observe.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events[eventKey{e.Engine, e.Op, e.Outcome}]++
	if slices.Contains(engineCalls, e.Op) {
		l := m.latency[e.Op]
		if l == nil {
			l = &opLatency{}
			m.latency[e.Op] = l
		}
		l.count++
		l.total += e.Duration
		l.max = max(l.max, e.Duration)
	}
	switch e.Op {
	case observe.OpConflict:
		m.conflicts++
		m.retries += int64(e.Retries)
		if e.Merged {
			m.merged++
		}
	case observe.OpClearExpired:
		m.cleared += e.Count
	}
}

// metricsSnapshot is the counts at one moment, as /metrics?format=json
// writes them.
type metricsSnapshot struct {
	Since         time.Time     `json:"since"`
	UptimeSeconds float64       `json:"uptime_seconds"`
	Engine        string        `json:"engine"`
	Conflicts     int64         `json:"conflicts"`
	Merged        int64         `json:"conflicts_merged"`
	Failed        int64         `json:"conflicts_failed"`
	Retries       int64         `json:"conflict_retries"`
	Interrupted   int64         `json:"interrupted"`
	IdleRefreshes int64         `json:"idle_refreshes"`
	Cycles        int64         `json:"key_cycles"`
	TooLarge      int64         `json:"too_large"`
	Cleared       int64         `json:"cleared"`
	Calls         []callSummary `json:"calls"`
	Events        []eventCount  `json:"events"`
}

// callSummary is one engine call's count, outcomes and latency.
type callSummary struct {
	Op       observe.Op       `json:"op"`
	Count    int64            `json:"count"`
	Outcomes map[string]int64 `json:"outcomes"`
	MeanUS   float64          `json:"mean_us"`
	MaxUS    float64          `json:"max_us"`
}

// OutcomeText lists the outcomes as "hit 3 · miss 1", for the page.
func (c callSummary) OutcomeText() string {
	var parts []string
	for _, o := range slices.Sorted(maps.Keys(c.Outcomes)) {
		parts = append(parts, fmt.Sprintf("%s %d", o, c.Outcomes[o]))
	}
	return strings.Join(parts, " · ")
}

// Mean and Max are the latencies, for the page.
func (c callSummary) Mean() string { return fmtMicros(c.MeanUS) }
func (c callSummary) Max() string  { return fmtMicros(c.MaxUS) }

// eventCount is the count of one (engine, op, outcome).
type eventCount struct {
	Engine  string          `json:"engine"`
	Op      observe.Op      `json:"op"`
	Outcome observe.Outcome `json:"outcome"`
	Count   int64           `json:"count"`
}

// snapshot copies the counts; engine names the demo's engine for a page
// with no event yet.
func (m *metrics) snapshot(engine string) metricsSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	s := metricsSnapshot{
		Since: m.started.UTC().Truncate(time.Second), UptimeSeconds: math.Round(now.Sub(m.started).Seconds()*10) / 10,
		Engine: engine, Conflicts: m.conflicts, Merged: m.merged, Failed: m.conflicts - m.merged, Retries: m.retries,
		Cleared: m.cleared, Calls: []callSummary{}, Events: []eventCount{},
	}
	calls := map[observe.Op]*callSummary{}
	for k, n := range m.events {
		s.Events = append(s.Events, eventCount{k.Engine, k.Op, k.Outcome, n})
		switch k.Op {
		case observe.OpInterrupted:
			s.Interrupted += n
		case observe.OpIdleRefresh:
			s.IdleRefreshes += n
		case observe.OpCycle:
			s.Cycles += n
		case observe.OpTooLarge:
			s.TooLarge += n
		}
		if !slices.Contains(engineCalls, k.Op) {
			continue
		}
		c := calls[k.Op]
		if c == nil {
			c = &callSummary{Op: k.Op, Outcomes: map[string]int64{}}
			calls[k.Op] = c
		}
		c.Count += n
		c.Outcomes[string(k.Outcome)] += n
	}
	for _, op := range engineCalls {
		c := calls[op]
		if c == nil {
			continue
		}
		if l := m.latency[op]; l != nil && l.count > 0 {
			c.MeanUS = micros(l.total / time.Duration(l.count))
			c.MaxUS = micros(l.max)
		}
		s.Calls = append(s.Calls, *c)
	}
	order := func(op observe.Op) int {
		if i := slices.Index(engineCalls, op); i >= 0 {
			return i
		}
		return len(engineCalls) + slices.Index(decisions, op)
	}
	slices.SortFunc(s.Events, func(a, b eventCount) int {
		if c := strings.Compare(a.Engine, b.Engine); c != 0 {
			return c
		}
		if c := order(a.Op) - order(b.Op); c != 0 {
			return c
		}
		return strings.Compare(string(a.Outcome), string(b.Outcome))
	})
	return s
}

// micros is d in microseconds, to a tenth.
func micros(d time.Duration) float64 { return math.Round(float64(d)/100) / 10 }

// fmtMicros writes microseconds as the page shows them.
func fmtMicros(us float64) string {
	if us >= 1000 {
		return strconv.FormatFloat(us/1000, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(us, 'f', 1, 64) + " µs"
}

// writeText writes s in Prometheus' text exposition format.
func (s metricsSnapshot) writeText(b *strings.Builder) {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace
	b.WriteString("# HELP sessionkit_events_total Engine calls and session decisions of the demo's Manager.\n# TYPE sessionkit_events_total counter\n")
	for _, e := range s.Events {
		fmt.Fprintf(b, "sessionkit_events_total{engine=\"%s\",op=\"%s\",outcome=\"%s\"} %d\n", esc(e.Engine), e.Op, e.Outcome, e.Count)
	}
	b.WriteString("# HELP sessionkit_conflicts_total Saves that met a concurrent change, by result.\n# TYPE sessionkit_conflicts_total counter\n")
	fmt.Fprintf(b, "sessionkit_conflicts_total{result=\"merged\"} %d\nsessionkit_conflicts_total{result=\"failed\"} %d\n", s.Merged, s.Failed)
	b.WriteString("# HELP sessionkit_conflict_retries_total Compare-and-swap rounds of the conflicting saves.\n# TYPE sessionkit_conflict_retries_total counter\n")
	fmt.Fprintf(b, "sessionkit_conflict_retries_total %d\n", s.Retries)
	b.WriteString("# HELP sessionkit_call_duration_seconds Duration of the engine calls.\n# TYPE sessionkit_call_duration_seconds summary\n")
	for _, c := range s.Calls {
		fmt.Fprintf(b, "sessionkit_call_duration_seconds_sum{op=\"%s\"} %g\nsessionkit_call_duration_seconds_count{op=\"%s\"} %d\n",
			c.Op, c.MeanUS*float64(c.Count)/1e6, c.Op, c.Count)
	}
	b.WriteString("# HELP sessionkit_call_duration_max_seconds Longest engine call since the demo started.\n# TYPE sessionkit_call_duration_max_seconds gauge\n")
	for _, c := range s.Calls {
		fmt.Fprintf(b, "sessionkit_call_duration_max_seconds{op=\"%s\"} %g\n", c.Op, c.MaxUS/1e6)
	}
}

// metricsData is the data of the metrics page.
type metricsData struct {
	metricsSnapshot
	Refresh  int // seconds between reloads (?refresh=N); 0: none
	HoldSecs int
	Products []product
	Swaps    bool // the engine compare-and-swaps, so conflicts merge
}

// metricsPage answers GET /metrics: the page, JSON or text.
func (s *shop) metricsPage(w http.ResponseWriter, r *http.Request) {
	snap := s.metrics.snapshot(s.m.Describe().Name)
	format := r.URL.Query().Get("format")
	if format == "" && strings.Contains(r.Header.Get("Accept"), "application/json") {
		format = "json"
	}
	switch format {
	case "json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(snap)
		return
	case "text":
		var b strings.Builder
		snap.writeText(&b)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(b.String()))
		return
	case "", "html":
	default:
		s.errorPage(w, r, http.StatusBadRequest, "Bad request", "Unknown format: use json or text.", "")
		return
	}
	d := metricsData{metricsSnapshot: snap, HoldSecs: int(s.hold / time.Second), Products: catalog[:2], Swaps: swaps(s.m)}
	if v := r.URL.Query().Get("refresh"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 60 {
			d.Refresh = n
		}
	}
	s.render(w, r, http.StatusOK, "metrics", "Live counts", "about", d)
}

// swaps reports whether m's engine compare-and-swaps (sessions.Swapper):
// only then does a save merge a concurrent change; otherwise the last
// writer wins, as in Django.
func swaps(m *sessions.Manager) bool {
	_, ok := m.Backend().(sessions.Swapper)
	return ok
}

// defaultHold is how long POST /debug/slow-add holds its request.
const defaultHold = 5 * time.Second

// slowAdd answers POST /debug/slow-add: it adds one of a product to the
// cart like the shop's button, but holds the request for a few seconds
// between loading the session (done already, by the CSRF check) and
// saving it. Another request that saves the session meanwhile (another
// tab) makes this save meet a conflict, which it merges: the cart keeps
// both additions (mergeCartAdd), and /metrics counts the conflict.
func (s *shop) slowAdd(w http.ResponseWriter, r *http.Request) {
	p, ok := productBySKU(r.PostFormValue("sku"))
	if !ok {
		s.errorPage(w, r, http.StatusBadRequest, "Bad request", "No such product.", "")
		return
	}
	sess := sessionOf(r)
	c := loadCart(sess) // the session as this request loaded it
	if !s.pause(r.Context()) {
		return // the tab went away: nothing changes
	}
	c[p.SKU] = min(c[p.SKU]+1, maxQty)
	sess.SetMerge(cartKey, mergeCartAdd)
	saveCart(sess, c)
	messages.Success(sess, fmt.Sprintf("Added 1 × %s to your cart after holding the request for %s. If another tab saved the session meanwhile, this save met a conflict and merged it: see the live counts.",
		translate(s.language(r), p.Name), s.hold))
	redirect(w, r, "/cart")
}

// holdRequest waits for s.hold, or until ctx ends (false).
func (s *shop) holdRequest(ctx context.Context) bool {
	t := time.NewTimer(s.hold)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// mergeCartAdd merges a cart this request added to (ours, from base)
// with the cart another request stored meanwhile (theirs): theirs plus
// what this request added, so that both additions count.
func mergeCartAdd(base, theirs, ours any) (any, bool) {
	b, t, o := cartOf(base), cartOf(theirs), cartOf(ours)
	for sku, q := range o {
		t[sku] += q - b[sku]
	}
	t = t.clean()
	return map[string]int(t), len(t) > 0
}

// cartOf reads a cart as the session holds it: as this request set it
// (map[string]int) or as decoded from the store (numbers in a
// map[string]any). Anything else is an empty cart.
func cartOf(v any) cart {
	c := cart{}
	switch m := v.(type) {
	case map[string]int:
		for k, q := range m {
			c[k] = q
		}
	case map[string]any:
		for k, x := range m {
			switch q := x.(type) {
			case int:
				c[k] = q
			case int64:
				c[k] = int(max(min(q, maxQty), -maxQty))
			case float64:
				if q == math.Trunc(q) && math.Abs(q) <= maxQty {
					c[k] = int(q)
				}
			}
		}
	}
	return c
}
