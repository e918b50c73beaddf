package sessionsotel_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/sessionkit/sessions/observe"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessionkit/sessions"
	sessionsotel "github.com/sessionkit/sessions/otel"
)

// providers returns an observer on SDK providers and what they record.
func providers(t *testing.T) (observe.Observer, *sdkmetric.ManualReader, *tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	obs, err := sessionsotel.NewObserver(sessionsotel.WithMeterProvider(mp), sessionsotel.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	return obs, reader, exp, tp
}

// An engine call's span ends when Observe is called and starts Duration
// before: the time the call really took.
func TestSpanTimes(t *testing.T) {
	obs, _, exp, tp := providers(t)
	ctx, parent := tp.Tracer("app").Start(context.Background(), "request")
	before := time.Now()
	obs.Observe(ctx, observe.Event{Engine: "redis", Op: observe.OpUpdate, Outcome: observe.OutcomeOK, Duration: 250 * time.Millisecond})
	after := time.Now()
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	s := spans[0]
	if s.Name != "session.update" || s.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("span %s with parent %v, want session.update under the request", s.Name, s.Parent.SpanID())
	}
	if d := s.EndTime.Sub(s.StartTime); d != 250*time.Millisecond {
		t.Errorf("span lasts %v, want the call's 250ms", d)
	}
	if s.EndTime.Before(before) || s.EndTime.After(after) {
		t.Errorf("span ends at %v, not when observed (%v to %v)", s.EndTime, before, after)
	}
}

// Every error class has its error.type, on the metric and on the span's
// status; a failure with no known class is _OTHER. A span without a
// parent is a root (a job outside a request).
func TestErrorTypes(t *testing.T) {
	obs, reader, exp, _ := providers(t)
	cases := map[error]string{
		observe.ErrStore:                              "store",
		sessions.ErrNotFound:                          "not_found",
		sessions.ErrExists:                            "exists",
		sessions.ErrInvalidKey:                        "invalid_key",
		sessions.ErrInterrupted:                       "interrupted",
		sessions.ErrConflict:                          "conflict",
		sessions.ErrClosed:                            "closed",
		sessions.ErrUnsupported:                       "unsupported",
		sessions.ErrTooLarge:                          "too_large",
		sessions.ErrBadConfig:                         "bad_config",
		context.Canceled:                              "canceled",
		context.DeadlineExceeded:                      "deadline_exceeded",
		errors.New("surprise"):                        "_OTHER",
		fmt.Errorf("wrapped: %w", sessions.ErrClosed): "closed",
	}
	want := map[string]int64{}
	for err, name := range cases {
		obs.Observe(context.Background(), observe.Event{Engine: "postgres", Op: observe.OpLoad, Outcome: observe.OutcomeError, Duration: time.Millisecond, Err: err})
		want[name]++
	}
	obs.Observe(context.Background(), observe.Event{Engine: "postgres", Op: observe.OpLoad, Outcome: observe.OutcomeError, Duration: time.Millisecond})
	want["_OTHER"]++

	got := map[string]int64{}
	for _, s := range exp.GetSpans() {
		if s.Parent.IsValid() {
			t.Errorf("%s has a parent without a request span", s.Name)
		}
		if s.Status.Code != codes.Error {
			t.Errorf("status %v, want Error", s.Status)
		}
		set := attribute.NewSet(s.Attributes...)
		v, _ := set.Value("error.type")
		if v.AsString() != s.Status.Description {
			t.Errorf("error.type %q, status %q", v.AsString(), s.Status.Description)
		}
		got[v.AsString()]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("span error types %v, want %v", got, want)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got = map[string]int64{}
	for _, p := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Histogram[float64]).DataPoints {
		v, _ := p.Attributes.Value("error.type")
		got[v.AsString()] += int64(p.Count)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metric error types %v, want %v", got, want)
	}
}

// Observe is safe for concurrent use, with new attribute combinations
// appearing meanwhile, and counts every event.
func TestConcurrentObserve(t *testing.T) {
	obs, reader, _, _ := providers(t)
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				obs.Observe(context.Background(), observe.Event{
					Engine: fmt.Sprintf("engine%d", (w+i)%5), Op: observe.OpCycle, Outcome: observe.OutcomeOK,
				})
			}
		})
	}
	wg.Wait()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	points := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints
	for _, p := range points {
		total += p.Value
	}
	if total != workers*each || len(points) != 5 {
		t.Errorf("%d decisions in %d series, want %d in 5", total, len(points), workers*each)
	}
}

// With the global providers (none set: no-ops), observing works and
// records nothing.
func TestGlobalProviders(t *testing.T) {
	obs, err := sessionsotel.NewObserver()
	if err != nil || obs == nil {
		t.Fatalf("NewObserver: %v, %v", obs, err)
	}
	obs.Observe(context.Background(), observe.Event{Engine: "memory", Op: observe.OpLoad, Outcome: observe.OutcomeHit, Duration: time.Microsecond})
	obs.Observe(context.Background(), observe.Event{Engine: "memory", Op: observe.OpConflict, Outcome: observe.OutcomeOK, Retries: 2, Merged: true})
}
