package sessionsotel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	sessionsotel "github.com/sessionkit/sessions/otel"
)

// clock is the time of the Manager and of the memory engine.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness is a Manager over the memory engine, observed by an observer
// with an SDK MeterProvider (a ManualReader with delta temporality, so
// that each collection holds what one step recorded) and an SDK
// TracerProvider (a SpanRecorder), and an app whose every request runs
// inside a parent span, as behind otelhttp.
type harness struct {
	t       *testing.T
	clock   *clock
	m       *sessions.Manager
	reader  *sdkmetric.ManualReader
	spans   *tracetest.SpanRecorder
	tracer  trace.Tracer
	app     http.Handler
	seen    int    // spans already checked
	lastKey string // the last session key a response set
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	h.reader = sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(
		func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality }))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	h.spans = tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	t.Cleanup(func() {
		mp.Shutdown(context.Background())
		tp.Shutdown(context.Background())
	})
	h.tracer = tp.Tracer("app")
	obs, err := sessionsotel.NewObserver(sessionsotel.WithMeterProvider(mp), sessionsotel.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	st := sessions.DefaultSettings()
	st.SecretKey = "otel-test-secret-key"
	st.IdleTimeout = time.Hour
	st.IdleRefresh = time.Minute
	st.Clock = h.clock.Now
	st.Observer = obs
	h.m, err = sessions.New(memstore.New(&memstore.Options{Now: h.clock.Now}), st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.m.Close() })
	h.app = h.traced(h.m.Handler(h.routes()))
	return h
}

// traced starts the request's span, named after its path, as an HTTP
// server instrumentation would.
func (h *harness) traced(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := h.tracer.Start(r.Context(), r.URL.Path, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// routes is the app. /race-merge and /race-logout run a second request
// on the same session between their own load and save, as a concurrent
// request in another tab would.
func (h *harness) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set(r.FormValue("k"), "v")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Get("a")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.FromContext(r.Context()).Flush(r.Context()); err != nil {
			h.t.Errorf("flush: %v", err)
		}
	})
	race := func(other string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			s.Get("a")
			c, _ := r.Cookie("sessionid")
			if code := h.serve(other, c.Value); code != http.StatusOK {
				h.t.Errorf("%s: status %d", other, code)
			}
			s.Set("mine", "v")
		}
	}
	mux.HandleFunc("/race-merge", race("/set?k=theirs"))
	mux.HandleFunc("/race-logout", race("/logout"))
	return mux
}

// serve runs one request with the session key as its cookie ("" for
// none) and returns its status; the key of a new session goes to
// h.lastKey.
func (h *harness) serve(target, key string) int {
	req := httptest.NewRequest("GET", target, nil)
	if key != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
	}
	rec := httptest.NewRecorder()
	h.app.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sessionid" && c.Value != "" {
			h.lastKey = c.Value
		}
	}
	return rec.Code
}

// metrics returns what was recorded since the last call: one line per
// data point, "name{attributes} count" (the count of a histogram, the
// value of a counter), sorted. It checks the units and the histograms'
// buckets on the way.
func (h *harness) metrics() []string {
	h.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != sessionsotel.ScopeName {
			h.t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, md := range sm.Metrics {
			want := map[string]string{
				"session.engine.operation.duration": "s",
				"session.decisions":                 "{decision}",
				"session.conflict.retries":          "{retry}",
				"session.clear_expired.removed":     "{session}",
			}[md.Name]
			if md.Unit != want {
				h.t.Errorf("%s: unit %q, want %q", md.Name, md.Unit, want)
			}
			switch d := md.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if !slices.Equal(p.Bounds, sessionsotel.DurationBuckets) {
						h.t.Errorf("%s: bounds %v", md.Name, p.Bounds)
					}
					var n uint64
					for _, c := range p.BucketCounts {
						n += c
					}
					if n != p.Count || p.Sum <= 0 || p.Sum > 1 {
						h.t.Errorf("%s%s: %d in buckets, count %d, sum %gs", md.Name, attrs(p.Attributes.ToSlice()), n, p.Count, p.Sum)
					}
					out = append(out, fmt.Sprintf("%s%s %d", md.Name, attrs(p.Attributes.ToSlice()), p.Count))
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					if !slices.Equal(p.Bounds, []float64{1, 2, 3, 4, 8, 16, 32}) {
						h.t.Errorf("%s: bounds %v", md.Name, p.Bounds)
					}
					out = append(out, fmt.Sprintf("%s%s %d sum=%d", md.Name, attrs(p.Attributes.ToSlice()), p.Count, p.Sum))
				}
			case metricdata.Sum[int64]:
				if !d.IsMonotonic {
					h.t.Errorf("%s is not monotonic", md.Name)
				}
				for _, p := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s%s %d", md.Name, attrs(p.Attributes.ToSlice()), p.Value))
				}
			default:
				h.t.Errorf("%s: unexpected data %T", md.Name, md.Data)
			}
		}
	}
	sort.Strings(out)
	return out
}

