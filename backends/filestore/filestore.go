// Package filestore is Django's file session engine: one file per session
// in a directory, named and filled exactly as Django's
// django.contrib.sessions.backends.file names and fills them, so a Django
// app and a Go service can share the directory (with the same SECRET_KEY
// and SESSION_COOKIE_AGE).
//
// Each session is the file <dir>/<cookie name><key>, for example
// /var/lib/myapp/sessions/sessionidabcdefghijklmnopqrstuvwxyz012345,
// holding the encoded session data as given (Django's signed string, no
// newline). An empty file, which Django creates as a placeholder, is a
// session with empty data. The engine implements every optional interface:
// ExpiredDeleter, Lister, Toucher and Swapper.
//
// # URL
//
//	file:///var/lib/myapp/sessions     an absolute directory
//	file:relative/dir                  a directory relative to the working directory
//	file                               Django's name: the directory is Settings.FilePath (SESSION_FILE_PATH)
//
// Parameters:
//
//	allow_shared_dir=true   accept a directory writable by group or others (refused by default)
//	sync=false              skip fsync (see Durability; default true)
//
// The directory must exist and must not be writable by group or others: a
// user who can write there can plant or replace sessions. Unlike Django,
// the engine never falls back to the system's temporary directory.
//
// # Durability
//
// Every write goes to a temporary file in the same directory (named
// <cookie name><key>_out_<time>.<random>, which Django and this engine
// never take for a session), is fsynced, then renamed over the session
// file, and the directory is fsynced. A process crash or a power loss
// therefore leaves either the old or the new content of a session, never
// a torn or empty file, and a write that returned nil survives a power
// loss. Create links the new file into place, which fails if a file is
// already there, so two processes cannot both create the same key (on a
// file system without hard links it falls back to Django's method, an
// exclusive empty placeholder that is then replaced). Temporary files left
// by a crash are removed by DeleteExpired once they are an hour old.
//
// With sync=false the fsyncs are skipped: a process crash still leaves old
// or new content (the kernel has the data), but an operating system crash
// or power loss may lose the writes of the last seconds and, on some file
// systems, leave empty session files (read as empty sessions).
//
// Update, Swap, Touch and Delete lock the session file (flock(2), after
// an in-process lock) while they check and change it, and make sure the
// file they locked is still the one in place. So Swap never loses an
// update and Update never brings back a session that Delete removed, even
// between several processes sharing the directory. Django's own engine
// takes no locks: against a Django process writing the same session only
// the atomicity of each write holds, as between two Django processes. On
// platforms without flock (Windows, Solaris) the lock holds within one
// process only.
//
// # Expiry
//
// One rule decides when a session file expires, whoever wrote it (Go or
// Django): Django's, from backends/file.py. An absolute (ISO-8601)
// _session_expiry in the data is the expiry; a negative one means
// expired; otherwise the expiry is the file's modification time plus the
// data's lifetime: SESSION_COOKIE_AGE when the data carry no
// _session_expiry (or 0, as set_expiry(0) writes). The one difference is
// a positive relative _session_expiry (Django's set_expiry(seconds), Go's
// SetExpiry): Django's file engine reads it as an age that never runs
// down, so it never expires such a session (neither does its
// clearsessions), which would leave a stolen cookie of a 5-minute session
// valid for ever; Go expires it that many seconds after the
// modification time, as Django's database and cache engines do. Both
// sides must use the same cookie age.
//
// Writes set the modification time to the save time, as Django does,
// whenever the expiry the Manager passes is the one the data imply (the
// save time plus their lifetime). When it is sooner (an idle timeout,
// sessions.Settings.IdleTimeout), the modification time is moved back so
// that the rule yields exactly that expiry, for Go and, for data without
// a custom expiry, for Django. Data with an absolute expiry are the
// exception: the rule reads no modification time for them, so their date
// rules on both sides and an idle timeout does not shorten them.
//
// An expired session is never returned; it is not removed on read (Load
// never writes) but by DeleteExpired, Django's clearsessions, which reads
// every session file (in chunks, so it clears a directory of any size in
// bounded memory) and removes exactly those Load refuses. Files whose
// names are not <cookie name><valid key> are never touched, apart from
// this engine's and Django's stale temporary files.
//
// Modification times are clamped to the years 1970 to 2200, and are only
// as precise as the file system (nanoseconds on ext4, XFS, Btrfs and
// tmpfs).
//
// # User index
//
// Sessions bound to a user (sessions.Manager.BindUser, for "log out
// everywhere") are indexed under the subdirectory .sessionkit-users (see
// UsersDir); DeleteExpired purges its expired entries.
package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/sessionkit/sessions/internal/expiry"
	"github.com/sessionkit/sessions/internal/textutil"
	"hash/maphash"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

