package sessionsotel

import (
	"context"
	"errors"
	"github.com/sessionkit/sessions/observe"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionkit/sessions"
)

// ScopeName is the name of the meter and the tracer the observer uses.
const ScopeName = "github.com/sessionkit/sessions/otel"

// DurationBuckets are the explicit bucket boundaries, in seconds, of
// session.engine.operation.duration: from 10 µs (an in-process engine) to
// 10 s (a store timing out).
var DurationBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// retryBuckets are the bucket boundaries of session.conflict.retries (the
// Manager gives up after 32 rounds).
var retryBuckets = []float64{1, 2, 3, 4, 8, 16, 32}

// The attribute keys (see the package documentation).
const (
	engineKey   = attribute.Key("session.engine")
	operation   = attribute.Key("session.operation")
	decisionKey = attribute.Key("session.decision")
	outcomeKey  = attribute.Key("session.outcome")
	errorType   = attribute.Key("error.type")
	mergedKey   = attribute.Key("session.conflict.merged")
	retriesKey  = attribute.Key("session.conflict.retries")
	removedKey  = attribute.Key("session.clear_expired.removed")
)

// internal is the kind of the engine calls' spans.
var internal = trace.WithSpanKind(trace.SpanKindInternal)

// An Option configures [NewObserver].
type Option func(*config)

type config struct {
	mp metric.MeterProvider
	tp trace.TracerProvider
}

// WithMeterProvider sets the MeterProvider the metrics are recorded with
// (default: the global one, otel.GetMeterProvider()).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTracerProvider sets the TracerProvider the spans are started with
// (default: the global one, otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// observer is the [observe.Observer] NewObserver returns.
type observer struct {
	tracer    trace.Tracer
	duration  metric.Float64Histogram
	decisions metric.Int64Counter
	retries   metric.Int64Histogram
	removed   metric.Int64Counter

	// sets caches the attributes of each combination of engine,
	// operation, outcome and error class, so that recording allocates
	// none: copy on write, as new combinations are rare.
	sets atomic.Pointer[map[setKey]*attrs]
	mu   sync.Mutex // serializes writers of sets
}

type setKey struct {
	engine  string
	op      observe.Op
	outcome observe.Outcome
	errType string
	merged  bool
}

// attrs are the attributes of one setKey, ready for each instrument.
type attrs struct {
	name    string                     // the span's or the event's name
	kvs     []attribute.KeyValue       // span attributes, event attributes
	withKVs trace.SpanStartEventOption // trace.WithAttributes(kvs...)
	errType string                     // error.type, "" when the event did not fail
	record  []metric.RecordOption
	add     []metric.AddOption
	retries []metric.RecordOption // session.engine, session.conflict.merged
	engine  []metric.AddOption    // session.engine
}

