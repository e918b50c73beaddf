// Package sessionsotel turns the events of a [sessions.Manager] into
// OpenTelemetry metrics and spans. It is a module of its own
// (github.com/sessionkit/sessions/otel), so that only the applications
// that use OpenTelemetry depend on it.
//
// The package is named sessionsotel, not otel, so that it can be imported
// beside go.opentelemetry.io/otel without an alias (as go-redis names its
// integration redisotel).
//
// Wiring:
//
//	st := sessions.DefaultSettings()
//	st.Observer, err = sessionsotel.NewObserver() // the global MeterProvider and TracerProvider
//	m, err = sessions.Open(ctx, "redis://127.0.0.1:6379/0", st)
//	http.ListenAndServe(":8000", otelhttp.NewHandler(m.Handler(mux), "app"))
//
// # Metrics
//
// Names follow OpenTelemetry's semantic-convention style (dotted lowercase
// names under the session namespace, UCUM units); the meter is named
// github.com/sessionkit/sessions/otel.
//
//   - session.engine.operation.duration (histogram, s): how long each call
//     to the engine took. Attributes: session.engine, session.operation,
//     session.outcome, and error.type when the call failed. Explicit bucket
//     boundaries from 10 µs to 10 s (see [DurationBuckets]).
//   - session.decisions (counter, {decision}): the decisions the Manager
//     took about a session. Attributes: session.engine, session.decision,
//     session.outcome, error.type when it failed, and
//     session.conflict.merged for a conflict.
//   - session.conflict.retries (histogram, {retry}): for each save that met
//     a concurrent change, how many compare-and-swap rounds it needed
//     (boundaries 1, 2, 3, 4, 8, 16, 32). Attributes: session.engine,
//     session.conflict.merged.
//   - session.clear_expired.removed (counter, {session}): the expired
//     sessions clearsessions removed. Attribute: session.engine.
//
// # Attributes
//
//   - session.engine: the engine's name ("memory", "redis", "sqlite",
//     "postgres", "signed-cookies"...), as in the Manager's errors.
//   - session.operation: the engine call: load, create, update, touch,
//     delete, list, index (the user index of "log out everywhere") or
//     clear_expired.
//   - session.decision: cycle (a key was cycled), conflict (a save met a
//     concurrent change of its session), interrupted (a save found its
//     session deleted by another request: the middleware answers 400),
//     too_large (a session over the size limit was refused), idle_refresh
//     (a read-only request extended the idle timeout).
//   - session.outcome: ok or error; for a load, hit, miss (no live record),
//     expired (a signed cookie past its age), corrupt (data that do not
//     decode: tampered or foreign) or error.
//   - error.type: the class of a failure: not_found, exists, invalid_key,
//     interrupted, conflict, closed, unsupported, too_large, bad_config
//     (the sessions sentinels of the same names), canceled and
//     deadline_exceeded (the request's context), store (any other store
//     failure: a connection refused, a database error), or _OTHER.
//   - session.conflict.merged: true when a save that met a conflict ended
//     stored (the changes merged), false when it gave up.
//
// # Spans
//
// Every engine call becomes a span named session.<operation>
// (session.load, session.update...) of kind internal, a child of the span
// in the request's context (the HTTP server span of otelhttp, say), with
// the metric's attributes; a failed call has status Error with error.type
// as its description; a clear_expired span also carries
// session.clear_expired.removed. The Manager reports a call once it has
// returned, so the span is recorded afterwards with its real start and
// end times: spans that an engine's client library starts itself (a Redis
// or SQL client's instrumentation) are siblings of it, not children.
//
// Decisions become events on the request's span, named
// session.<decision> (session.conflict, session.interrupted...), with the
// attributes of session.decisions, and for a conflict
// session.conflict.retries too.
//
// Neither metrics nor spans ever carry a session key or session data.
package sessionsotel
