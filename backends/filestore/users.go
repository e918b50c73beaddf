package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/sessionkit/sessions"
)

// UsersDir is the subdirectory of the session directory holding the user
// index (sessions.UserIndexer): one directory per user, named by the
// SHA-256 of the user ID, holding an empty file per session key whose
// modification time is the entry's expiry. Its name starts with a dot, so
// neither this engine nor Django's clearsessions takes it for a session.
const UsersDir = ".sessionkit-users"

func userDir(userID string) string {
	h := sha256.Sum256([]byte(userID))
	return path.Join(UsersDir, hex.EncodeToString(h[:]))
}

func (s *Store) beginUser(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sessions.CheckUserID(userID); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return sessions.ErrClosed
	}
	return nil
}

// AddUserSession implements sessions.UserIndexer.
func (s *Store) AddUserSession(ctx context.Context, userID, key string, expiry time.Time) error {
	if err := sessions.CheckUserID(userID); err != nil {
		return err
	}
	if err := s.begin(ctx, key); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	dir := userDir(userID)
	if err := s.root.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("filestore: bind user: %w", unwrapPath(err))
	}
	name := path.Join(dir, key)
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("filestore: bind user: %w", unwrapPath(err))
	}
	f.Close()
	if err := s.root.Chtimes(name, expiry, expiry); err != nil {
		return fmt.Errorf("filestore: bind user: %w", unwrapPath(err))
	}
	return nil
}

// UserSessions implements sessions.UserIndexer.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]string, error) {
	if err := s.beginUser(ctx, userID); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	keys := []string{}
	now := s.now()
	err := s.eachEntry(userDir(userID), func(name string, fi fs.FileInfo) {
		if sessions.ValidKey(name) && fi.ModTime().After(now) {
			keys = append(keys, name)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("filestore: user sessions: %w", err)
	}
	return keys, nil
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
		ents, err := d.ReadDir(256)
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

// RemoveUser implements sessions.UserIndexer.
func (s *Store) RemoveUser(ctx context.Context, userID string) error {
	if err := s.beginUser(ctx, userID); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.root.RemoveAll(userDir(userID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filestore: remove user: %w", unwrapPath(err))
	}
	return nil
}

// purgeUsers removes expired user-index entries and emptied user
// directories.
func (s *Store) purgeUsers(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return sessions.ErrClosed
	}
	now := s.now()
	var users []string
	d, err := s.root.Open(UsersDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return unwrapPath(err)
	}
	for {
		ents, err := d.ReadDir(256)
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
		dir := path.Join(UsersDir, u)
		live := 0
		s.eachEntry(dir, func(name string, fi fs.FileInfo) {
			if fi.ModTime().After(now) {
				live++
				return
			}
			s.root.Remove(path.Join(dir, name))
		})
		if live == 0 {
			s.root.Remove(dir) // fails harmlessly if an entry was added meanwhile
		}
	}
	return nil
}