// NewObserver returns a [observe.Observer] that records the metrics and
// spans described in the package documentation; set it in
// [sessions.Settings.Observer]. Without options it uses the global
// MeterProvider and TracerProvider (which forward to the providers set
// later with otel.SetMeterProvider and otel.SetTracerProvider). An error
// means an instrument could not be created; the observer returned is then
// nil, which observes nothing.
func NewObserver(opts ...Option) (observe.Observer, error) {
	var c config
	for _, opt := range opts {
		opt(&c)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	meter := c.mp.Meter(ScopeName)
	o := &observer{tracer: c.tp.Tracer(ScopeName)}
	var errs [4]error
	o.duration, errs[0] = meter.Float64Histogram("session.engine.operation.duration",
		metric.WithDescription("Duration of the session engine's operations."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	o.decisions, errs[1] = meter.Int64Counter("session.decisions",
		metric.WithDescription("Decisions the session manager took: key cycles, conflicts, interrupted saves, sessions too large, idle refreshes."),
		metric.WithUnit("{decision}"))
	o.retries, errs[2] = meter.Int64Histogram("session.conflict.retries",
		metric.WithDescription("Compare-and-swap rounds a save that met a concurrent change needed."),
		metric.WithUnit("{retry}"),
		metric.WithExplicitBucketBoundaries(retryBuckets...))
	o.removed, errs[3] = meter.Int64Counter("session.clear_expired.removed",
		metric.WithDescription("Expired sessions removed by clearsessions."),
		metric.WithUnit("{session}"))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	o.sets.Store(&map[setKey]*attrs{})
	return o, nil
}

// isCall tells the engine calls from the decisions.
func isCall(op observe.Op) bool {
	switch op {
	case observe.OpLoad, observe.OpCreate, observe.OpUpdate, observe.OpTouch, observe.OpDelete,
		observe.OpClearExpired, observe.OpList, observe.OpIndex:
		return true
	}
	return false
}

// Observe records e: an engine call as a duration and a span, a decision
// as a count and an event on the request's span.
func (o *observer) Observe(ctx context.Context, e observe.Event) {
	a := o.attrsOf(e)
	if !isCall(e.Op) {
		o.decisions.Add(ctx, 1, a.add...)
		if e.Op == observe.OpConflict {
			o.retries.Record(ctx, int64(e.Retries), a.retries...)
		}
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			if e.Op == observe.OpConflict {
				span.AddEvent(a.name, a.withKVs, trace.WithAttributes(retriesKey.Int(e.Retries)))
			} else {
				span.AddEvent(a.name, a.withKVs)
			}
		}
		return
	}
	o.duration.Record(ctx, e.Duration.Seconds(), a.record...)
	if e.Op == observe.OpClearExpired {
		o.removed.Add(ctx, e.Count, a.engine...)
	}
	end := time.Now()
	_, span := o.tracer.Start(ctx, a.name, trace.WithTimestamp(end.Add(-e.Duration)), internal, a.withKVs)
	if span.IsRecording() {
		if e.Op == observe.OpClearExpired {
			span.SetAttributes(removedKey.Int64(e.Count))
		}
		if e.Outcome == observe.OutcomeError {
			span.SetStatus(codes.Error, a.errType)
		}
	}
	span.End(trace.WithTimestamp(end))
}

// attrsOf returns the cached attributes of e, making them on first use.
func (o *observer) attrsOf(e observe.Event) *attrs {
	k := setKey{engine: e.Engine, op: e.Op, outcome: e.Outcome}
	if e.Err != nil || e.Outcome == observe.OutcomeError {
		k.errType = errorTypeOf(e)
	}
	if e.Op == observe.OpConflict {
		k.merged = e.Merged
	}
	if a, ok := (*o.sets.Load())[k]; ok {
		return a
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	old := *o.sets.Load()
	if a, ok := old[k]; ok {
		return a
	}
	a := newAttrs(k)
	m := maps.Clone(old)
	m[k] = a
	o.sets.Store(&m)
	return a
}

func newAttrs(k setKey) *attrs {
	kvs := []attribute.KeyValue{engineKey.String(k.engine)}
	if isCall(k.op) {
		kvs = append(kvs, operation.String(string(k.op)))
	} else {
		kvs = append(kvs, decisionKey.String(string(k.op)))
	}
	kvs = append(kvs, outcomeKey.String(string(k.outcome)))
	if k.errType != "" {
		kvs = append(kvs, errorType.String(k.errType))
	}
	if k.op == observe.OpConflict {
		kvs = append(kvs, mergedKey.Bool(k.merged))
	}
	set := attribute.NewSet(kvs...)
	engine := attribute.NewSet(engineKey.String(k.engine))
	retries := attribute.NewSet(engineKey.String(k.engine), mergedKey.Bool(k.merged))
	return &attrs{
		name:    "session." + string(k.op),
		kvs:     kvs,
		withKVs: trace.WithAttributes(kvs...),
		errType: k.errType,
		record:  []metric.RecordOption{metric.WithAttributeSet(set)},
		add:     []metric.AddOption{metric.WithAttributeSet(set)},
		retries: []metric.RecordOption{metric.WithAttributeSet(retries)},
		engine:  []metric.AddOption{metric.WithAttributeSet(engine)},
	}
}

// errorClasses name the error classes of [observe.Event.Err].
var errorClasses = []struct {
	err  error
	name string
}{
	{observe.ErrStore, "store"},
	{sessions.ErrNotFound, "not_found"},
	{sessions.ErrExists, "exists"},
	{sessions.ErrInvalidKey, "invalid_key"},
	{sessions.ErrInterrupted, "interrupted"},
	{sessions.ErrConflict, "conflict"},
	{sessions.ErrClosed, "closed"},
	{sessions.ErrUnsupported, "unsupported"},
	{sessions.ErrTooLarge, "too_large"},
	{sessions.ErrBadConfig, "bad_config"},
	{context.Canceled, "canceled"},
	{context.DeadlineExceeded, "deadline_exceeded"},
}

// errorTypeOf returns the error.type of a failed event: the name of its
// class, or _OTHER.
func errorTypeOf(e observe.Event) string {
	if e.Err != nil {
		for _, c := range errorClasses {
			if errors.Is(e.Err, c.err) {
				return c.name
			}
		}
	}
	return "_OTHER"
}
