package filestore

// Reading, locking and writing session files.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/textutil"
)

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
	abort := func(err error) (string, error) {
		f.Close()
		s.root.Remove(name)
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		return abort(err)
	}
	// The time is set before the rename, so the session never shows up
	// with another expiry, even after a crash.
	_, life, absolute := s.lifetimeOf(data)
	if err := s.root.Chtimes(name, time.Time{}, s.mtimeFor(absolute, life, expiry)); err != nil {
		return abort(err)
	}
	if s.sync {
		if err := f.Sync(); err != nil {
			return abort(err)
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

// fail turns a file-system error into one that names the operation and
// the directory but not the whole session key (file names contain it).
func (s *Store) fail(op, key string, err error) error {
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

var (
	errStop       = errors.New("stop")
	errNotRegular = errors.New("not a regular file")
)
