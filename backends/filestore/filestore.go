package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

// Scheme is the URL scheme of this engine, and Django's engine name.
const Scheme = "file"

// defaultMaxFileSize is the largest session file read when
// Options.MaxFileSize is zero.
const defaultMaxFileSize = 16 << 20

// staleTempAge is how old a temporary file must be before DeleteExpired
// removes it as the leftover of a crash.
const staleTempAge = time.Hour

const (
	lockStripes = 256
	tempMarker  = "_out_"
	// listBatch is how many directory entries are read at a time.
	listBatch = 512
)

// Options configure a Store. Dir is required; the other fields default to
// Django's settings.
type Options struct {
	// Dir is the session directory (SESSION_FILE_PATH). It must exist.
	Dir string
	// CookieName is SESSION_COOKIE_NAME, the prefix of every session file
	// name; default "sessionid".
	CookieName string
	// CookieAge is SESSION_COOKIE_AGE, in whole seconds (finer parts are
	// dropped, as the Manager drops them); default two weeks. It must be
	// the same as the Manager's and the Django app's.
	CookieAge time.Duration
	// Codec reads the absolute expiry (_session_expiry) that session data
	// may carry; it must be the Manager's codec. Nil means expiry comes
	// from modification times only. The URL opener sets it from the
	// settings.
	Codec codec.Codec
	// AllowSharedDir accepts a directory that group or others can write.
	// Any user with write access to the directory can read the list of
	// sessions, replace them and plant new ones.
	AllowSharedDir bool
	// NoSync skips fsync of files and of the directory: faster, but
	// writes of the last seconds may be lost in an operating system crash
	// or power loss (see the package documentation).
	NoSync bool
	// MaxFileSize is the largest session file read; a larger one is an
	// error matching sessions.ErrTooLarge. Zero means 16 MiB.
	MaxFileSize int64
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// Store is the file engine. Create it with New or through sessions.Open.
// It is safe for concurrent use.
type Store struct {
	root    *os.Root
	dirFile *os.File // the directory, for fsync
	dir     string   // as configured, for messages
	prefix  string
	age     time.Duration
	codec   codec.Codec
	sync    bool
	maxSize int64
	now     func() time.Time

	seed  maphash.Seed
	locks [lockStripes]sync.Mutex

	noLink atomic.Bool // the file system refused hard links once
}

// New opens the session directory o.Dir. It fails if the directory does
// not exist, is not a directory, or (unless o.AllowSharedDir) is writable
// by group or others.
func New(o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: filestore: no directory (Settings.FilePath, SESSION_FILE_PATH); the system temporary directory is never used", sessions.ErrBadConfig)
	}
	name := o.CookieName
	if name == "" {
		name = sessions.DefaultCookieName
	}
	if len(name) > 128 || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("%w: filestore: cookie name %q cannot prefix a file name", sessions.ErrBadConfig, name)
	}
	age := o.CookieAge
	if age == 0 {
		age = sessions.DefaultCookieAge
	}
	age = age.Truncate(time.Second)
	if age < time.Second {
		return nil, fmt.Errorf("%w: filestore: cookie age must be at least one second", sessions.ErrBadConfig)
	}
	s := &Store{
		dir:     o.Dir,
		prefix:  name,
		age:     age,
		codec:   o.Codec,
		sync:    !o.NoSync,
		maxSize: o.MaxFileSize,
		now:     o.Now,
		seed:    maphash.MakeSeed(),
	}
	if s.maxSize <= 0 {
		s.maxSize = defaultMaxFileSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	root, err := os.OpenRoot(o.Dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: filestore: session directory %s (SESSION_FILE_PATH) does not exist; create it with mode 0700: %w", sessions.ErrBadConfig, o.Dir, err)
		}
		return nil, fmt.Errorf("%w: filestore: session directory %s (SESSION_FILE_PATH): %w", sessions.ErrBadConfig, o.Dir, err)
	}
	d, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("filestore: session directory %s: %w", o.Dir, unwrapPath(err))
	}
	fi, err := d.Stat()
	if err != nil {
		d.Close()
		root.Close()
		return nil, fmt.Errorf("filestore: session directory %s: %w", o.Dir, unwrapPath(err))
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 && !o.AllowSharedDir {
		d.Close()
		root.Close()
		return nil, fmt.Errorf("%w: filestore: session directory %s (SESSION_FILE_PATH) has mode %#o: group or others can write to it and could plant or replace sessions; run chmod go-w on it (0700 is best), or set allow_shared_dir=true (Options.AllowSharedDir) to accept it", sessions.ErrBadConfig, o.Dir, perm)
	}
	s.root, s.dirFile = root, d
	return s, nil
}

