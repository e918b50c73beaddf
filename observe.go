package sessions

import (
	"context"
	"errors"
	"time"

	"github.com/sessionkit/sessions/observe"
)

// errorClass returns the class of err for an Event.
func errorClass(err error) error {
	for _, c := range []error{ErrNotFound, ErrExists, ErrInvalidKey, ErrInterrupted, ErrConflict, ErrClosed,
		ErrUnsupported, ErrTooLarge, ErrBadConfig, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, c) {
			return c
		}
	}
	return observe.ErrStore
}

// observer is the Manager's hook: a nil *observer observes nothing.
type observer struct {
	o      observe.Observer
	engine string
}

// start returns the time an observed call starts, or zero when nothing
// observes (no clock read).
func (ob *observer) start() time.Time {
	if ob == nil {
		return time.Time{}
	}
	return time.Now()
}

// call reports an engine call that started at t0 and ended with err.
func (ob *observer) call(ctx context.Context, op observe.Op, t0 time.Time, err error) {
	if ob == nil {
		return
	}
	e := observe.Event{Engine: ob.engine, Op: op, Outcome: observe.OutcomeOK, Duration: time.Since(t0)}
	if err != nil {
		e.Outcome, e.Err = observe.OutcomeError, errorClass(err)
	}
	ob.o.Observe(ctx, e)
}

// event reports a decision or a call with a set outcome.
func (ob *observer) event(ctx context.Context, e observe.Event) {
	if ob == nil {
		return
	}
	e.Engine = ob.engine
	if e.Outcome == "" {
		e.Outcome = observe.OutcomeOK
	}
	ob.o.Observe(ctx, e)
}