// Scheme is the URL scheme of this engine, and Django's engine name.
const Scheme = "file"

// DefaultMaxFileSize is the largest session file read when
// Options.MaxFileSize is zero.
const DefaultMaxFileSize = 16 << 20

// StaleTempAge is how old a temporary file must be before DeleteExpired
// removes it as the leftover of a crash.
const StaleTempAge = time.Hour

const (
	lockStripes = 256
	dirChunk    = 512
	tempMarker  = "_out_"
)

// Bounds of the modification times the engine writes.
var (
	minMtime = time.Unix(1, 0)
	maxMtime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme: Scheme,
		Forms: []string{
			"file:///var/lib/myapp/sessions",
			"file:relative/dir",
			"file:///var/lib/myapp/sessions?sync=false",
			"file", // Django's name: the directory is Settings.FilePath
		},
		Doc: "one file per session in a private directory, as Django's file engine; atomic, fsynced writes",
	}, openURL)
}

func openURL(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, err := dirFromURL(u)
	if err != nil {
		return nil, err
	}
	p := sessions.ParseParams(u)
	o := Options{
		Dir:            dir,
		CookieName:     s.CookieName,
		CookieAge:      s.CookieAge,
		Codec:          s.Codec,
		AllowSharedDir: p.Bool("allow_shared_dir", false),
		NoSync:         !p.Bool("sync", true),
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if o.Codec == nil {
		o.Codec = sessions.DefaultCodec(s)
	}
	maxData := s.MaxDataSize
	if maxData == 0 {
		maxData = 4 << 20
	}
	if m := int64(maxData)*2 + 4096; m > DefaultMaxFileSize {
		o.MaxFileSize = m
	}
	return New(o)
}

// dirFromURL returns the directory a file: URL names.
func dirFromURL(u *url.URL) (string, error) {
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return "", fmt.Errorf("%w: file URL with host %s: write file:///absolute/dir or file:relative/dir", sessions.ErrBadConfig, textutil.Quote(u.Host))
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: a file URL takes no user or password", sessions.ErrBadConfig)
	}
	dir := u.Path
	if u.Opaque != "" {
		d, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("%w: file URL path: %v", sessions.ErrBadConfig, err)
		}
		dir = d
	}
	if dir == "" {
		return "", fmt.Errorf("%w: the file engine needs a directory: file:///var/lib/myapp/sessions, file:relative/dir, or the \"file\" name with Settings.FilePath (SESSION_FILE_PATH)", sessions.ErrBadConfig)
	}
	return filepath.FromSlash(dir), nil
}

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
	// error matching sessions.ErrTooLarge. Zero means DefaultMaxFileSize.
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
		s.maxSize = DefaultMaxFileSize
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

// record is a session file as read.
type record struct {
	exists bool
	data   []byte
	expiry time.Time
	// absolute and life are how the data's expiry counts (see lifetimeOf).
	absolute bool
	life     time.Duration
}

func (r record) live(now time.Time) bool { return r.exists && r.expiry.After(now) }

// read reads the file name. A missing file is a record with exists false.
func (s *Store) read(name string) (record, error) {
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return record{}, nil
		}
		return record{}, err
	}
	defer f.Close()
	return s.readFile(f)
}