// Name returns the engine's scheme.
func (s *Store) Name() string { return Scheme }

// Describe says where the sessions are kept.
func (s *Store) Describe() string {
	return fmt.Sprintf("directory %s (one file per session, %s<key>)", s.dir, s.prefix)
}

// Dir returns the session directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the file name of the session under key, or "" for an
// invalid key. The file may not exist.
func (s *Store) Path(key string) string {
	if !sessions.ValidKey(key) {
		return ""
	}
	return filepath.Join(s.dir, s.prefix+key)
}

// checkKey refuses a key that is not a valid session key. The Manager
// never passes one, but a key becomes part of a file name here (a session
// file, an entry of the user index), so the engine checks it again where
// it does: whatever the caller, no key can name a file outside the
// directory, or one of the engine's other files.
func checkKey(key string) error {
	if !sessions.ValidKey(key) {
		return sessions.ErrInvalidKey
	}
	return nil
}

// fileName returns the name of the session file of key, relative to the
// directory: the cookie name followed by the key, as Django names it.
func fileName(prefix, key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return prefix + key, nil
}

func (s *Store) lockKey(key string) *sync.Mutex {
	return &s.locks[maphash.String(s.seed, key)%lockStripes]
}

// Load implements sessions.Engine. It never writes, not even to remove an
// expired file.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	name, err := fileName(s.prefix, key)
	if err != nil {
		return nil, err
	}
	r, err := s.read(name)
	if err != nil {
		return nil, s.fail("load", key, err)
	}
	if !r.live(s.now()) {
		return nil, sessions.ErrNotFound
	}
	return r.data, nil
}

// LoadExpiry implements sessions.ExpiryReader: Load, and the expiry the
// file engine reads from the file (the data's absolute expiry, or the
// file's mtime plus the session's lifetime), so that a session moved to
// another engine (backends/migrate) keeps exactly its lifetime.
func (s *Store) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	name, err := fileName(s.prefix, key)
	if err != nil {
		return nil, time.Time{}, err
	}
	r, err := s.read(name)
	if err != nil {
		return nil, time.Time{}, s.fail("load", key, err)
	}
	if !r.live(s.now()) {
		return nil, time.Time{}, sessions.ErrNotFound
	}
	return r.data, r.expiry, nil
}

// Create implements sessions.Engine. It stores data only if no live
// session file exists under key; an expired one is replaced.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	name, err := fileName(s.prefix, key)
	if err != nil {
		return err
	}
	l := s.lockKey(key)
	l.Lock()
	defer l.Unlock()
	return s.fail("create", key, s.create(ctx, key, name, data, expiry))
}

// create stores data in the new file name for key.
func (s *Store) create(ctx context.Context, key, name string, data []byte, expiry time.Time) error {
	tmp, err := s.writeTemp(key, data, expiry)
	if err != nil {
		return err
	}
	defer func() {
		if tmp != "" {
			s.root.Remove(tmp)
		}
	}()
	for {
		placed, err := s.place(tmp, name)
		if placed || err != nil {
			if placed {
				tmp = ""
			}
			return err
		}
		// A file is in place: refuse a live session, replace an expired
		// one. If it vanished meanwhile, try again.
		f, r, err := s.readLocked(ctx, name)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		defer f.Close()
		if r.live(s.now()) {
			return sessions.ErrExists
		}
		if err := s.root.Rename(tmp, name); err != nil {
			return err
		}
		tmp = ""
		return s.syncDir()
	}
}

