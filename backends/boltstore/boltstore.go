// Package boltstore is a session engine over go.etcd.io/bbolt: every
// session in one local file, with no server. It stores the same encoded
// data as the other engines (Django's signed format by default) and
// implements every optional interface: ExpiredDeleter, Lister, Toucher,
// Swapper and UserIndexer.
//
// # URL
//
//	bolt:///var/lib/myapp/sessions.db    an absolute path (the file is created, mode 0600)
//	bolt:sessions.db                     a path relative to the working directory
//	bbolt:///var/lib/myapp/sessions.db   the same engine
//
// Parameters:
//
//	timeout=1s          how long to wait for the file lock (default 1s, at least 1ms)
//	nosync=true         skip fsync on commit (see Durability; default false)
//	purge_interval=10m  remove expired sessions in the background at this interval (default 0: off)
//	bucket=sessions     the bucket holding the sessions (default "sessions"); its expiry index is <bucket>.expiry
//
// bbolt allows one process at a time to open a file for writing: a second
// process (or a second open in the same process) waits for the lock and
// fails with a clear error, matching bbolt.ErrTimeout, after the timeout
// instead of hanging. To share sessions between several processes, use a
// server-backed engine. Use [New] to keep sessions in a bbolt database
// the application already has open.
//
// # Layout
//
// The bucket "sessions" maps each session key to an 8-byte big-endian
// expiry (Unix nanoseconds) followed by the data. The bucket
// "sessions.expiry" holds one empty entry per session, keyed by the same
// 8-byte expiry followed by the session key, so DeleteExpired walks only
// the expired entries, in order, with a cursor. Every write updates both
// buckets in one transaction.
//
// # Durability
//
// Each Create, Update, Swap, Touch and Delete is one bbolt read-write
// transaction. bbolt writes copy-on-write pages and commits by fsyncing
// the data and then the meta page, so a process crash or a power loss
// leaves every session with either its old or its new value, and a write
// that returned nil survives a power loss. The file needs no repair after
// a crash. A transaction costs two fsyncs; concurrent writers wait for
// each other.
//
// With nosync=true (Options.NoSync) commits are not fsynced: a process
// crash is still harmless (the kernel has the writes), but an operating
// system crash or power loss can lose recent writes or leave a database
// file that bbolt refuses to open. Use it only for sessions you can lose.
//
// # Expiry
//
// Expiry is exact (nanoseconds), clamped to the years 1970 to 2262. An
// expired session is never returned. Expired sessions stay in the file
// until DeleteExpired removes them (Django's clearsessions), which works
// in batches of at most 10,000 sessions per transaction so that writers
// are never held up for long; set purge_interval (Options.PurgeInterval)
// to have the store do it in the background. bbolt never shrinks its
// file: freed pages are reused for new sessions.
//
// # User index
//
// Sessions bound to a user (sessions.Manager.BindUser, for "log out
// everywhere") are indexed in the bucket "<bucket>.users", each entry with
// its metadata (sessions.DeviceSettings; entries written before metadata
// existed have none); DeleteExpired purges its expired entries.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/textutil"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Scheme is the URL scheme of this engine; "bbolt" is an alias.
const Scheme = "bolt"

// defaultBucket is the default bucket name.
const defaultBucket = "sessions"

// defaultTimeout is how long Open waits for the file lock by default.
const defaultTimeout = time.Second

// deleteBatch is the most sessions DeleteExpired removes in one
// transaction.
const deleteBatch = 10000

const (
	indexSuffix = ".expiry"
	headerLen   = 8
	// listBatch is how many keys List reads in one transaction.
	listBatch = 1000
)

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:  Scheme,
		Aliases: []string{"bbolt"},
		Forms: []string{
			"bolt:///var/lib/myapp/sessions.db",
			"bolt:sessions.db",
			"bolt:///var/lib/myapp/sessions.db?purge_interval=10m&timeout=5s",
		},
		Doc: "single local file (go.etcd.io/bbolt), one process at a time; transactional, fsynced writes",
	}, openURL)
}

