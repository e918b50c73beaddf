// Package migrate moves sessions from one engine to another while the
// application runs, so that changing stores (Django's db engine to Redis,
// the file engine to PostgreSQL, a single Redis to a Cluster) logs nobody
// out.
//
// # URL
//
//	migrate:?from=<old engine URL>&to=<new engine URL>
//
// Both URLs are escaped query values, for example
// migrate:?from=sqlite%3A%2F%2F%2Fvar%2Flib%2Fapp%2Fdb.sqlite3&to=redis%3A%2F%2F127.0.0.1%3A6379%2F0.
// Each is opened with the application's settings, as if it were the
// engine; the migrating engine stores sessions in the format of the new
// one (Django's pickle for Redis and memcached, signed JSON for the
// others) and converts those it finds in the old one.
//
// # What it does
//
//   - Loads read the new store, then the old one. A session found only in
//     the old store is moved: copied into the new store with its expiry
//     (converted to the new store's format), then deleted from the old
//     one. The old engine must implement sessions.ExpiryReader to tell
//     the expiry (sqlstore, redisstore, filestore and memstore do); with
//     an old engine that cannot (memcached, bolt), loads read through
//     without moving, and the first write moves the session.
//   - Writes (Create, Update, Swap, Touch) go to the new store; a write to
//     a session still in the old store moves it first.
//   - Deletes go to the old store, then the new one, so that a logout is
//     never undone by the old copy.
//   - A session the new store's format cannot hold (a value of the old
//     format the new one has no form for, such as an integer longer
//     than Python's json reads in a Django cache session) stays in the
//     old store, with a warning in the log, and is served from there:
//     its user stays logged in, and a save that would have to write it
//     in the new format fails with an error naming the value.
//   - DeleteExpired (clearsessions) runs on both, List lists both.
//   - The user index is the new store's: a moved session that is bound to
//     a user (sessions.BoundUserKey) gets its entry there; UserSessions
//     and RemoveUserSessions also read and clean the old store's index,
//     so DeleteUser ends sessions that are still in the old store.
//
// The new engine must implement sessions.Swapper (every built-in
// server-side engine does). The migrating engine implements Engine,
// Swapper, Toucher, ExpiredDeleter, Codecer and Describer, and Lister,
// UserIndexer and ExpiryReader when the engines allow (see [New]).
//
// [Copy] (the CLI's "sessions migrate") moves every session in bulk, for
// the quiet part of the move; it follows the same rules, so it can run
// while the application serves requests through the migrating engine.
//
// # Guarantees
//
// A session lives in one store at a time: once the new store holds it,
// the old copy is deleted (the copy left there would otherwise come back
// when the new record expires early, is evicted or deleted). While a
// session is being moved, the new store holds a claim under its key: a
// small marker with a random token and a lifetime of a few seconds
// (Options.ClaimTimeout). The copy is installed only by a
// compare-and-swap on the mover's own claim, after the old store was read
// with the claim in place; a delete removes the old copy first and then
// whatever the new store holds, claim included. So:
//
//   - An acknowledged delete (a logout, DeleteUser, CycleKey's old key) is
//     never undone by a move that read the old copy before the delete,
//     whatever the interleaving, and even if the mover dies half-way (its
//     claim expires; it never becomes a session).
//   - An acknowledged write is never overwritten by a move: a move's
//     claim can only replace nothing or another claim.
//   - A moved session keeps its expiry, and is never served after it.
//
// Readers that find another mover's claim read the old store without
// moving; writers replace the claim with their own (the other mover's
// swap then fails, and it reads the new store again).
//
// # Cost per request
//
// For a session the new store holds (every session, once moved): a load
// is one read of the new store, a save (Swap) one compare-and-swap, as
// without the migration. A new session costs a read of the old store
// before the create (the key must be free in both stores), a logout a
// delete in each store, Touch and Update a read and a write of the new
// store. A key neither store holds (an expired or bogus cookie) costs
// three reads: new, old, new again. Moving a session costs, once, a
// claim, a second read of the old store, a compare-and-swap and a delete
// of the old copy. While the old store is down, sessions still in it
// cannot be read, and new sessions cannot be created.
//
// # Deploying
//
// Every process must use the migrating engine before any process uses the
// new engine alone, and no process may keep writing the old engine alone
// meanwhile (during a rolling deploy, its changes to sessions already
// moved would be lost). Then run [Copy] ("sessions migrate"), and once it
// reports nothing left, configure the new engine alone. To go back, run a
// migration the other way (migrate:?from=<new>&to=<old>). A Django
// process cannot take part in a live migration; for a Django site use
// "sessions migrate --keep-source" and switch SESSION_ENGINE right after.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/aead"
)

