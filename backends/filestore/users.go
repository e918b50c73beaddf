package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/sessions"
)

// usersDir is the subdirectory of the session directory holding the user
// index (sessions.UserIndexer): one directory per user, named by the
// SHA-256 of the user ID, holding a file per session key whose
// modification time is the entry's expiry and whose content is the
// entry's metadata (empty when it has none, as every entry written before
// metadata existed) (and, while an entry is being
// written, a temporary file "entry_out_<time>.<random>"). A user's
// directory goes when its last entry does. Its name starts with a dot, so
// neither this engine nor Django's clearsessions takes it for a session.
const usersDir = ".sessionkit-users"

func userDir(userID string) string {
	h := sha256.Sum256([]byte(userID))
	return path.Join(usersDir, hex.EncodeToString(h[:]))
}

// AddUserSession implements sessions.UserIndexer. The entry is written
// as a temporary file in the user's directory, given its modification
// time, then renamed into place: it never shows up with a provisional
// time that DeleteExpired would take for expired, and the directory
// cannot be removed under it (by RemoveUserSessions or DeleteExpired of
// another process, once its last entry went) while it is being written.
//
// An empty meta keeps the metadata of the entry in place, and a later
// expiry in place stays (see sessions.UserIndexer): the entry is read
// and its metadata and time written again into the new file, under a
// lock of this Store, so that two saves of a session in this process
// never move its expiry back. Across processes the lock does not hold:
// two writes of one entry racing from two processes are last-wins.
func (s *Store) AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error {
	if err := checkKey(key); err != nil { // it names the entry's file
		return err
	}
	dir := userDir(userID)
	name := path.Join(dir, key)
	l := s.lockKey(name)
	l.Lock()
	defer l.Unlock()
	old, oldExpiry, err := s.readEntry(name)
	if err != nil {
		return fmt.Errorf("filestore: bind user: %w", err)
	}
	if len(meta) == 0 {
		meta = old
	}
	if oldExpiry.After(expiry) {
		expiry = oldExpiry
	}
	for attempt := 1; ; attempt++ {
		// Another process may remove the directory, empty, at any point
		// until the temporary file is in it: MkdirAll then fails with
		// ErrExist (it was there, then gone), creating the file with
		// ErrNotExist. Both mean: try again.
		again := attempt < maxUserDirAttempts && ctx.Err() == nil
		err := s.root.MkdirAll(dir, 0o700)
		if errors.Is(err, fs.ErrExist) && again {
			continue
		}
		if err != nil {
			return fmt.Errorf("filestore: bind user: %w", unwrapPath(err))
		}
		tmp, err := s.userTemp(dir, meta, expiry)
		if errors.Is(err, fs.ErrNotExist) && again {
			continue
		}
		if err != nil {
			return fmt.Errorf("filestore: bind user: %w", unwrapPath(err))
		}
		if err := s.root.Rename(tmp, path.Join(dir, key)); err != nil {
			s.root.Remove(tmp)
			return fmt.Errorf("filestore: bind user: %w", unwrapPath(err))
		}
		return nil
	}
}

// maxUserDirAttempts bounds how often AddUserSession recreates a user's
// directory that keeps being removed under it.
const maxUserDirAttempts = 100

// userTemp creates a temporary file holding meta in the user directory
// dir with modification time expiry and returns its name. Its name is no
// session key (UserSessions ignores it) and carries its creation time, so
// DeleteExpired leaves it alone until it is staleTempAge old.
func (s *Store) userTemp(dir string, meta []byte, expiry time.Time) (string, error) {
	f, name, err := s.createTemp(path.Join(dir, "entry"))
	if err != nil {
		return "", err
	}
	_, werr := f.Write(meta)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		s.root.Remove(name)
		return "", werr
	}
	if err := s.root.Chtimes(name, expiry, expiry); err != nil {
		s.root.Remove(name)
		return "", err
	}
	return name, nil
}

