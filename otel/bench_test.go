package sessionsotel_test

import (
	"context"
	"github.com/sessionkit/sessions/observe"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	sessionsotel "github.com/sessionkit/sessions/otel"
)

// BenchmarkReadWriteRequest measures a read-write request (load, change,
// compare-and-swap save) through the middleware on the memory engine,
// inside a request span from an SDK TracerProvider (as behind otelhttp):
// "none" without an observer, "noop" with the observer on no-op
// providers (OpenTelemetry wired but not configured), "sdk" with the
// observer on the SDK's providers (metrics aggregated by a ManualReader,
// every span sampled and handed to a batch processor with a no-op
// exporter). The difference between "sdk" and "none" is what observing
// costs a request: two histogram records and two spans.
func BenchmarkReadWriteRequest(b *testing.B) {
	for _, variant := range []string{"none", "noop", "sdk"} {
		b.Run(variant, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() {
				tp.Shutdown(context.Background())
				mp.Shutdown(context.Background())
			})
			st := sessions.DefaultSettings()
			st.SecretKey = "otel-bench-secret-key"
			var err error
			switch variant {
			case "noop":
				st.Observer, err = sessionsotel.NewObserver(
					sessionsotel.WithMeterProvider(noop.NewMeterProvider()),
					sessionsotel.WithTracerProvider(tracenoop.NewTracerProvider()))
			case "sdk":
				st.Observer, err = sessionsotel.NewObserver(sessionsotel.WithMeterProvider(mp), sessionsotel.WithTracerProvider(tp))
			}
			if err != nil {
				b.Fatal(err)
			}
			m, err := sessions.New(memstore.New(nil), st)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			tracer := tp.Tracer("app")
			inner := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessions.FromContext(r.Context())
				n, _ := sessions.Get[int](s, "n")
				s.Set("n", n+1)
			}))
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx, span := tracer.Start(r.Context(), "request", trace.WithSpanKind(trace.SpanKindServer))
				defer span.End()
				inner.ServeHTTP(w, r.WithContext(ctx))
			})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(rec.Result().Cookies()[0])
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// BenchmarkObserve measures one event alone: an engine call (a histogram
// record and a span under the request's) and a decision (a counter and an
// event on the request's span), on no-op providers and on the SDK's.
func BenchmarkObserve(b *testing.B) {
	call := observe.Event{Engine: "memory", Op: observe.OpLoad, Outcome: observe.OutcomeHit, Duration: 20 * time.Microsecond}
	decision := observe.Event{Engine: "memory", Op: observe.OpIdleRefresh, Outcome: observe.OutcomeOK}
	for _, providers := range []string{"noop", "sdk"} {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		opts := []sessionsotel.Option{sessionsotel.WithMeterProvider(mp), sessionsotel.WithTracerProvider(tp)}
		if providers == "noop" {
			opts = []sessionsotel.Option{
				sessionsotel.WithMeterProvider(noop.NewMeterProvider()),
				sessionsotel.WithTracerProvider(tracenoop.NewTracerProvider()),
			}
		}
		obs, err := sessionsotel.NewObserver(opts...)
		if err != nil {
			b.Fatal(err)
		}
		ctx, span := tp.Tracer("app").Start(context.Background(), "request")
		for _, e := range []observe.Event{call, decision} {
			kind := "call"
			if e.Op == observe.OpIdleRefresh {
				kind = "decision"
			}
			b.Run(kind+"/"+providers, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					obs.Observe(ctx, e)
				}
			})
		}
		span.End()
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	}
}