// readFile reads an open session file.
func (s *Store) readFile(f *os.File) (record, error) {
	fi, err := f.Stat()
	if err != nil {
		return record{}, err
	}
	if !fi.Mode().IsRegular() {
		return record{}, fmt.Errorf("%w (%s)", errNotRegular, fi.Mode().Type())
	}
	if fi.Size() > s.maxSize {
		return record{}, fmt.Errorf("%w: session file of %d bytes, limit %d", sessions.ErrTooLarge, fi.Size(), s.maxSize)
	}
	// Files are replaced whole, never written in place, so the size is
	// known; a file that is longer anyway is read to the end.
	data := make([]byte, fi.Size())
	n, err := io.ReadFull(f, data)
	switch {
	case err == io.ErrUnexpectedEOF:
		data = data[:n]
	case err != nil:
		return record{}, err
	default:
		var one [1]byte
		if m, _ := f.Read(one[:]); m > 0 {
			rest, err := io.ReadAll(io.LimitReader(f, s.maxSize-int64(n)))
			if err != nil {
				return record{}, err
			}
			data = append(append(data, one[0]), rest...)
		}
	}
	if int64(len(data)) > s.maxSize {
		return record{}, fmt.Errorf("%w: session file over %d bytes", sessions.ErrTooLarge, s.maxSize)
	}
	r := record{exists: true, data: data}
	var abs time.Time
	abs, r.life, r.absolute = s.lifetimeOf(data)
	r.expiry = expiryFrom(abs, r.life, r.absolute, fi.ModTime())
	return r, nil
}