// attrs formats attributes as {k=v,...}, sorted.
func attrs(kvs []attribute.KeyValue) string {
	s := make([]string, len(kvs))
	for i, kv := range kvs {
		s[i] = string(kv.Key) + "=" + kv.Value.String()
	}
	sort.Strings(s)
	return "{" + strings.Join(s, ",") + "}"
}

// traces returns the spans ended since the last call, in the order they
// ended: "name <- parent {attributes} status", and for spans with events
// "  event name{attributes}" lines after them. It checks that each child
// is a child of the parent it names and lies within its time.
func (h *harness) traces() []string {
	h.t.Helper()
	all := h.spans.Ended()
	ended := all[h.seen:]
	h.seen = len(all)
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range all {
		byID[s.SpanContext().SpanID()] = s
	}
	var out []string
	for _, s := range ended {
		parent := "-"
		if s.Parent().IsValid() {
			p, ok := byID[s.Parent().SpanID()]
			if !ok {
				h.t.Errorf("%s: parent not recorded", s.Name())
				continue
			}
			parent = p.Name()
			if s.Parent().TraceID() != p.SpanContext().TraceID() || s.SpanContext().TraceID() != p.SpanContext().TraceID() {
				h.t.Errorf("%s: not in its parent's trace", s.Name())
			}
			if s.StartTime().Before(p.StartTime()) || s.EndTime().After(p.EndTime()) || s.EndTime().Before(s.StartTime()) {
				h.t.Errorf("%s [%v, %v] not within %s [%v, %v]", s.Name(), s.StartTime(), s.EndTime(), p.Name(), p.StartTime(), p.EndTime())
			}
			if s.SpanKind() != trace.SpanKindInternal {
				h.t.Errorf("%s: kind %v", s.Name(), s.SpanKind())
			}
		}
		status := s.Status().Code.String()
		if s.Status().Code == codes.Error {
			status += ":" + s.Status().Description
		}
		line := s.Name() + " <- " + parent
		if len(s.Attributes()) > 0 {
			line += " " + attrs(s.Attributes())
		}
		out = append(out, line+" "+status)
		for _, e := range s.Events() {
			out = append(out, "  event "+e.Name+attrs(e.Attributes))
		}
	}
	return out
}