// Scheme is the URL scheme of the migrating engine.
const Scheme = "migrate"

// DefaultClaimTimeout is the lifetime of the claim that marks a session
// being moved (see Options.ClaimTimeout).
const DefaultClaimTimeout = 10 * time.Second

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:     Scheme,
		Forms:      []string{"migrate:?from=<url-escaped old engine URL>&to=<url-escaped new engine URL>"},
		Doc:        "live migration between engines: reads the new store then the old one (moving what it finds there), writes the new one, deletes from both",
		NoLocation: true,
	}, open)
}

func open(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
	p := sessions.ParseParams(u)
	from := strings.TrimSpace(p.String("from", ""))
	to := strings.TrimSpace(p.String("to", ""))
	if err := p.Err(); err != nil {
		return nil, err
	}
	if from == "" || to == "" {
		return nil, fmt.Errorf("%w: migrate needs the old and the new engine: migrate:?from=<old engine URL>&to=<new engine URL>, each URL-escaped", sessions.ErrBadConfig)
	}
	if from == to {
		return nil, fmt.Errorf("%w: migrate's from and to are the same engine", sessions.ErrBadConfig)
	}
	for _, c := range []string{from, to} {
		if strings.HasPrefix(strings.ToLower(c), Scheme+":") {
			return nil, fmt.Errorf("%w: migrate cannot nest itself", sessions.ErrBadConfig)
		}
	}
	src, err := sessions.OpenEngine(ctx, from, s)
	if err != nil {
		return nil, fmt.Errorf("migrate's old engine (from): %w", err)
	}
	dst, err := sessions.OpenEngine(ctx, to, s)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("migrate's new engine (to): %w", err)
	}
	st, err := newStore(src, dst, &Options{Settings: &s, Logger: s.Logger})
	if err != nil {
		src.Close()
		dst.Close()
		return nil, err
	}
	st.own = true
	return st.engine(), nil
}

// Options configure a migrating engine.
type Options struct {
	// Settings give the formats of the two stores (the secret keys, the
	// codec, the encryption keys) so sessions can be converted from the
	// old store's format to the new one's: those of the Manager that will
	// use the engine. New learns both formats from them; without them,
	// sessions are copied as they are.
	Settings *sessions.Settings
	// Logger receives the warnings (a session that cannot be converted, an
	// old copy that could not be deleted); nil means slog.Default().
	Logger *slog.Logger
	// ClaimTimeout is how long the claim marking a session being moved
	// lives: a mover that takes longer starts again, and the claim of a
	// mover that died keeps other loads from moving the session for that
	// long (they read the old store meanwhile). 0 means
	// DefaultClaimTimeout.
	ClaimTimeout time.Duration
}

// New returns a migrating engine that moves sessions from the engine
// from (the old store) to the engine to (the new store), which must
// implement sessions.Swapper. The result implements sessions.Engine,
// Swapper, Toucher, ExpiredDeleter, Codecer and Describer; Lister when
// both engines do, UserIndexer when the new one does, and ExpiryReader
// when both do. Close does not close engines given to New.
func New(from, to sessions.Engine, o *Options) (sessions.Engine, error) {
	st, err := newStore(from, to, o)
	if err != nil {
		return nil, err
	}
	return st.engine(), nil
}

// store is the migrating engine. engine() exposes it with the optional
// interfaces the two engines allow.
type store struct {
	src, dst sessions.Engine
	dstSw    sessions.Swapper

	srcExp, dstExp     sessions.ExpiryReader
	dstTouch           sessions.Toucher
	srcList, dstList   sessions.Lister
	srcUsers, dstUsers sessions.UserIndexer
	srcPurge, dstPurge sessions.ExpiredDeleter

	formats  *formats // nil: no settings, bytes move as they are
	log      *slog.Logger
	claimTTL time.Duration
	own      bool // Close closes src and dst
	// keepSource leaves the old copy of a moved session in place (Copy
	// with KeepSource: the old store is retired right after).
	keepSource bool
	closed     atomic.Bool
	// cleanups are the deletes of old copies retried in the background;
	// Close waits for them, and none starts after it (cleanMu).
	cleanMu  sync.Mutex
	cleaning bool // false once Close began
	cleanups sync.WaitGroup
}

