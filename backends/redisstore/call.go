package redisstore

import "context"

// call runs f, which talks to Redis with ctx, and returns its result, or
// the context's error as soon as ctx ends, whichever comes first.
//
// go-redis bounds its socket reads and writes by the context's deadline
// (the clients a Store opens run with ContextTimeoutEnabled), but not by
// its cancellation: a request whose client went away would wait for the
// read timeout (5 s by default). So, with a context that can end, f runs
// in a goroutine of its own, which the caller leaves behind when ctx ends.
// That goroutine ends by the deadline of the context, or for a context
// without one by the client's read timeout, at the latest, and go-redis
// closes a connection whose read or write failed instead of returning it
// to the pool: a later command never reads the reply of an abandoned one.
// A command already sent may still take effect on the server, as with any
// network request that times out.
func call[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	if ctx.Done() == nil { // context.Background and the like never end
		return f(ctx)
	}
	type result struct {
		v      T
		err    error
		panicv any // a panic in f (a hook of a client given to New) goes on in the caller
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

// callErr is call for an f that returns only an error.
func callErr(ctx context.Context, f func(context.Context) error) error {
	_, err := call(ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}