func openURL(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := pathFromURL(u)
	if err != nil {
		return nil, err
	}
	p := sessions.ParseParams(u)
	o := Options{
		Timeout:       p.Duration("timeout", defaultTimeout, time.Millisecond, time.Hour),
		NoSync:        p.Bool("nosync", false),
		PurgeInterval: p.Duration("purge_interval", 0, 0, 7*24*time.Hour),
		Bucket:        p.String("bucket", defaultBucket),
		Logger:        s.Logger,
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if o.PurgeInterval != 0 && o.PurgeInterval < time.Second {
		return nil, fmt.Errorf("%w: purge_interval must be 0 (off) or at least 1s", sessions.ErrBadConfig)
	}
	return Open(path, &o)
}

func pathFromURL(u *url.URL) (string, error) {
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return "", fmt.Errorf("%w: bolt URL with host %s: write bolt:///absolute/file.db or bolt:relative/file.db", sessions.ErrBadConfig, textutil.Quote(u.Host))
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: a bolt URL takes no user or password", sessions.ErrBadConfig)
	}
	path := u.Path
	if u.Opaque != "" {
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("%w: bolt URL path: %v", sessions.ErrBadConfig, err)
		}
		path = p
	}
	if path == "" || strings.HasSuffix(path, "/") {
		return "", fmt.Errorf("%w: the bolt engine needs a file: bolt:///var/lib/myapp/sessions.db or bolt:sessions.db", sessions.ErrBadConfig)
	}
	return filepath.FromSlash(path), nil
}