func newStore(from, to sessions.Backend, o *Options) (*store, error) {
	src, ok1 := from.(sessions.Engine)
	dst, ok2 := to.(sessions.Engine)
	switch {
	case from == nil || to == nil:
		return nil, fmt.Errorf("%w: migrate needs an old and a new engine", sessions.ErrBadConfig)
	case !ok1 || !ok2:
		return nil, fmt.Errorf("%w: migrate moves sessions between server-side engines (signed cookies keep theirs in the browser)", sessions.ErrBadConfig)
	}
	sw, ok := dst.(sessions.Swapper)
	if !ok {
		return nil, fmt.Errorf("%w: migrate's new engine must support compare-and-swap (sessions.Swapper), which %T does not", sessions.ErrBadConfig, dst)
	}
	s := &store{src: src, dst: dst, dstSw: sw, log: slog.Default(), claimTTL: DefaultClaimTimeout, cleaning: true}
	s.srcExp, _ = src.(sessions.ExpiryReader)
	s.dstExp, _ = dst.(sessions.ExpiryReader)
	s.dstTouch, _ = dst.(sessions.Toucher)
	s.srcList, _ = src.(sessions.Lister)
	s.dstList, _ = dst.(sessions.Lister)
	s.srcUsers, _ = src.(sessions.UserIndexer)
	s.dstUsers, _ = dst.(sessions.UserIndexer)
	s.srcPurge, _ = src.(sessions.ExpiredDeleter)
	s.dstPurge, _ = dst.(sessions.ExpiredDeleter)
	if o != nil {
		if o.Logger != nil {
			s.log = o.Logger
		}
		if o.ClaimTimeout > 0 {
			s.claimTTL = o.ClaimTimeout
		}
		if o.Settings != nil {
			s.configure(*o.Settings)
		}
	}
	return s, nil
}

// --- formats -----------------------------------------------------------------

// formats are the codecs of the two stores, as the Manager uses them
// (encrypted when the settings have EncryptionKeys).
type formats struct {
	src, dst codec.Codec
	same     bool // one format: bytes move as they are
}

// configure learns the stores' formats from the settings, once, when the
// store is built.
func (s *store) configure(st sessions.Settings) {
	if st.KeySalt == "" {
		st.KeySalt = codec.DjangoSessionSalt
	}
	if st.MaxDataSize == 0 {
		st.MaxDataSize = 4 << 20
	}
	var src, dst codec.Codec
	if st.Codec != nil {
		src, dst = st.Codec, st.Codec // the settings override both engines' formats
	} else {
		src, dst = engineCodec(s.src, st), engineCodec(s.dst, st)
	}
	f := &formats{src: src, dst: dst, same: reflect.DeepEqual(src, dst)}
	if len(st.EncryptionKeys) > 0 {
		keys := make([][]byte, len(st.EncryptionKeys))
		for i, k := range st.EncryptionKeys {
			keys[i] = []byte(k)
		}
		o := &aead.Options{MaxSize: st.MaxDataSize}
		es, err1 := aead.New(src, o, keys...)
		ed, err2 := aead.New(dst, o, keys...)
		if err1 != nil || err2 != nil {
			// The Manager refuses these settings with its own error.
			return
		}
		f.src, f.dst = es, ed
	}
	s.formats = f
}

// engineCodec is the codec the Manager would use over e.
func engineCodec(e sessions.Engine, st sessions.Settings) codec.Codec {
	if c, ok := e.(sessions.Codecer); ok {
		if cc := c.Codec(st); cc != nil {
			return cc
		}
	}
	return sessions.DefaultCodec(st)
}