// staleUserTemp reports whether name, in a user directory, is a temporary
// file of AddUserSession left by a crash.
func staleUserTemp(name string, now time.Time) bool {
	_, rest, ok := strings.Cut(name, tempMarker)
	if !ok {
		return false
	}
	ts, _, _ := strings.Cut(rest, ".")
	sec, err := strconv.ParseInt(ts, 36, 64)
	return err == nil && now.Sub(time.Unix(sec, 0)) > staleTempAge
}

// maxEntry bounds the metadata read from an index entry's file (the
// Manager writes at most 512 bytes).
const maxEntry = 4096

// readEntry returns the metadata of the index entry file name (nil for
// none: an empty file, or no file) and its expiry (the file's
// modification time; zero when there is no file).
func (s *Store) readEntry(name string) ([]byte, time.Time, error) {
	f, err := s.root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, unwrapPath(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, unwrapPath(err)
	}
	if fi.Size() == 0 {
		return nil, fi.ModTime(), nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxEntry))
	if err != nil {
		return nil, time.Time{}, unwrapPath(err)
	}
	if len(b) == 0 {
		return nil, fi.ModTime(), nil
	}
	return b, fi.ModTime(), nil
}

// UserSessions implements sessions.UserIndexer.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessions.UserEntry, error) {
	entries := []sessions.UserEntry{}
	now := s.now()
	dir := userDir(userID)
	var rerr error
	err := s.eachEntry(dir, func(name string, fi fs.FileInfo) {
		if rerr != nil || !sessions.ValidKey(name) || !fi.ModTime().After(now) {
			return
		}
		e := sessions.UserEntry{Key: name, Expiry: fi.ModTime()}
		if fi.Size() > 0 {
			meta, _, err := s.readEntry(path.Join(dir, name))
			if err != nil {
				rerr = err
				return
			}
			e.Meta = meta
		}
		entries = append(entries, e)
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: user sessions: %w", err)
	}
	return entries, nil
}

// eachEntry calls fn for each file in dir (relative to the root); a
// missing dir has no entries.
func (s *Store) eachEntry(dir string, fn func(name string, fi fs.FileInfo)) error {
	d, err := s.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return unwrapPath(err)
	}
	defer d.Close()
	for {
		ents, err := d.ReadDir(listBatch)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
				fn(e.Name(), fi)
			}
		}
		if err != nil {
			return nil // io.EOF: done
		}
	}
}

// RemoveUserSessions implements sessions.UserIndexer: it removes the
// files of keys from the user's directory, then the directory if that
// left it empty (rmdir fails harmlessly on an entry added meanwhile).
func (s *Store) RemoveUserSessions(ctx context.Context, userID string, keys []string) error {
	for _, k := range keys {
		if err := checkKey(k); err != nil { // it names an entry's file
			return err
		}
	}
	dir := userDir(userID)
	removed := false
	for _, k := range keys {
		err := s.root.Remove(path.Join(dir, k))
		switch {
		case err == nil:
			removed = true
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("filestore: remove user sessions: %w", unwrapPath(err))
		}
	}
	if removed {
		s.root.Remove(dir) // fails if not empty
	}
	return nil
}

// purgeUsers removes expired user-index entries and emptied user
// directories.
func (s *Store) purgeUsers(ctx context.Context) error {
	now := s.now()
	var users []string
	d, err := s.root.Open(usersDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return unwrapPath(err)
	}
	for {
		ents, err := d.ReadDir(listBatch)
		for _, e := range ents {
			if e.IsDir() {
				users = append(users, e.Name())
			}
		}
		if err != nil {
			break
		}
	}
	d.Close()
	for _, u := range users {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := path.Join(usersDir, u)
		live := 0
		s.eachEntry(dir, func(name string, fi fs.FileInfo) {
			switch {
			case strings.Contains(name, tempMarker):
				// An entry being added: its time is not final yet.
				if staleUserTemp(name, now) {
					s.root.Remove(path.Join(dir, name))
					return
				}
			case !fi.ModTime().After(now):
				s.root.Remove(path.Join(dir, name))
				return
			}
			live++
		})
		if live == 0 {
			s.root.Remove(dir) // fails harmlessly if an entry was added meanwhile
		}
	}
	return nil
}
