package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessions"
)

// Defaults of CopyOptions.
const (
	DefaultBatchSize = 1000
	DefaultWorkers   = 8
)

// CopyOptions configure [Copy].
type CopyOptions struct {
	// Settings are the application's: its secret keys (and fallbacks),
	// codec and encryption keys, which give the formats of the two
	// stores. Sessions are converted from the old store's format to the
	// new one's.
	Settings sessions.Settings
	// BatchSize is how many keys are read from the old store's list
	// before they are moved (and progress reported). 0 means
	// DefaultBatchSize.
	BatchSize int
	// Workers is how many sessions of a batch are moved at once. 0 means
	// DefaultWorkers.
	Workers int
	// DryRun reads both stores and reports what would be done, writing
	// nothing.
	DryRun bool
	// KeepSource leaves the old copy of every session moved (by default
	// it is deleted once the new store holds the session). Use it only
	// when the old store is retired right after the copy, with no
	// migrating engine in front of it: a Django site switching
	// SESSION_ENGINE, or a copy to try the new store first. Sessions
	// changed in the old store after the copy keep their copied state in
	// the new one.
	KeepSource bool
	// Progress, when set, is called after the old store's sessions were
	// counted (Summary.Total) and after every batch, from the goroutine
	// that called Copy.
	Progress func(Summary)
	// Logger receives the warnings (a session that cannot be converted);
	// nil means slog.Default().
	Logger *slog.Logger
}

// Summary reports what [Copy] did (or, in a dry run, would do).
type Summary struct {
	// Total is the number of sessions the old store listed before the
	// copy started; it is counted only when CopyOptions.Progress is set.
	Total int64
	// Copied sessions are now in the new store (and, unless KeepSource,
	// no longer in the old one).
	Copied int64
	// SkippedNewer sessions were already in the new store: written there
	// by the application through the migrating engine, or copied before
	// (an earlier, interrupted run). The new store's copy is kept, and
	// the stale old one deleted (unless KeepSource).
	SkippedNewer int64
	// SkippedExpired sessions expired (or were deleted) between the
	// listing and the copy.
	SkippedExpired int64
	// Failed sessions could not be copied and stay in the old store:
	// their data does not decode with the settings' keys or cannot be
	// stored in the new store's format, their key is not a valid session
	// key, or the old store does not tell their expiry.
	Failed int64
}

// Done is the number of sessions handled so far.
func (s Summary) Done() int64 { return s.Copied + s.SkippedNewer + s.SkippedExpired + s.Failed }

// Copy moves every session of the old engine (from) into the new one (to),
// for the quiet part of a migration; see the package documentation for
// the rules, which are those of the migrating engine: it may run while
// the application serves requests through migrate:?from=..&to=.. and
// never brings back a session deleted meanwhile, nor overwrites one the
// new store holds (that session is newer: written through the new store,
// or copied before). The old engine must implement sessions.Lister and
// sessions.ExpiryReader, the new one sessions.Swapper.
//
// Copy is resumable: stopped in the middle (its context cancelled, a
// store failing), it returns the summary so far and the error, and
// running it again moves the rest; the sessions already moved are gone
// from the old store, or (with KeepSource) skipped as newer. Sessions
// that fail are counted, logged without their key, and left in the old
// store; a store error stops the copy.
func Copy(ctx context.Context, from, to sessions.Backend, o *CopyOptions) (Summary, error) {
	var opts CopyOptions
	if o != nil {
		opts = *o
	}
	st, err := newStore(from, to, &Options{Settings: &opts.Settings, Logger: opts.Logger})
	if err != nil {
		return Summary{}, err
	}
	st.keepSource = opts.KeepSource
	if st.srcList == nil {
		return Summary{}, fmt.Errorf("%w: migrate: the old engine cannot list its sessions (sessions.Lister)", sessions.ErrUnsupported)
	}
	if st.srcExp == nil {
		return Summary{}, fmt.Errorf("%w: migrate: the old engine cannot tell the expiry of its sessions (sessions.ExpiryReader), which a copy must keep", sessions.ErrUnsupported)
	}
	c := &copier{st: st, o: opts}
	if c.o.BatchSize <= 0 {
		c.o.BatchSize = DefaultBatchSize
	}
	if c.o.Workers <= 0 {
		c.o.Workers = DefaultWorkers
	}
	defer st.cleanups.Wait()
	return c.run(ctx)
}