// Codec implements sessions.Codecer: the Manager stores sessions in the
// new engine's format, and reads the old engine's too: a session that
// cannot be written in the new format (a value it cannot hold) stays in
// the old store and Load serves it as it is, which the Manager must
// still read rather than take for corrupt (that would log its user out).
// It keeps nothing of st: the store converts with the formats New
// learned from Options.Settings.
func (s *store) Codec(st sessions.Settings) codec.Codec {
	dst := engineCodec(s.dst, st)
	if st.Codec != nil {
		return dst // one format for both engines
	}
	src := engineCodec(s.src, st)
	if reflect.DeepEqual(src, dst) {
		return dst
	}
	return bothFormats{dst: dst, src: src}
}

// bothFormats writes the new engine's format and reads either engine's.
type bothFormats struct{ dst, src codec.Codec }

func (c bothFormats) Encode(d *codec.Dict) ([]byte, error) { return c.dst.Encode(d) }

// Decode reads data in the new format, or else in the old one; when
// neither reads it, the new format's error tells why.
func (c bothFormats) Decode(data []byte) (*codec.Dict, error) {
	d, err := c.dst.Decode(data)
	if err == nil {
		return d, nil
	}
	if d, oerr := c.src.Decode(data); oerr == nil {
		return d, nil
	}
	return nil, err
}

// errConvert marks a session the engine could not convert to the new
// store's format.
var errConvert = errors.New("migrate: the session cannot be converted to the new engine's format")

// convert turns a session stored in the old store's format into the new
// store's. Without known formats, or with one format, the bytes are
// returned as they are.
func (s *store) convert(b []byte) ([]byte, error) {
	f := s.formats
	if f == nil || f.same || len(b) == 0 {
		return b, nil
	}
	d, err := f.src.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: it does not decode in the old engine's format: %w", errConvert, err)
	}
	out, err := f.dst.Encode(d)
	if err != nil {
		s.log.Warn("migrate: a session of the old engine cannot be stored in the new engine's format; it stays in the old engine", slog.String("error", err.Error()))
		return nil, fmt.Errorf("%w: %w", errConvert, err)
	}
	return out, nil
}

// sameSession reports whether old (what a request loaded: the new store's
// format, or the old copy as it is) holds the session stored as src in
// the old store.
func (s *store) sameSession(old, src []byte) bool {
	if string(old) == string(src) {
		return true
	}
	f := s.formats
	if f == nil || f.same {
		return false
	}
	conv, err := s.convert(src)
	if err != nil {
		return false
	}
	if string(conv) == string(old) {
		return true
	}
	// Signed JSON carries a timestamp, and encryption a random nonce: two
	// conversions of one session differ in bytes. Compare the sessions.
	a, err1 := f.dst.Decode(old)
	b, err2 := f.dst.Decode(conv)
	if err1 != nil || err2 != nil {
		return false
	}
	pa, err1 := codec.MarshalPython(a)
	pb, err2 := codec.MarshalPython(b)
	return err1 == nil && err2 == nil && string(pa) == string(pb)
}

// boundUser returns the user a session (in the new store's format) is
// bound to, or "".
func (s *store) boundUser(data []byte) string {
	f := s.formats
	if f == nil || len(data) == 0 {
		return ""
	}
	d, err := f.dst.Decode(data)
	if err != nil {
		return ""
	}
	v, _ := d.Get(sessions.BoundUserKey)
	id, _ := v.(string)
	if len(id) > sessions.MaxUserIDLength {
		return ""
	}
	return id
}

// --- describing --------------------------------------------------------------

// Name implements sessions.Describer.
func (s *store) Name() string { return Scheme }

// Describe implements sessions.Describer: both stores.
func (s *store) Describe() string {
	return "from " + describe(s.src) + " to " + describe(s.dst)
}

func describe(e sessions.Engine) string {
	if d, ok := e.(sessions.Describer); ok {
		if w := d.Describe(); w != "" {
			return d.Name() + " (" + w + ")"
		}
		return d.Name()
	}
	return fmt.Sprintf("%T", e)
}

// Close implements sessions.Engine: it waits for the background deletes
// of old copies, and closes the two engines if it opened them.
func (s *store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cleanMu.Lock()
	s.cleaning = false
	s.cleanMu.Unlock()
	s.cleanups.Wait()
	if !s.own {
		return nil
	}
	return errors.Join(s.src.Close(), s.dst.Close())
}
