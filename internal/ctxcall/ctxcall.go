// Package ctxcall bounds a call to a client library by its context when
// the library does not stop at the context's end by itself: gomemcache
// takes no context, and go-redis stops at a context's deadline but not at
// its cancellation.
package ctxcall

import "context"

// Call runs f with ctx and returns its result, or the context's error as
// soon as ctx ends, whichever comes first.
//
// With a context that can end, f runs in a goroutine of its own, which
// the caller leaves behind when ctx ends: f must end by itself later (by
// the client's own timeouts), and must not hand a later call the reply
// meant for the abandoned one (the client must close a connection whose
// command failed rather than return it to its pool). A command already
// sent may still take effect on the server, as with any network request
// that times out. With a context that never ends (context.Background and
// the like) f runs inline. A panic in f goes on in the caller.
func Call[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	if ctx.Done() == nil { // context.Background and the like never end
		return f(ctx)
	}
	type result struct {
		v      T
		err    error
		panicv any // a panic in f (for example a hook of a client) goes on in the caller
	}
	ch := make(chan result, 1) // buffered: an abandoned f does not block
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panicv = p
			}
			ch <- r
		}()
		r.v, r.err = f(ctx)
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		select {
		case r = <-ch: // finished at the same moment: keep its answer
		default:
			var zero T
			return zero, ctx.Err()
		}
	}
	if r.panicv != nil {
		panic(r.panicv)
	}
	return r.v, r.err
}

// Err is Call for an f that returns only an error.
func Err(ctx context.Context, f func(context.Context) error) error {
	_, err := Call(ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}