type copier struct {
	st *store
	o  CopyOptions

	copied, newer, expired, failed atomic.Int64
	total                          int64
}

func (c *copier) summary() Summary {
	return Summary{Total: c.total, Copied: c.copied.Load(), SkippedNewer: c.newer.Load(), SkippedExpired: c.expired.Load(), Failed: c.failed.Load()}
}

func (c *copier) run(ctx context.Context) (Summary, error) {
	if c.o.Progress != nil {
		err := c.st.srcList.List(ctx, func(string) bool { c.total++; return true })
		if err != nil {
			return c.summary(), fmt.Errorf("migrate: counting the old engine's sessions: %w", err)
		}
		c.o.Progress(c.summary())
	}
	var firstErr error
	batch := make([]string, 0, c.o.BatchSize)
	flush := func() bool {
		if err := c.batch(ctx, batch); err != nil {
			firstErr = err
			return false
		}
		batch = batch[:0]
		if c.o.Progress != nil {
			c.o.Progress(c.summary())
		}
		return true
	}
	// Batches are moved from inside the walk: every Lister lets fn use
	// the store, and a key deleted behind the walk's position does not
	// disturb it.
	err := c.st.srcList.List(ctx, func(k string) bool {
		if !sessions.ValidKey(k) {
			c.failed.Add(1)
			c.st.log.LogAttrs(ctx, slog.LevelWarn, "migrate: the old engine lists a key that is not a valid session key; skipped")
			return true
		}
		batch = append(batch, k)
		if len(batch) < c.o.BatchSize {
			return true
		}
		return flush()
	})
	if firstErr != nil {
		return c.summary(), firstErr
	}
	if err != nil {
		return c.summary(), fmt.Errorf("migrate: listing the old engine's sessions: %w", err)
	}
	if len(batch) > 0 && !flush() {
		return c.summary(), firstErr
	}
	return c.summary(), nil
}

// batch moves keys with the configured number of workers; the first store
// error stops it.
func (c *copier) batch(ctx context.Context, keys []string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(c.o.Workers, len(keys)) {
		wg.Go(func() {
			for k := range work {
				if err := c.one(ctx, k); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// one moves (or, in a dry run, examines) the session under key.
func (c *copier) one(ctx context.Context, key string) error {
	st := c.st
	if c.o.DryRun {
		p, err := st.target(ctx, key, false)
		if err != nil {
			return err
		}
		if p.where == inTarget {
			c.newer.Add(1)
			return nil
		}
		src, exp, err := st.srcExp.LoadExpiry(ctx, key)
		switch {
		case errors.Is(err, sessions.ErrNotFound):
			c.expired.Add(1)
		case err != nil:
			return err
		case exp.IsZero():
			c.fail(ctx, errNoExpiry)
		default:
			if _, err := st.convert(src); err != nil {
				c.fail(ctx, err)
			} else {
				c.copied.Add(1)
			}
		}
		return nil
	}
	r, err := st.move(ctx, key, nil, false, true, func(src []byte, exp time.Time) ([]byte, time.Time, error) {
		if exp.IsZero() {
			return nil, exp, errNoExpiry
		}
		b, err := st.convert(src)
		return b, exp, err
	})
	switch {
	case errors.Is(err, errConvert), errors.Is(err, errNoExpiry):
		c.fail(ctx, err)
		return nil
	case err != nil:
		return err
	}
	switch r.outcome {
	case moved:
		c.copied.Add(1)
	case found:
		// The new store's copy is newer; the old one is stale.
		st.dropSource(ctx, key)
		c.newer.Add(1)
	default:
		c.expired.Add(1)
	}
	return nil
}

func (c *copier) fail(ctx context.Context, err error) {
	c.failed.Add(1)
	c.st.log.LogAttrs(ctx, slog.LevelWarn, "migrate: a session was not copied and stays in the old engine", slog.String("error", err.Error()))
}