// place puts the temporary file tmp in place under name if no file is
// there, and reports whether it did.
func (s *Store) place(tmp, name string) (bool, error) {
	if !s.noLink.Load() {
		// link(2) fails if the name exists: O_EXCL for a whole file.
		err := s.root.Link(tmp, name)
		switch {
		case err == nil:
			// The session is in place; a temporary name that cannot be
			// removed now is cleaned up by DeleteExpired later.
			s.root.Remove(tmp)
			return true, s.syncDir()
		case errors.Is(err, fs.ErrExist):
			return false, nil
		case !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, fs.ErrPermission):
			return false, err
		}
		// No hard links here (FAT, some network file systems): use
		// Django's exclusive placeholder instead.
	}
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case err != nil:
		return false, err
	}
	f.Close()
	if err := s.root.Rename(tmp, name); err != nil {
		s.root.Remove(name)
		return false, err
	}
	s.noLink.Store(true)
	return true, s.syncDir()
}

// Update implements sessions.Engine. It refuses a missing or expired
// session file with an error matching sessions.ErrNotFound.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	name, err := fileName(s.prefix, key)
	if err != nil {
		return err
	}
	l := s.lockKey(key)
	l.Lock()
	defer l.Unlock()
	f, r, err := s.readLocked(ctx, name)
	if err != nil {
		return s.fail("update", key, err)
	}
	if f == nil {
		return sessions.ErrNotFound
	}
	defer f.Close()
	if !r.live(s.now()) {
		return sessions.ErrNotFound
	}
	return s.fail("update", key, s.replace(key, name, data, expiry))
}

// Swap implements sessions.Swapper: it replaces the session file only if
// its content equals old.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	name, err := fileName(s.prefix, key)
	if err != nil {
		return err
	}
	l := s.lockKey(key)
	l.Lock()
	defer l.Unlock()
	f, r, err := s.readLocked(ctx, name)
	if err != nil {
		return s.fail("swap", key, err)
	}
	if f == nil {
		return sessions.ErrNotFound
	}
	defer f.Close()
	if !r.live(s.now()) {
		return sessions.ErrNotFound
	}
	if !bytes.Equal(r.data, old) {
		return sessions.ErrConflict
	}
	return s.fail("swap", key, s.replace(key, name, data, expiry))
}

// Touch implements sessions.Toucher: it only sets the file's modification
// time (see mtimeFor). For data that carry an absolute _session_expiry,
// that date still rules, as in Django, and the mtime becomes the time of
// the call.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	name, err := fileName(s.prefix, key)
	if err != nil {
		return err
	}
	l := s.lockKey(key)
	l.Lock()
	defer l.Unlock()
	f, r, err := s.readLocked(ctx, name)
	if err != nil {
		return s.fail("touch", key, err)
	}
	if f == nil {
		return sessions.ErrNotFound
	}
	defer f.Close()
	if !r.live(s.now()) {
		return sessions.ErrNotFound
	}
	if err := s.root.Chtimes(name, time.Time{}, s.mtimeFor(r.absolute, r.life, expiry)); err != nil {
		return s.fail("touch", key, err)
	}
	if s.sync {
		return s.fail("touch", key, f.Sync())
	}
	return nil
}

// Delete implements sessions.Engine.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, err := fileName(s.prefix, key)
	if err != nil {
		return err
	}
	l := s.lockKey(key)
	l.Lock()
	defer l.Unlock()
	f, err := s.lockFile(ctx, name)
	if err != nil {
		return s.fail("delete", key, err)
	}
	if f == nil {
		return nil
	}
	defer f.Close()
	err = s.root.Remove(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return s.fail("delete", key, err)
	}
	return s.fail("delete", key, s.syncDir())
}

// Close implements sessions.Engine: it closes the session directory.
func (s *Store) Close() error {
	return errors.Join(s.dirFile.Close(), s.root.Close())
}
