// Package observe is the event model of the session Manager: set an
// [Observer] in sessions.Settings.Observer and it receives an [Event] for
// every engine call and every decision the Manager takes about a session.
// Package github.com/sessionkit/sessions/otel turns the events into
// OpenTelemetry metrics and spans; anything else (a log, a counter, an
// audit trail) is a few lines.
package observe

import (
	"context"
	"errors"
	"time"
)

// Observer receives an [Event] for every engine call the Manager makes and
// for every decision it takes about a session, for metrics and traces.
// Set it in sessions.Settings.Observer.
//
// Observe is called synchronously, on the request's goroutine, after the
// call or decision: it must be fast and safe for concurrent use, and it
// must not keep the Event's Err beyond the call if it wraps request data
// (Manager errors never carry keys, data or secrets). An Event never
// carries a session key or session data. With no Observer set, the
// Manager does no extra work and no allocation.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f.
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// An Event is one engine call or one session decision.
type Event struct {
	// Engine is the engine's name, as in errors ("redis", "sqlite").
	Engine string
	// Op is what happened.
	Op Op
	// Outcome is how it ended.
	Outcome Outcome
	// Duration is how long an engine call took (zero for decisions).
	Duration time.Duration
	// Err is the error class of a failed call: one of package sessions'
	// sentinels (sessions.ErrNotFound, sessions.ErrClosed...),
	// context.Canceled, context.DeadlineExceeded, or [ErrStore] for any
	// other store failure. Nil when the call succeeded.
	Err error
	// Retries is, for OpConflict, how many compare-and-swap rounds the
	// save needed; Merged tells whether it ended stored.
	Retries int
	Merged  bool
	// Count is, for OpClearExpired, how many records were removed.
	Count int64
}

// Op names what an [Event] reports.
type Op string

// The operations. Engine calls: OpLoad, OpCreate, OpUpdate, OpTouch,
// OpDelete, OpClearExpired, OpList, OpIndex. Decisions: OpCycle (a key
// was cycled), OpConflict (a save met a concurrent change and merged it),
// OpInterrupted (a save found its session deleted: the middleware answers
// 400), OpTooLarge (a session over the size limit was refused),
// OpIdleRefresh (a read-only request extended the idle timeout).
const (
	OpLoad         Op = "load"
	OpCreate       Op = "create"
	OpUpdate       Op = "update"
	OpTouch        Op = "touch"
	OpDelete       Op = "delete"
	OpClearExpired Op = "clear_expired"
	OpList         Op = "list"
	OpIndex        Op = "index"
	OpCycle        Op = "cycle"
	OpConflict     Op = "conflict"
	OpInterrupted  Op = "interrupted"
	OpTooLarge     Op = "too_large"
	OpIdleRefresh  Op = "idle_refresh"
)

// Outcome says how an [Event] ended.
type Outcome string

// The outcomes. A load is a hit, a miss (no live record: never stored,
// deleted or expired), expired (a signed cookie past its age), corrupt
// (data that do not decode: tampered or foreign) or an error; other calls
// end ok or in error.
const (
	OutcomeOK      Outcome = "ok"
	OutcomeHit     Outcome = "hit"
	OutcomeMiss    Outcome = "miss"
	OutcomeExpired Outcome = "expired"
	OutcomeCorrupt Outcome = "corrupt"
	OutcomeError   Outcome = "error"
)

// ErrStore is the error class of an [Event] for a store failure that
// matches none of package sessions' sentinels (a connection refused, a
// database error).
var ErrStore = errors.New("session store error")
