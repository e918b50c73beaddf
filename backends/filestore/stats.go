package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/sessionkit/sessions"
)

// Count implements sessions.Counter. A session file's expiry may be
// written inside its data (Django's _session_expiry), so telling live
// sessions from expired ones means reading every session file, as List
// and DeleteExpired do: Count first reads the directory for the number of
// session files (the total it reports progress against), then reads them
// in chunks, reporting progress after each. Then it counts the user
// index, whose entries' times are their modification times.
// Files that are not session files (other names, temporary files) are
// not counted.
func (s *Store) Count(ctx context.Context, progress func(done, total int64)) (sessions.Counts, error) {
	var n sessions.Counts
	var total int64
	err := s.walk(ctx, func(ents []fs.DirEntry) error {
		for _, e := range ents {
			if key, temp := s.classify(e.Name()); key != "" && !temp {
				total++
			}
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	progress(0, total)
	var done int64
	err = s.walk(ctx, func(ents []fs.DirEntry) error {
		now := s.now()
		for _, e := range ents {
			key, temp := s.classify(e.Name())
			if key == "" || temp {
				continue
			}
			done++
			r, err := s.read(e.Name())
			switch {
			case errors.Is(err, errNotRegular):
				continue
			case err != nil:
				return s.fail("count", key, err)
			case !r.exists: // removed since the directory was read
			case r.live(now):
				n.Sessions++
			default:
				n.Expired++
			}
		}
		if done > total { // files created since the directory was read
			total = done
		}
		progress(done, total)
		return ctx.Err()
	})
	if err != nil {
		return n, err
	}
	if err := s.countUsers(ctx, &n); err != nil {
		return n, fmt.Errorf("filestore: count the user index: %w", err)
	}
	return n, nil
}

// countUsers counts the live entries of the user index, and the users
// that have one.
func (s *Store) countUsers(ctx context.Context, n *sessions.Counts) error {
	d, err := s.root.Open(usersDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return unwrapPath(err)
	}
	defer d.Close()
	now := s.now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, rerr := d.ReadDir(listBatch)
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			var live int64
			err := s.eachEntry(path.Join(usersDir, e.Name()), func(name string, fi fs.FileInfo) {
				if !strings.Contains(name, tempMarker) && sessions.ValidKey(name) && fi.ModTime().After(now) {
					live++
				}
			})
			if err != nil {
				return err
			}
			n.UserEntries += live
			if live > 0 {
				n.Users++
			}
		}
		if rerr == io.EOF || len(ents) == 0 {
			return nil
		}
		if rerr != nil {
			return unwrapPath(rerr)
		}
	}
}