// step runs do and checks that it recorded exactly the metric data
// points and the spans wanted.
func (h *harness) step(name string, do func(), metrics, spans []string) {
	h.t.Helper()
	do()
	metrics = slices.Sorted(slices.Values(metrics))
	if got := h.metrics(); !slices.Equal(got, metrics) {
		h.t.Errorf("%s: metrics\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(metrics, "\n"))
	}
	if got := h.traces(); !slices.Equal(got, spans) {
		h.t.Errorf("%s: spans\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(spans, "\n"))
	}
}

const (
	dur = "session.engine.operation.duration"
	dec = "session.decisions"
	mem = "session.engine=memory"
)

// a formats attributes given as "key=value" as the harness does.
func a(kvs ...string) string {
	kvs = slices.Clone(kvs)
	sort.Strings(kvs)
	return "{" + strings.Join(kvs, ",") + "}"
}

// call returns the attributes of an engine call on the memory engine.
func call(op, outcome string, more ...string) string {
	return a(append([]string{mem, "session.operation=" + op, "session.outcome=" + outcome}, more...)...)
}

// decision returns the attributes of a decision on the memory engine.
func decision(d, outcome string, more ...string) string {
	return a(append([]string{mem, "session.decision=" + d, "session.outcome=" + outcome}, more...)...)
}

// TestScriptedRequests runs a scripted sequence of requests through the
// middleware and asserts, step by step, exactly the metric data points
// and the spans each must produce.
func TestScriptedRequests(t *testing.T) {
	h := newHarness(t)
	var key string

	h.step("new session", func() {
		if code := h.serve("/set?k=a", ""); code != 200 {
			t.Fatalf("status %d", code)
		}
		key = h.lastKey
	}, []string{
		dur + call("create", "ok") + " 1",
	}, []string{
		"session.create <- /set " + call("create", "ok") + " Unset",
		"/set <- - Unset",
	})

	h.step("load hit", func() { h.serve("/get", key) }, []string{
		dur + call("load", "hit") + " 1",
	}, []string{
		"session.load <- /get " + call("load", "hit") + " Unset",
		"/get <- - Unset",
	})

	h.step("load miss", func() { h.serve("/get", sessions.NewKey()) }, []string{
		dur + call("load", "miss") + " 1",
	}, []string{
		"session.load <- /get " + call("load", "miss") + " Unset",
		"/get <- - Unset",
	})

	// /race-merge loads, then /set changes the session, then /race-merge
	// saves: its compare-and-swap fails once, it merges and stores.
	h.step("conflict", func() {
		if code := h.serve("/race-merge", key); code != 200 {
			t.Errorf("status %d", code)
		}
	}, []string{
		dur + call("load", "hit") + " 2",
		dur + call("update", "ok") + " 2",
		dec + decision("conflict", "ok", "session.conflict.merged=true") + " 1",
		"session.conflict.retries" + a(mem, "session.conflict.merged=true") + " 1 sum=1",
	}, []string{
		"session.load <- /race-merge " + call("load", "hit") + " Unset",
		"session.load <- /set " + call("load", "hit") + " Unset",
		"session.update <- /set " + call("update", "ok") + " Unset",
		"/set <- - Unset",
		"session.update <- /race-merge " + call("update", "ok") + " Unset",
		"/race-merge <- - Unset",
		"  event session.conflict" + decision("conflict", "ok", "session.conflict.merged=true", "session.conflict.retries=1"),
	})

	// A read-only request past IdleRefresh extends the idle timeout.
	h.clock.advance(2 * time.Minute)
	h.step("idle refresh", func() { h.serve("/get", key) }, []string{
		dur + call("load", "hit") + " 1",
		dur + call("touch", "ok") + " 1",
		dec + decision("idle_refresh", "ok") + " 1",
	}, []string{
		"session.load <- /get " + call("load", "hit") + " Unset",
		"session.touch <- /get " + call("touch", "ok") + " Unset",
		"/get <- - Unset",
		"  event session.idle_refresh" + decision("idle_refresh", "ok"),
	})

	// /race-logout loads, then /logout deletes the session (Flush reads
	// the stored record for its user binding first), then /race-logout
	// saves: interrupted, the middleware answers 400.
	h.step("interrupted", func() {
		if code := h.serve("/race-logout", key); code != http.StatusBadRequest {
			t.Errorf("status %d, want 400", code)
		}
	}, []string{
		dur + call("load", "hit") + " 2",
		dur + call("delete", "ok") + " 1",
		dur + call("update", "error", "error.type=interrupted") + " 1",
		dec + decision("interrupted", "error", "error.type=interrupted") + " 1",
	}, []string{
		"session.load <- /race-logout " + call("load", "hit") + " Unset",
		"session.load <- /logout " + call("load", "hit") + " Unset",
		"session.delete <- /logout " + call("delete", "ok") + " Unset",
		"/logout <- - Unset",
		"session.update <- /race-logout " + call("update", "error", "error.type=interrupted") + " Error:interrupted",
		"/race-logout <- - Unset",
		"  event session.interrupted" + decision("interrupted", "error", "error.type=interrupted"),
	})

	h.step("another new session", func() { h.serve("/set?k=a", "") }, []string{
		dur + call("create", "ok") + " 1",
	}, []string{
		"session.create <- /set " + call("create", "ok") + " Unset",
		"/set <- - Unset",
	})

	// Past the idle timeout, clearsessions removes that session.
	h.clock.advance(2 * time.Hour)
	h.step("clearsessions", func() {
		ctx, span := h.tracer.Start(context.Background(), "clearsessions")
		defer span.End()
		n, err := h.m.ClearExpired(ctx)
		if err != nil || n != 1 {
			t.Errorf("ClearExpired: %d, %v; want 1 removed", n, err)
		}
	}, []string{
		dur + call("clear_expired", "ok") + " 1",
		"session.clear_expired.removed" + a(mem) + " 1",
	}, []string{
		"session.clear_expired <- clearsessions " + call("clear_expired", "ok", "session.clear_expired.removed=1") + " Unset",
		"clearsessions <- - Unset",
	})
}
