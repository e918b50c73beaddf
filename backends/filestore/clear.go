package filestore

// Walking the directory: DeleteExpired (Django's clearsessions) and List.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/sessions"
)

// classify tells what a directory entry is: a session file (its key), a
// temporary file (its key and true), or neither ("").
func (s *Store) classify(name string) (key string, temp bool) {
	rest, ok := strings.CutPrefix(name, s.prefix)
	if !ok {
		return "", false
	}
	if sessions.ValidKey(rest) {
		return rest, false
	}
	if i := strings.Index(rest, tempMarker); i >= sessions.MinKeyLength && sessions.ValidKey(rest[:i]) {
		return rest[:i], true
	}
	return "", false
}

// walk reads the directory in chunks and calls fn for each chunk, so that
// a directory of any size is read in bounded memory.
func (s *Store) walk(ctx context.Context, fn func(ents []fs.DirEntry) error) error {
	d, err := s.root.Open(".")
	if err != nil {
		return fmt.Errorf("filestore: read directory %s: %w", s.dir, unwrapPath(err))
	}
	defer d.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, rerr := d.ReadDir(listBatch)
		if rerr != nil && rerr != io.EOF {
			return fmt.Errorf("filestore: read directory %s: %w", s.dir, unwrapPath(rerr))
		}
		if len(ents) > 0 {
			if err := fn(ents); err != nil {
				return err
			}
		}
		if rerr == io.EOF || len(ents) == 0 {
			return nil
		}
	}
}

// DeleteExpired implements sessions.ExpiredDeleter (Django's
// clearsessions). It reads every session file, as Django's clear_expired
// does, and removes those the expiry rule finds expired (exactly those
// Load refuses); it also removes temporary files older than staleTempAge.
// It reports the number of sessions removed.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	var n int64
	var firstErr error
	note := func(err error) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
	}
	err := s.walk(ctx, func(ents []fs.DirEntry) error {
		now := s.now()
		for _, e := range ents {
			key, temp := s.classify(e.Name())
			if key == "" {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				note(unwrapPath(err))
				continue
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			if temp {
				if s.staleTemp(e.Name(), fi, now) {
					note(unwrapPath(s.root.Remove(e.Name())))
				}
				continue
			}
			// A first read without locks; the file is read again under
			// its lock before it is removed.
			r, err := s.read(e.Name())
			if err != nil {
				if !errors.Is(err, errNotRegular) {
					note(s.fail("delete expired", key, err))
				}
				continue
			}
			if !r.exists || r.expiry.After(now) {
				continue
			}
			removed, err := s.deleteIfExpired(ctx, key, now)
			note(err)
			if removed {
				n++
			}
		}
		return nil
	})
	if n > 0 {
		note(s.syncDir())
	}
	if err == nil {
		note(s.purgeUsers(ctx))
		err = firstErr
	}
	return n, err
}

// deleteIfExpired re-reads a session under its lock and removes it if it
// has expired.
func (s *Store) deleteIfExpired(ctx context.Context, key string, now time.Time) (bool, error) {
	l := s.lockKey(key)
	l.Lock()
	defer l.Unlock()
	name := s.prefix + key
	f, r, err := s.readLocked(ctx, name)
	if err != nil {
		return false, s.fail("delete expired", key, err)
	}
	if f == nil {
		return false, nil
	}
	defer f.Close()
	if r.expiry.After(now) {
		return false, nil
	}
	if err := s.root.Remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, s.fail("delete expired", key, err)
	}
	return true, nil
}

// staleTemp reports whether a temporary file is the leftover of a crash:
// this engine's names carry their creation time (after the marker, up to
// a dot); Django's (mkstemp, never a dot) are judged by modification time.
func (s *Store) staleTemp(name string, fi fs.FileInfo, now time.Time) bool {
	rest := name[strings.Index(name[len(s.prefix):], tempMarker)+len(s.prefix)+len(tempMarker):]
	if ts, _, ok := strings.Cut(rest, "."); ok {
		sec, err := strconv.ParseInt(ts, 36, 64)
		return err == nil && now.Sub(time.Unix(sec, 0)) > staleTempAge
	}
	return now.Sub(fi.ModTime()) > staleTempAge
}

// List implements sessions.Lister: it calls fn with the key of each live
// session file. It reads every session file (to apply the absolute expiry
// its data may carry), in chunks, and calls fn with no lock held.
func (s *Store) List(ctx context.Context, fn func(key string) bool) error {
	var keys []string
	err := s.walk(ctx, func(ents []fs.DirEntry) error {
		keys = keys[:0]
		now := s.now()
		for _, e := range ents {
			key, temp := s.classify(e.Name())
			if key == "" || temp {
				continue
			}
			r, err := s.read(e.Name())
			if errors.Is(err, errNotRegular) {
				continue
			}
			if err != nil {
				return s.fail("list", key, err)
			}
			if r.live(now) {
				keys = append(keys, key)
			}
		}
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !fn(k) {
				return errStop
			}
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}
