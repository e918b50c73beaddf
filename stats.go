package sessions

import "context"

// Counts are how many sessions a store holds, as [Manager.Stats] reports
// them. A negative count is one that could not be counted cheaply
// (unknown).
type Counts struct {
	// Sessions is the number of live sessions: the keys List (and so
	// [Manager.Keys]) reports.
	Sessions int64
	// Expired is the number of expired sessions the store still keeps,
	// which [Manager.ClearExpired] (clearsessions) would remove.
	Expired int64
	// Users is the number of users with at least one live entry in the
	// user index ([UserIndexer]); UserEntries is the number of live
	// entries (one per session bound to a user).
	Users, UserEntries int64
}

// unknownCounts knows nothing.
var unknownCounts = Counts{Sessions: -1, Expired: -1, Users: -1, UserEntries: -1}

// Counter is implemented by engines that can count what they store
// without the caller listing every key: one query per table, or one pass
// over the store's own records or index, for tools such as "sessions
// stats". Count reports the counts it can make that way and -1 for the
// others; an engine without a user index reports 0 users. The counts
// agree with the engine's other methods: Sessions with the keys List
// reports, Expired with what DeleteExpired would remove, Users and
// UserEntries with what UserSessions returns. They are a snapshot: a
// session created, deleted or expiring meanwhile may or may not be
// counted.
//
// A count that takes long (one that reads every record) calls progress,
// on the calling goroutine, with the records examined so far (done) out
// of total, or a negative total when the engine does not know it in
// advance. progress is never nil and must not call the engine.
//
// Redis and memcached engines do not implement Counter. Redis can only
// count sessions by walking its key space (SCAN by prefix: bounded, in
// pages, never blocking the server, but a read of every key), which
// [Manager.Stats] does through [Lister] when asked; memcached cannot list
// its keys at all.
type Counter interface {
	Count(ctx context.Context, progress func(done, total int64)) (Counts, error)
}

// Stats counts the sessions the store holds: through the engine's
// [Counter] when it has one (see [Description].Counts), else by listing
// every key ([Lister]), which counts live sessions only and can take
// long: it reads the whole store. progress, if not nil, is called on the
// calling goroutine as the count goes (see [Counter]; while listing, done
// is the number of keys listed and total is -1). Counts that could not be
// made are negative. An engine that can neither count nor list, and a
// client-side engine (which stores nothing), give an error matching
// [ErrUnsupported].
func (m *Manager) Stats(ctx context.Context, progress func(done, total int64)) (Counts, error) {
	if err := m.closedErr("count"); err != nil {
		return unknownCounts, err
	}
	if m.client != nil {
		return unknownCounts, wrap("count", m.name, ErrUnsupported)
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	return m.st.count(ctx, progress)
}

// count is Stats for a server-side engine.
func (st *store) count(ctx context.Context, progress func(done, total int64)) (Counts, error) {
	if err := st.guard(ctx, "count"); err != nil {
		return unknownCounts, err
	}
	if c, ok := st.e.(Counter); ok {
		n, err := c.Count(ctx, progress)
		if err != nil {
			return unknownCounts, st.wrap("count", err)
		}
		return n, nil
	}
	if st.list == nil {
		return unknownCounts, st.wrap("count", ErrUnsupported)
	}
	var live int64
	err := st.keys(ctx, func(string) bool {
		live++
		progress(live, -1)
		return true
	})
	if err != nil {
		return unknownCounts, err
	}
	n := unknownCounts
	n.Sessions = live
	return n, nil
}
