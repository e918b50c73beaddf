package sessionsotel_test

import (
	"context"
	"log"
	"net/http"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/memstore"
	sessionsotel "github.com/sessionkit/sessions/otel"
)

// Wire the observer into the settings: with no options it records with
// the global MeterProvider and TracerProvider, those the application sets
// with otel.SetMeterProvider and otel.SetTracerProvider. Wrap the
// middleware in an HTTP server instrumentation (otelhttp.NewHandler) so
// that the engine calls' spans are children of the request's span.
func ExampleNewObserver() {
	st := sessions.DefaultSettings()
	st.SecretKey = "change-me"
	obs, err := sessionsotel.NewObserver()
	if err != nil {
		log.Fatal(err)
	}
	st.Observer = obs
	m, err := sessions.Open(context.Background(), "memory:", st)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	mux := http.NewServeMux()
	_ = m.Handler(mux) // http.ListenAndServe(":8000", otelhttp.NewHandler(m.Handler(mux), "app"))
	// Output:
}