// lockFile opens the session file name and locks it against the writers
// of other processes (flock), making sure that the file locked is still
// the one under name: a writer that replaced or removed it meanwhile
// makes it look again. It returns nil for a missing file. Callers hold
// the key's lock and close the file to unlock it.
func (s *Store) lockFile(ctx context.Context, name string) (*os.File, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		delay := 20 * time.Microsecond
		ok, err := tryLock(f)
		for !ok && err == nil {
			if err = ctx.Err(); err != nil {
				break
			}
			time.Sleep(delay)
			delay = min(2*delay, 5*time.Millisecond)
			ok, err = tryLock(f)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		held, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		cur, err := s.root.Stat(name)
		if err == nil && os.SameFile(held, cur) {
			return f, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
}

// readLocked locks and reads the session file name. The returned file,
// when not nil, holds the lock until closed.
func (s *Store) readLocked(ctx context.Context, name string) (*os.File, record, error) {
	f, err := s.lockFile(ctx, name)
	if err != nil || f == nil {
		return nil, record{}, err
	}
	r, err := s.readFile(f)
	if err != nil {
		f.Close()
		return nil, record{}, err
	}
	return f, r, nil
}

// lifetimeOf tells how the expiry of a file holding data counts: an
// absolute _session_expiry (absolute true), or else a lifetime from the
// file's mtime: the relative _session_expiry in seconds, or the cookie
// age when there is none (or it is 0, or the data are empty or cannot be
// decoded, which Django reads as an empty session).
func (s *Store) lifetimeOf(data []byte) (abs time.Time, life time.Duration, absolute bool) {
	if s.codec == nil || len(data) == 0 {
		return time.Time{}, s.age, false
	}
	return expiry.OfData(s.codec, data, s.age)
}

// expiryFrom is the one expiry rule, for every file whoever wrote it (see
// Expiry in the package documentation): the absolute date; expired for a
// negative relative expiry, whatever the mtime (Django's expiry age is
// then negative); else mtime + the lifetime.
func expiryFrom(abs time.Time, life time.Duration, absolute bool, mtime time.Time) time.Time {
	switch {
	case absolute:
		return abs
	case life < 0:
		return time.Time{}
	}
	return mtime.Add(life)
}

// mtimeFor returns the modification time for a file whose data count
// their expiry as absolute and life say (lifetimeOf), when the session
// should expire at expiry: expiry minus the lifetime, which is the save
// time whenever expiry is what the data imply (the Manager computes it as
// the save time plus the same lifetime), and earlier when expiry is
// sooner (an idle timeout), so that the rule yields exactly expiry. For
// an absolute expiry, which no mtime can move, and for a negative
// lifetime, it is the save time.
func (s *Store) mtimeFor(absolute bool, life time.Duration, expiry time.Time) time.Time {
	m := expiry.Add(-life)
	if absolute || life < 0 {
		m = s.now()
	}
	if m.Before(minMtime) {
		return minMtime
	}
	if m.After(maxMtime) {
		return maxMtime
	}
	return m
}

// writeTemp writes data to a new temporary file whose modification time
// makes the rule yield expiry (see mtimeFor), fsyncs it and returns its
// name.
func (s *Store) writeTemp(key string, data []byte, expiry time.Time) (string, error) {
	base := s.prefix + key + tempMarker + strconv.FormatInt(s.now().Unix(), 36) + "."
	var (
		f    *os.File
		name string
		err  error
	)
	for range 100 {
		name = base + strconv.FormatUint(rand.Uint64(), 36)
		f, err = s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		f.Close()
		s.root.Remove(name)
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	// The time is set before the rename, so the session never shows up
	// with another expiry, even after a crash.
	_, life, absolute := s.lifetimeOf(data)
	if err := s.root.Chtimes(name, time.Time{}, s.mtimeFor(absolute, life, expiry)); err != nil {
		return fail(err)
	}
	if s.sync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		s.root.Remove(name)
		return "", err
	}
	return name, nil
}

// replace writes data over the session file name. Callers hold the key's
// lock.
func (s *Store) replace(key, name string, data []byte, expiry time.Time) error {
	tmp, err := s.writeTemp(key, data, expiry)
	if err != nil {
		return err
	}
	if err := s.root.Rename(tmp, name); err != nil {
		s.root.Remove(tmp)
		return err
	}
	return s.syncDir()
}

func (s *Store) syncDir() error {
	if !s.sync {
		return nil
	}
	return s.dirFile.Sync()
}

// ioErr turns a file-system error into one that names the operation and
// the directory but not the whole session key (file names contain it).
func (s *Store) ioErr(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sessions.ErrExists), errors.Is(err, sessions.ErrNotFound), errors.Is(err, sessions.ErrConflict):
		return err
	}
	return fmt.Errorf("filestore: %s session %s in %s: %w", op, textutil.RedactKey(key), s.dir, unwrapPath(err))
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
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
		return nil, s.ioErr("load", key, err)
	}
	if !r.live(s.now()) {
		return nil, sessions.ErrNotFound
	}
	return r.data, nil
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
	return s.ioErr("create", key, s.create(ctx, key, name, data, expiry))
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
		return s.ioErr("update", key, err)
	}
	if f == nil {
		return sessions.ErrNotFound
	}
	defer f.Close()
	if !r.live(s.now()) {
		return sessions.ErrNotFound
	}
	return s.ioErr("update", key, s.replace(key, name, data, expiry))
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
		return s.ioErr("swap", key, err)
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
	return s.ioErr("swap", key, s.replace(key, name, data, expiry))
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
		return s.ioErr("touch", key, err)
	}
	if f == nil {
		return sessions.ErrNotFound
	}
	defer f.Close()
	if !r.live(s.now()) {
		return sessions.ErrNotFound
	}
	if err := s.root.Chtimes(name, time.Time{}, s.mtimeFor(r.absolute, r.life, expiry)); err != nil {
		return s.ioErr("touch", key, err)
	}
	if s.sync {
		return s.ioErr("touch", key, f.Sync())
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
		return s.ioErr("delete", key, err)
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
		return s.ioErr("delete", key, err)
	}
	return s.ioErr("delete", key, s.syncDir())
}

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
		ents, rerr := d.ReadDir(dirChunk)
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

var (
	errStop       = errors.New("stop")
	errNotRegular = errors.New("not a regular file")
)

// DeleteExpired implements sessions.ExpiredDeleter (Django's
// clearsessions). It reads every session file, as Django's clear_expired
// does, and removes those the expiry rule finds expired (exactly those
// Load refuses); it also removes temporary files older than StaleTempAge.
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
					note(s.ioErr("delete expired", key, err))
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
		return false, s.ioErr("delete expired", key, err)
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
		return false, s.ioErr("delete expired", key, err)
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
		return err == nil && now.Sub(time.Unix(sec, 0)) > StaleTempAge
	}
	return now.Sub(fi.ModTime()) > StaleTempAge
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
				return s.ioErr("list", key, err)
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

// Close implements sessions.Engine: it closes the session directory.
func (s *Store) Close() error {
	return errors.Join(s.dirFile.Close(), s.root.Close())
}