// Options configure a Store. The zero value (or nil) gives the defaults.
type Options struct {
	// Bucket names the bucket holding the sessions; the expiry index is
	// Bucket + ".expiry". Default "sessions".
	Bucket string
	// Timeout is how long Open waits for the file lock that another
	// process (or another open) holds; default one second. Open only.
	Timeout time.Duration
	// NoSync skips fsync on commit: faster, but an operating system crash
	// or power loss can lose writes or damage the file. Open only.
	NoSync bool
	// Mode is the permission of a new database file; default 0600. Open
	// only.
	Mode os.FileMode
	// PurgeInterval, when positive, starts a goroutine that removes
	// expired sessions at this interval until Close. Default 0: off (call
	// DeleteExpired yourself, or the Manager's ClearExpired). The URL
	// parameter accepts 1s or more.
	PurgeInterval time.Duration
	// Logger receives the errors of the background purge; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// Store is the bbolt engine. Create it with Open, New or sessions.Open. It
// is safe for concurrent use.
type Store struct {
	db    *bbolt.DB
	owned bool // Close closes db
	data  []byte
	index []byte
	now   func() time.Time
	log   *slog.Logger
	batch int

	stopPurge context.CancelFunc
	purgeDone sync.WaitGroup
}

// Open opens or creates the database file at path and returns a Store
// that closes it on Close. If another process (or another open in this
// process) holds the file, Open fails after o.Timeout with an error
// matching bbolt.ErrTimeout.
func Open(path string, o *Options) (*Store, error) {
	if o == nil {
		o = &Options{}
	}
	if path == "" {
		return nil, fmt.Errorf("%w: boltstore: no database file", sessions.ErrBadConfig)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	mode := o.Mode
	if mode == 0 {
		mode = 0o600
	}
	db, err := bbolt.Open(path, mode, &bbolt.Options{
		Timeout:      timeout,
		NoSync:       o.NoSync,
		FreelistType: bbolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("boltstore: %s is locked by another process, or opened twice in this one; gave up after %s (parameter timeout): %w", path, timeout, err)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s, err := newStore(db, o, true)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New returns a Store over a database the caller opened. Close does not
// close db. The buckets are created if db is writable and they are
// missing. o.Timeout, o.NoSync and o.Mode are ignored.
func New(db *bbolt.DB, o *Options) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: boltstore: nil database", sessions.ErrBadConfig)
	}
	if o == nil {
		o = &Options{}
	}
	return newStore(db, o, false)
}

func newStore(db *bbolt.DB, o *Options, owned bool) (*Store, error) {
	bucket := o.Bucket
	if bucket == "" {
		bucket = defaultBucket
	}
	if len(bucket) > 1000 {
		return nil, fmt.Errorf("%w: boltstore: bucket name too long", sessions.ErrBadConfig)
	}
	s := &Store{
		db:    db,
		owned: owned,
		data:  []byte(bucket),
		index: []byte(bucket + indexSuffix),
		now:   o.Now,
		log:   o.Logger,
		batch: deleteBatch,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if !db.IsReadOnly() {
		err := db.Update(func(tx *bbolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(s.data); err != nil {
				return err
			}
			_, err := tx.CreateBucketIfNotExists(s.index)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("boltstore: create buckets %q: %w", bucket, err)
		}
	}
	if o.PurgeInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopPurge = cancel
		s.purgeDone.Go(func() { s.purgeLoop(ctx, o.PurgeInterval) })
	}
	return s, nil
}

// Name returns the engine's scheme.
func (s *Store) Name() string { return Scheme }

// Describe says where the sessions are kept.
func (s *Store) Describe() string {
	return fmt.Sprintf("bbolt file %s (bucket %s)", s.db.Path(), s.data)
}

// DB returns the underlying database.
func (s *Store) DB() *bbolt.DB { return s.db }

var (
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

// stamp turns a time into the stored 8-byte form.
func stamp(t time.Time) uint64 {
	switch {
	case t.Before(minTime):
		return 0
	case t.After(maxTime):
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

func indexKey(exp uint64, key []byte) []byte {
	k := make([]byte, headerLen+len(key))
	binary.BigEndian.PutUint64(k, exp)
	copy(k[headerLen:], key)
	return k
}

var errCorrupt = errors.New("corrupt session record (shorter than its 8-byte header)")

// record is a stored session as seen inside a transaction; data point
// into the memory map and are valid only during it.
type record struct {
	exists bool
	exp    uint64
	data   []byte
}

func (r record) live(now uint64) bool { return r.exists && r.exp > now }

func get(b *bbolt.Bucket, key []byte) (record, error) {
	if b == nil {
		return record{}, nil
	}
	v := b.Get(key)
	if v == nil {
		return record{}, nil
	}
	if len(v) < headerLen {
		return record{}, errCorrupt
	}
	return record{exists: true, exp: binary.BigEndian.Uint64(v), data: v[headerLen:]}, nil
}

// put stores data under key with its index entry, replacing old.
func put(b, idx *bbolt.Bucket, key []byte, old record, exp uint64, data []byte) error {
	if old.exists && old.exp != exp {
		if err := idx.Delete(indexKey(old.exp, key)); err != nil {
			return err
		}
	}
	v := make([]byte, headerLen+len(data))
	binary.BigEndian.PutUint64(v, exp)
	copy(v[headerLen:], data)
	if err := b.Put(key, v); err != nil {
		return err
	}
	return idx.Put(indexKey(exp, key), []byte{})
}

func (s *Store) fail(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sessions.ErrNotFound), errors.Is(err, sessions.ErrExists), errors.Is(err, sessions.ErrConflict):
		return err
	}
	return fmt.Errorf("boltstore: %s session %s: %w", op, textutil.RedactKey(key), err)
}

// Load implements sessions.Engine.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		r, err := get(tx.Bucket(s.data), []byte(key))
		if err != nil {
			return err
		}
		if !r.live(stamp(s.now())) {
			return sessions.ErrNotFound
		}
		out = bytes.Clone(r.data) // out of the memory map
		return nil
	})
	if err != nil {
		return nil, s.fail("load", key, err)
	}
	return out, nil
}

// update runs fn in a read-write transaction with the key's current
// record.
func (s *Store) update(ctx context.Context, op, key string, fn func(b, idx *bbolt.Bucket, k []byte, r record, now uint64) error) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, idx := tx.Bucket(s.data), tx.Bucket(s.index)
		if b == nil || idx == nil {
			return fmt.Errorf("bucket %q or %q missing", s.data, s.index)
		}
		k := []byte(key)
		r, err := get(b, k)
		if errors.Is(err, errCorrupt) && op == "delete" {
			return b.Delete(k) // its index entry, unknown, goes stale
		}
		if err != nil {
			return err
		}
		return fn(b, idx, k, r, stamp(s.now()))
	})
	return s.fail(op, key, err)
}

// Create implements sessions.Engine. An expired record does not block it.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	return s.update(ctx, "create", key, func(b, idx *bbolt.Bucket, k []byte, r record, now uint64) error {
		if r.live(now) {
			return sessions.ErrExists
		}
		return put(b, idx, k, r, stamp(expiry), data)
	})
}

// Update implements sessions.Engine.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	return s.update(ctx, "update", key, func(b, idx *bbolt.Bucket, k []byte, r record, now uint64) error {
		if !r.live(now) {
			return sessions.ErrNotFound
		}
		return put(b, idx, k, r, stamp(expiry), data)
	})
}

// Swap implements sessions.Swapper.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	return s.update(ctx, "swap", key, func(b, idx *bbolt.Bucket, k []byte, r record, now uint64) error {
		if !r.live(now) {
			return sessions.ErrNotFound
		}
		if !bytes.Equal(r.data, old) {
			return sessions.ErrConflict
		}
		return put(b, idx, k, r, stamp(expiry), data)
	})
}

// Touch implements sessions.Toucher.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	return s.update(ctx, "touch", key, func(b, idx *bbolt.Bucket, k []byte, r record, now uint64) error {
		if !r.live(now) {
			return sessions.ErrNotFound
		}
		// put copies r.data (in the memory map, which a transaction
		// never changes in place) before writing.
		return put(b, idx, k, r, stamp(expiry), r.data)
	})
}

// Delete implements sessions.Engine.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.update(ctx, "delete", key, func(b, idx *bbolt.Bucket, k []byte, r record, now uint64) error {
		if !r.exists {
			return nil
		}
		if err := idx.Delete(indexKey(r.exp, k)); err != nil {
			return err
		}
		return b.Delete(k)
	})
}

// DeleteExpired implements sessions.ExpiredDeleter. It walks the expiry
// index from the oldest entry and stops at the first live one, removing
// at most deleteBatch sessions per transaction.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var removed, seen int
		err := s.db.Update(func(tx *bbolt.Tx) error {
			removed, seen = 0, 0
			b, idx := tx.Bucket(s.data), tx.Bucket(s.index)
			if b == nil || idx == nil {
				return nil
			}
			now := stamp(s.now())
			var dead [][]byte
			c := idx.Cursor()
			for k, _ := c.First(); k != nil && len(dead) < s.batch; k, _ = c.Next() {
				if len(k) >= headerLen && binary.BigEndian.Uint64(k) > now {
					break
				}
				dead = append(dead, bytes.Clone(k))
			}
			seen = len(dead)
			for _, ik := range dead {
				if err := idx.Delete(ik); err != nil {
					return err
				}
				if len(ik) < headerLen {
					continue
				}
				key := ik[headerLen:]
				r, err := get(b, key)
				// Only the record this entry indexes: a stale entry
				// never removes a record with another expiry.
				if err == nil && r.exists && r.exp == binary.BigEndian.Uint64(ik) {
					if err := b.Delete(key); err != nil {
						return err
					}
					removed++
				}
			}
			return nil
		})
		total += int64(removed)
		if err != nil {
			return total, fmt.Errorf("boltstore: delete expired: %w", err)
		}
		if seen < s.batch {
			return total, s.purgeUsers(ctx)
		}
	}
}

// List implements sessions.Lister. It reads the keys in chunks, each in
// its own read transaction, and calls fn outside any transaction, so fn
// may use the store.
func (s *Store) List(ctx context.Context, fn func(key string) bool) error {
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var keys []string
		done := true
		err := s.db.View(func(tx *bbolt.Tx) error {
			b := tx.Bucket(s.data)
			if b == nil {
				return nil
			}
			now := stamp(s.now())
			c := b.Cursor()
			k, v := seekAfter(c, after)
			for ; k != nil; k, v = c.Next() {
				if len(keys) == listBatch {
					done = false
					break
				}
				after = bytes.Clone(k)
				if len(v) >= headerLen && binary.BigEndian.Uint64(v) > now && sessions.ValidKey(string(k)) {
					keys = append(keys, string(k))
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("boltstore: list: %w", err)
		}
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !fn(k) {
				return nil
			}
		}
		if done {
			return nil
		}
	}
}

func (s *Store) purgeLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.DeleteExpired(ctx); err != nil && ctx.Err() == nil {
				s.log.LogAttrs(ctx, slog.LevelWarn, "boltstore: purging expired sessions failed", slog.String("error", err.Error()))
			}
		}
	}
}

// Close implements sessions.Engine. It stops the background purge and, if
// the Store opened the database (Open, sessions.Open), closes it, which
// waits for the transactions in progress. Closing twice returns nil.
func (s *Store) Close() error {
	if s.stopPurge != nil {
		s.stopPurge()
		s.purgeDone.Wait()
	}
	if s.owned {
		return s.db.Close()
	}
	return nil
}
