package sessions

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/sessionkit/sessions/observe"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/aead"
	"github.com/sessionkit/sessions/signing"
)

// Manager ties an engine, a codec and the settings together and owns every
// rule that must behave the same on every engine: key generation, encoding,
// expiry, cycle_key, the middleware and error wrapping. Create one per
// application with [New] or [Open]; it is safe for concurrent use.
//
// A Manager keeps sessions either on the server, through an [Engine]
// (every call goes through one guard, see store.go), or in the cookie,
// through a [ClientSide] engine; the two are the two branches of load and
// save.
type Manager struct {
	s      Settings
	st     *store     // server-side engines
	client ClientSide // client-side engines
	codec  codec.Codec
	name   string
	where  string
	log    *slog.Logger
	clock  func() time.Time
	closed atomic.Bool
	ob     *observer // nil: nothing observes
	cookie cookieParts

	// touched remembers when this process last extended the idle
	// timeout of a session, so read-only requests touch the store at most
	// once per IdleRefresh; seen, when it last recorded a session's "last
	// seen" (DeviceSettings), at most once per DeviceSettings.Refresh.
	touched, seen recent
}

// recent remembers when this process last did something to a session.
type recent struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// maxTouched bounds a recent's memory; past it the map starts over (the
// cost is one extra refresh per active session).
const maxTouched = 100_000

// note records that key was refreshed at now.
func (r *recent) note(key string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) >= maxTouched {
		r.m = make(map[string]time.Time)
	}
	r.m[key] = now
}

// due reports whether key was not refreshed in the last every.
func (r *recent) due(key string, now time.Time, every time.Duration) bool {
	r.mu.Lock()
	last, ok := r.m[key]
	r.mu.Unlock()
	return !ok || now.Sub(last) >= every
}

// maxCookieValue bounds the cookie value a client-side engine will try to
// open: browsers send at most about 4 KB per cookie.
const maxCookieValue = 8192

// New returns a Manager over a backend: an [Engine] or a [ClientSide]
// engine. It validates the settings (see [Settings]); the error names what
// is wrong without printing secrets. The Manager takes ownership of the
// backend: Manager.Close closes it.
func New(b Backend, s Settings) (*Manager, error) {
	m := &Manager{s: s, clock: time.Now}
	switch e := b.(type) {
	case nil:
		return nil, fmt.Errorf("%w: nil engine", ErrBadConfig)
	case ClientSide:
		m.client = e
	case Engine:
		m.st = newStore(e, "")
	default:
		return nil, fmt.Errorf("%w: %T is neither a sessions.Engine nor a sessions.ClientSide", ErrBadConfig, b)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	m.name, m.where = describe(b)
	if s.Observer != nil {
		m.ob = &observer{o: s.Observer, engine: m.name}
	}
	if m.st != nil {
		m.st.name, m.st.ob = m.name, m.ob
	}
	if s.Clock != nil {
		m.clock = s.Clock
	}
	m.cookie = newCookieParts(s)
	m.s.CookieAge = s.CookieAge.Truncate(time.Second)
	if m.s.KeySalt == "" {
		m.s.KeySalt = codec.DjangoSessionSalt
	}
	if m.s.MaxDataSize == 0 {
		m.s.MaxDataSize = 4 << 20
	}
	if m.s.IdleTimeout > 0 && m.s.IdleRefresh == 0 {
		m.s.IdleRefresh = max(m.s.IdleTimeout/10, time.Second)
	}
	m.log = s.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	c, err := m.chooseCodec(b)
	if err != nil {
		return nil, err
	}
	m.codec = c
	return m, nil
}

// chooseCodec returns the codec of m: Settings.Codec, else the engine's
// own (Codecer), else Django's signed JSON; encrypted when
// EncryptionKeys are set.
func (m *Manager) chooseCodec(b Backend) (codec.Codec, error) {
	var c codec.Codec
	switch {
	case m.s.Codec != nil:
		c = m.s.Codec
	default:
		if cr, ok := b.(Codecer); ok {
			c = cr.Codec(m.s)
		}
	}
	if c == nil {
		c = DefaultCodec(m.s)
	}
	if len(m.s.EncryptionKeys) == 0 {
		return c, nil
	}
	keys := make([][]byte, len(m.s.EncryptionKeys))
	for i, k := range m.s.EncryptionKeys {
		keys[i] = []byte(k)
	}
	enc, err := aead.New(c, &aead.Options{MaxSize: m.s.MaxDataSize}, keys...)
	if err != nil {
		return nil, fmt.Errorf("%w: EncryptionKeys: %w", ErrBadConfig, err)
	}
	return enc, nil
}

// DefaultCodec returns the codec of Django's db, file and cached_db
// engines, with the keys and limits of s: signing.dumps(session, salt=
// KeySalt (default "django.contrib.sessions.SessionStore")), compressed
// only above Settings.CompressAbove (Django compresses whenever it saves
// two bytes; it reads both forms).
func DefaultCodec(s Settings) codec.Codec {
	salt := s.KeySalt
	if salt == "" {
		salt = codec.DjangoSessionSalt
	}
	size := s.MaxDataSize
	if size == 0 {
		size = 4 << 20
	}
	c := codec.Signed{Key: s.SecretKey, Fallbacks: s.SecretKeyFallbacks, Salt: salt, MaxSize: size}
	if s.CompressAbove > 0 {
		c.Compression = codec.Compression{Above: s.CompressAbove, MinSaving: 0.25}
	}
	return c
}

// describe returns the engine's name (its scheme, or its Go type) and
// where it keeps its data.
func describe(b Backend) (name, where string) {
	if d, ok := b.(Describer); ok {
		return d.Name(), d.Describe()
	}
	return fmt.Sprintf("%T", b), ""
}

func (m *Manager) now() time.Time { return m.clock() }

// Settings returns a copy of the Manager's settings.
func (m *Manager) Settings() Settings { return m.s }

// Codec returns the codec in use.
func (m *Manager) Codec() codec.Codec { return m.codec }

// Backend returns the engine the Manager keeps sessions with, for tools
// that test it (conformance.Check). Everything else goes through the
// Manager.
func (m *Manager) Backend() Backend {
	if m.client != nil {
		return m.client
	}
	return m.st.e
}

// Description says what a Manager keeps sessions with.
type Description struct {
	Name       string // the engine's scheme, as errors name it: "redis", "sqlite"
	Where      string // where it keeps the data, without credentials; "" if it does not say
	ClientSide bool   // the sessions live in the cookie (signed cookies)
	Codec      string // the stored format: the codec's Go type
	Lists      bool   // Keys works (the engine implements Lister)
	Users      bool   // BindUser and DeleteUser work (UserIndexer)
	Expiry     bool   // Inspect reports the stored expiry (ExpiryReader)
	Purges     bool   // ClearExpired removes expired records (ExpiredDeleter); false: the store expires them itself, or keeps none
	Counts     bool   // Stats asks the engine (Counter); false: Stats lists every key (Lists), or cannot count
	Merges     bool   // a save merges the changes of concurrent requests key by key (Swapper); false: the last writer wins, as in Django
}

// Describe says what m keeps sessions with, for messages and tools.
func (m *Manager) Describe() Description {
	d := Description{Name: m.name, Where: m.where, ClientSide: m.client != nil, Codec: fmt.Sprintf("%T", m.codec)}
	if m.st != nil {
		d.Lists, d.Users, d.Expiry = m.st.list != nil, m.st.users != nil, m.st.expiry != nil
		d.Purges = m.st.purge != nil
		_, d.Counts = m.st.e.(Counter)
		d.Merges = m.st.swap != nil
	}
	return d
}

// Close closes the engine. Afterwards sessions can no longer be loaded or
// saved. An engine may wait for the calls in flight to end (the SQL
// engines do, each within its query_timeout, when the database stalls).
func (m *Manager) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	if m.client != nil {
		return m.client.Close()
	}
	return m.st.close()
}

func (m *Manager) closedErr(op string) error {
	if m.closed.Load() {
		return wrap(op, m.name, ErrClosed)
	}
	return nil
}

// Load returns the session for a key taken from a cookie (Django's
// SessionStore(session_key)). Nothing is read until the session is first
// used. An empty, invalid, unknown or expired key gives an empty session
// that gets a fresh key when saved: a key chosen by a client is never
// adopted.
func (m *Manager) Load(ctx context.Context, key string) *Session {
	s := new(Session)
	m.loadInto(ctx, s, key)
	return s
}

// loadInto is Load, into a Session nothing uses yet.
func (m *Manager) loadInto(ctx context.Context, s *Session, key string) {
	s.m, s.ctx = m, ctx
	switch {
	case len(key) < MinKeyLength:
		// Django's _validate_session_key: a key shorter than 8
		// characters is no key at all, on every engine.
	case m.client != nil:
		if len(key) <= maxCookieValue {
			s.key = key
		} else {
			s.bogus = true
		}
	case ValidKey(key):
		s.key = key
	default:
		s.bogus = true
	}
}

// NewSession returns an empty session with no key.
func (m *Manager) NewSession(ctx context.Context) *Session {
	return m.Load(ctx, "")
}

// load reads and decodes the data of s. Callers hold s.mu.
func (m *Manager) load(s *Session) {
	s.data = &codec.Dict{}
	if s.key == "" {
		return
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if err := m.closedErr("load"); err != nil {
		s.loadErr = err
		return
	}
	t0 := time.Now() // also for the log of a load the client cancelled
	outcome, err := m.read(ctx, s)
	if err != nil {
		s.loadWait = time.Since(t0)
	}
	if m.ob != nil {
		e := observe.Event{Op: observe.OpLoad, Outcome: outcome, Duration: time.Since(t0)}
		if err != nil {
			e.Err = errorClass(err)
		}
		m.ob.event(ctx, e)
	}
}

// read fills s from its engine and says how the load ended. Callers hold
// s.mu.
func (m *Manager) read(ctx context.Context, s *Session) (observe.Outcome, error) {
	var raw []byte
	var err error
	if m.client != nil {
		raw, err = m.client.Open(ctx, s.key)
	} else {
		raw, err = m.st.fetch(ctx, s.key)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound) || m.client != nil:
		s.key = "" // unknown, expired or bogus: never adopted
		return observe.OutcomeMiss, nil
	default:
		s.loadErr = wrap("load", m.name, err)
		return observe.OutcomeError, err
	}
	if len(raw) == 0 {
		// An empty record is an empty session, not a corrupt one (Django's
		// file engine writes such placeholders): keep the key.
		s.loaded(raw, &codec.Dict{})
		return observe.OutcomeHit, nil
	}
	d, err := m.codec.Decode(raw)
	if err != nil {
		s.key = ""
		if errors.Is(err, signing.ErrSignatureExpired) {
			return observe.OutcomeExpired, nil // a stale signed cookie is routine, not an attack
		}
		m.logCorrupt(ctx, err)
		return observe.OutcomeCorrupt, nil
	}
	s.loaded(raw, d)
	return observe.OutcomeHit, nil
}

func (m *Manager) logCorrupt(ctx context.Context, err error) {
	switch {
	case errors.Is(err, signing.ErrBadSignature):
		m.log.LogAttrs(ctx, slog.LevelWarn, "Session data corrupted", slog.String("engine", m.name), slog.String("reason", "bad signature"))
	default:
		m.log.LogAttrs(ctx, slog.LevelWarn, "Session data corrupted", slog.String("engine", m.name), slog.String("error", err.Error()))
	}
}

// NewKey returns a new random session key: [KeyLength] characters from
// [KeyChars], drawn from crypto/rand without bias (about 165 bits).
func NewKey() string {
	return randomString(KeyLength, KeyChars)
}

// randomString draws n characters of alphabet (at most 256) from
// crypto/rand without modulo bias.
func randomString(n int, alphabet string) string {
	out := make([]byte, n)
	limit := byte(256 - 256%len(alphabet)) // 252 for 36 symbols
	var buf [64]byte
	for i := 0; i < n; {
		rand.Read(buf[:])
		for _, b := range buf {
			if len(alphabet) < 256 && b >= limit {
				continue
			}
			out[i] = alphabet[int(b)%len(alphabet)]
			if i++; i == n {
				break
			}
		}
	}
	return string(out)
}

func (m *Manager) encode(d *codec.Dict) ([]byte, error) {
	b, err := m.codec.Encode(d)
	switch {
	case err != nil && errors.Is(err, codec.ErrTooLarge):
		err = fmt.Errorf("%w: %w", ErrTooLarge, err)
	case err == nil && m.s.MaxDataSize > 0 && len(b) > m.s.MaxDataSize:
		err = fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), m.s.MaxDataSize)
	}
	if err != nil {
		return nil, wrap("encode", m.name, err)
	}
	return b, nil
}

// tooLarge reports a session refused for its size to the observer.
func (m *Manager) tooLarge(ctx context.Context, err error) {
	if m.ob != nil && errors.Is(err, ErrTooLarge) {
		m.ob.event(ctx, observe.Event{Op: observe.OpTooLarge, Outcome: observe.OutcomeError, Err: ErrTooLarge})
	}
}

// Save stores the session, as Django's save: a session without a key is
// created under a new random key; a session with a key is updated, and if
// another request deleted it meanwhile the error matches [ErrInterrupted]
// (the record is not brought back). A session that expires before now is
// deleted instead of stored. A session whose load failed is not saved.
//
// When the engine implements [Swapper], a concurrent change made by
// another request since this one loaded the session is kept: Save reloads,
// re-applies only the keys this request set or deleted, and retries.
// Clear, Flush and CycleKey replace the whole data.
func (m *Manager) Save(ctx context.Context, s *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return m.save(ctx, s)
}

// save is Save for callers that hold s.mu.
func (m *Manager) save(ctx context.Context, s *Session) error {
	_, err := m.commit(ctx, s, commitForced)
	return err
}

// A commitCall says who asks commit to run: Session.Save (always
// stores), or the middleware at the end of a request.
type commitCall struct {
	forced    bool
	hadCookie bool // the request carried the session cookie
	status    int  // the response's status
}

var commitForced = commitCall{forced: true}

// A cookieAction is what the response must do with the session cookie.
type cookieAction int

const (
	keepCookie    cookieAction = iota
	setCookie                  // send the (new) key
	deleteCookie               // the session is gone
	storedNothing              // saved as already expired: no cookie to send, but the response varies
)

// commit decides whether and how s is stored, and does it: this is the
// one place where the rules of Django's save and SessionMiddleware meet.
// It returns what the response must do with the cookie. Callers hold s.mu.
func (m *Manager) commit(ctx context.Context, s *Session, c commitCall) (cookieAction, error) {
	action, err := m.decide(ctx, s, c)
	if err != nil && m.ob != nil {
		if errors.Is(err, ErrInterrupted) {
			m.ob.event(ctx, observe.Event{Op: observe.OpInterrupted, Outcome: observe.OutcomeError, Err: ErrInterrupted})
		}
		m.tooLarge(ctx, err)
	}
	return action, err
}

// decide is commit's rules. Callers hold s.mu.
func (m *Manager) decide(ctx context.Context, s *Session, c commitCall) (cookieAction, error) {
	if !c.forced {
		if m.s.SaveEveryRequest && (s.key != "" || s.bogus) && s.data == nil {
			// Django would save a bogus key as a new empty session here
			// (its is_empty does not load). Load first so a key that names
			// no live session is dropped and the cookie deleted instead.
			s.ensureLoaded()
		}
		if s.accessed && s.loadErr != nil {
			return keepCookie, s.loadErr
		}
		switch empty := s.isEmpty(); {
		case c.hadCookie && empty:
			return deleteCookie, nil
		case !(s.modified || m.s.SaveEveryRequest) || empty || c.status >= 500:
			if s.accessed && c.status < 500 {
				m.refreshIdle(ctx, s)
			}
			return keepCookie, nil
		}
	}
	s.ensureLoaded()
	if s.loadErr != nil {
		return keepCookie, s.loadErr
	}
	if err := m.closedErr("save"); err != nil {
		return keepCookie, err
	}
	if m.client != nil {
		if err := m.seal(ctx, s); err != nil {
			return keepCookie, err
		}
		s.dirty = false
		return setCookie, nil
	}
	now := m.now()
	exp := m.storeExpiry(s, now)
	var err error
	switch {
	case !exp.After(now):
		// Already expired: store nothing, forget the key.
		if err = m.drop(ctx, s); err != nil {
			return keepCookie, err
		}
		s.dirty = false
		if c.hadCookie {
			return deleteCookie, nil
		}
		return storedNothing, nil
	case s.key == "":
		err = m.create(ctx, s, exp)
	case !s.modified && s.raw != nil:
		// SaveEveryRequest on an unchanged session: only the expiry
		// moves, and nothing is re-encoded.
		err = m.st.extend(ctx, s.key, s.raw, exp)
		if err == nil {
			err = m.index(ctx, s, s.key, exp)
		}
	default:
		err = m.write(ctx, s, exp)
	}
	if err != nil {
		return keepCookie, err
	}
	s.dirty = false
	m.noteTouched(s.key, now)
	return setCookie, nil
}

// seal stores a client-side session in its cookie value.
func (m *Manager) seal(ctx context.Context, s *Session) error {
	b, err := m.encode(s.data)
	if err != nil {
		return err
	}
	v, err := m.client.Seal(ctx, b)
	if err != nil {
		return wrap("save", m.name, err)
	}
	if n := len(m.s.CookieName) + 1 + len(v); n > MaxCookieSize {
		return wrap("save", m.name, fmt.Errorf("%w: the session cookie would be %d bytes, over the %d browsers keep; store less in the session or use a server-side engine", ErrTooLarge, n, MaxCookieSize))
	}
	s.stored(v, b)
	s.modified = true
	return nil
}

// drop deletes the record of a session saved with an expiry already past.
func (m *Manager) drop(ctx context.Context, s *Session) error {
	old, bound := s.key, s.bound
	s.forget()
	if old == "" {
		return nil
	}
	if err := m.st.delete(ctx, old); err != nil {
		return err
	}
	m.unindex(ctx, bound, old)
	return nil
}

// create stores s under a new key, as Django's create(): the key must
// reach the client, so the session counts as modified even when nothing
// else changed.
func (m *Manager) create(ctx context.Context, s *Session, exp time.Time) error {
	b, err := m.encode(s.data)
	if err != nil {
		return err
	}
	key, err := m.st.create(ctx, b, exp)
	if err != nil {
		return err
	}
	s.bound = ""
	s.stored(key, b)
	s.modified = true
	return m.index(ctx, s, key, exp)
}

// write stores the changed data of s under its key, merging what other
// requests saved meanwhile (see Save).
func (m *Manager) write(ctx context.Context, s *Session, exp time.Time) error {
	b, err := m.encode(s.data)
	if err != nil {
		return err
	}
	if s.raw == nil {
		// Not loaded (Clear does not load): learn the binding the index
		// holds for this key, so a move drops its entry.
		s.bound = m.storedBinding(ctx, s.key)
	}
	stored, err := m.st.write(ctx, s.key, s.raw, b, exp, func(theirs []byte) ([]byte, time.Time, error) {
		s.rebase(m.codec, theirs)
		b, err := m.encode(s.data)
		exp = m.storeExpiry(s, m.now()) // the merged data's: the index entry gets what is stored
		return b, exp, err
	})
	if err != nil {
		return err
	}
	s.stored(s.key, stored)
	return m.index(ctx, s, s.key, exp)
}

// storeExpiry is when the stored record of s should expire: Django's
// expiry date, or sooner under an idle timeout. Callers hold s.mu.
func (m *Manager) storeExpiry(s *Session, now time.Time) time.Time {
	exp := s.expiryDate(now)
	if m.s.IdleTimeout > 0 {
		if idle := now.Add(m.s.IdleTimeout); idle.Before(exp) {
			exp = idle
		}
	}
	return exp
}

// noteTouched records that the idle timeout of key was just extended.
func (m *Manager) noteTouched(key string, now time.Time) {
	if m.s.IdleTimeout <= 0 || key == "" {
		return
	}
	m.touched.note(key, now)
}

// refreshIdle runs when a request used a session without changing it: it
// extends the idle timeout, at most once per IdleRefresh, and records
// "last seen" (DeviceSettings), at most once per Devices.Refresh; the
// user index entry follows both. Failures are logged, never fatal: the
// session simply expires on time. Callers hold s.mu.
func (m *Manager) refreshIdle(ctx context.Context, s *Session) {
	if m.client != nil || s.key == "" || s.data == nil || s.raw == nil || m.closed.Load() {
		return
	}
	now := m.now()
	exp, extended := m.extendIdle(ctx, s, now)
	if s.bound == "" || m.st.users == nil || (!extended && !m.seenDue(s.key, now)) {
		return
	}
	// The index entry lives as long as the session: it moves with the
	// extension, and carries the new "last seen" when that is due.
	m.reindex(ctx, s, exp, extended, now)
}

// extendIdle extends the idle timeout of s if due, and returns the new
// expiry and whether the record got it. Callers hold s.mu.
func (m *Manager) extendIdle(ctx context.Context, s *Session, now time.Time) (time.Time, bool) {
	if m.s.IdleTimeout <= 0 {
		return time.Time{}, false
	}
	if m.st.touch == nil && m.st.swap == nil {
		// Without Touch or Swap the only way to move the expiry is to
		// write back the data this request loaded, which would undo a
		// change another request saved meanwhile (a logout by Clear):
		// a read-only request must not. Saves still extend it.
		return time.Time{}, false
	}
	if !m.touched.due(s.key, now, m.s.IdleRefresh) {
		return time.Time{}, false
	}
	exp := m.storeExpiry(s, now)
	err := m.st.extend(ctx, s.key, s.raw, exp)
	switch {
	case err == nil:
		m.noteTouched(s.key, now)
	case errors.Is(err, ErrNotFound):
		// Deleted meanwhile: nothing to extend.
	default:
		m.log.LogAttrs(ctx, slog.LevelWarn, "session idle refresh failed", slog.String("engine", m.name), slog.String("error", err.Error()))
	}
	if m.ob != nil {
		e := observe.Event{Op: observe.OpIdleRefresh}
		if err != nil {
			e.Outcome, e.Err = observe.OutcomeError, errorClass(err)
		}
		m.ob.event(ctx, e)
	}
	return exp, err == nil
}

// refresh reads the stored record of s again and re-bases this request's
// changes on it (see Session.rebase). A record deleted meanwhile gives
// ErrInterrupted. Callers hold s.mu.
func (m *Manager) refresh(ctx context.Context, s *Session, op string) error {
	raw, err := m.st.load(ctx, s.key)
	if errors.Is(err, ErrNotFound) {
		return wrap(op, m.name, ErrInterrupted)
	}
	if err != nil {
		return err
	}
	s.rebase(m.codec, raw)
	return nil
}

// cycle moves s to a new key, as Django's cycle_key, without bringing
// back a session another request deleted since s was loaded: the old
// record is read again first (keeping that request's changes), then the
// data are created under a new key and the old record retired (see
// retire: a write another request makes to it meanwhile moves to the new
// key too). Callers hold s.mu.
func (m *Manager) cycle(ctx context.Context, s *Session) error {
	if err := m.closedErr("cycle key"); err != nil {
		return err
	}
	old := s.key
	if old != "" {
		err := m.refresh(ctx, s, "cycle key")
		switch {
		case err == nil:
		case errors.Is(err, ErrInterrupted) && s.cleared && s.raw == nil:
			// Cleared without being loaded (Clear does not load), and
			// the key names no live session (unknown, expired, or
			// deleted meanwhile): the data are this request's own and
			// bring nothing back, so they go under a new key, as in
			// Django, and there is no old record to retire.
			s.forget()
			old = ""
		default:
			return err
		}
	}
	oldBound := s.bound
	if oldBound != "" && m.s.Devices.Enabled && m.st.users != nil {
		// The new key's entry keeps the old one's creation time.
		if e, ok := m.entry(ctx, oldBound, old); ok {
			s.created = decodeMeta(e.Meta).Created
		}
	}
	read := s.raw // the old record as just read
	err := m.create(ctx, s, m.storeExpiry(s, m.now()))
	s.created = 0
	if err != nil {
		return err
	}
	if old != "" {
		lastBound, err := m.retire(ctx, s, old, read, oldBound)
		if err != nil {
			return err
		}
		m.unindex(ctx, oldBound, old)
		if lastBound != oldBound {
			m.unindex(ctx, lastBound, old)
		}
	}
	s.ownAll()
	m.ob.event(ctx, observe.Event{Op: observe.OpCycle})
	return nil
}

// retire ends the old record of a session cycle has just stored under a
// new key, where cycle read it as read (bound to bound). With a Swapper
// it does so only if the record still holds read: it swaps read for an
// expired session with an expiry in the past, which leaves no live
// record, then deletes what is left. If another request wrote to the old
// key since cycle read it (its response acknowledged the write), this
// request's changes are re-applied to that newer record, the result
// replaces the new key's data, and the swap is tried again: the write is
// not lost with the old key. If the old record was deleted meanwhile (a logout,
// or a concurrent CycleKey of the same session), the new key is deleted
// too and the error is ErrInterrupted. Without a Swapper the old record
// is deleted as it is (the last writer wins). It returns the binding the
// old record had last. Callers hold s.mu, before ownAll.
func (m *Manager) retire(ctx context.Context, s *Session, old string, read []byte, bound string) (string, error) {
	if m.st.swap == nil || read == nil {
		return bound, m.st.delete(ctx, old)
	}
	// An expiry in the past for any clock: the engine's and the Manager's.
	past := time.Now()
	if now := m.now(); now.Before(past) {
		past = now
	}
	past = past.Add(-time.Hour)
	// What replaces the old record: a session whose own data say it has
	// expired (a negative relative expiry), for engines that read the
	// expiry from the data (the file engine, where an absolute
	// _session_expiry would outrank the past expiry given), and bytes that
	// differ from read, so that a write of another request that loaded
	// read conflicts and finds the record dead.
	tomb, err := m.encode(codec.NewDict(map[string]any{ExpiryKey: int64(-1)}))
	if err != nil {
		return bound, err
	}
	key := s.key
	_, err = m.st.write(ctx, old, read, tomb, past, func(theirs []byte) ([]byte, time.Time, error) {
		newBound := s.bound
		s.rebase(m.codec, theirs) // this request's changes on the newer record
		bound = s.bound
		s.bound = newBound
		b, err := m.encode(s.data)
		if err != nil {
			return nil, time.Time{}, err
		}
		exp := m.storeExpiry(s, m.now())
		if _, err := m.st.write(ctx, key, nil, b, exp, nil); err != nil {
			return nil, time.Time{}, err
		}
		s.stored(key, b)
		if err := m.index(ctx, s, key, exp); err != nil {
			return nil, time.Time{}, err
		}
		return tomb, past, nil
	})
	switch {
	case errors.Is(err, ErrInterrupted):
		// Deleted since cycle read it: a logout, or another request's
		// CycleKey, which carried the data it read to a key of its own.
		// The new key must not outlive it (nor fork the session in two):
		// it goes, and this request answers as any whose session was
		// deleted meanwhile.
		if derr := m.st.delete(ctx, key); derr == nil || errors.Is(derr, ErrNotFound) {
			m.unindex(ctx, s.bound, key)
		}
		return bound, wrap("cycle key", m.name, ErrInterrupted)
	case err != nil:
		// The old record may or may not be retired; the new key will
		// not reach the client (the request fails), so it goes too,
		// rather than hold a copy of the session until it expires.
		if derr := m.st.delete(ctx, key); derr == nil || errors.Is(derr, ErrNotFound) {
			m.unindex(ctx, s.bound, key)
		}
		return bound, err
	}
	// Dead already; the delete frees its storage, as Django's would.
	if err := m.st.delete(ctx, old); err != nil && !errors.Is(err, ErrNotFound) {
		m.log.LogAttrs(ctx, slog.LevelWarn, "cycle key: the old record is dead but could not be deleted", slog.String("engine", m.name), slog.String("error", err.Error()))
	}
	return bound, nil
}

// flush deletes the record of s and empties it, as Django's flush.
// Callers hold s.mu.
func (m *Manager) flush(ctx context.Context, s *Session) error {
	old, loaded, raw, bogus := s.key, s.bound, s.raw, s.bogus
	s.forget()
	s.clear()
	if old == "" || m.client != nil {
		return nil
	}
	// A delete that fails keeps the key, as Django's flush (whose delete
	// raises before it drops the key): the session is not empty, so the
	// middleware sends no deletion cookie for a session still stored, and
	// a view that goes on saves the emptied session under it.
	keep := func() { s.key, s.bound, s.raw, s.bogus = old, loaded, raw, bogus }
	if err := m.closedErr("delete"); err != nil {
		keep()
		return err
	}
	// The binding as stored now (another request may have moved it, and
	// Flush does not load): its index entry goes with the record.
	bound := m.storedBinding(ctx, old)
	if err := m.st.delete(ctx, old); err != nil {
		keep()
		return err
	}
	m.unindex(ctx, bound, old)
	if loaded != bound {
		m.unindex(ctx, loaded, old)
	}
	return nil
}

// ClearExpired removes expired sessions (Django's clearsessions) and
// reports how many it removed. Engines without an [ExpiredDeleter]
// expire records by themselves (Redis, memcached) and client-side engines
// store nothing: both report 0.
func (m *Manager) ClearExpired(ctx context.Context) (int64, error) {
	if err := m.closedErr("clear expired"); err != nil {
		return 0, err
	}
	if m.client != nil {
		return 0, nil
	}
	return m.st.deleteExpired(ctx)
}

// Exists reports whether a live session is stored under key (Django's
// exists). It is always false for client-side engines.
func (m *Manager) Exists(ctx context.Context, key string) (bool, error) {
	if m.client != nil || !ValidKey(key) {
		return false, nil
	}
	if err := m.closedErr("load"); err != nil {
		return false, err
	}
	_, err := m.st.load(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Inspect returns the bytes stored under key, without decoding them, and
// the stored expiry (zero when the engine does not report it). An absent
// key gives an error matching [ErrNotFound]. For a client-side engine the
// key is the cookie value, returned as it is.
func (m *Manager) Inspect(ctx context.Context, key string) (raw []byte, expiry time.Time, err error) {
	if err := m.closedErr("load"); err != nil {
		return nil, time.Time{}, err
	}
	if m.client != nil {
		return []byte(key), time.Time{}, nil
	}
	return m.st.loadExpiry(ctx, key)
}

// Keys calls fn with the key of every live session, in no particular
// order, until fn returns false. It needs an engine that implements
// [Lister]; others (and client-side engines) give an error matching
// [ErrUnsupported].
func (m *Manager) Keys(ctx context.Context, fn func(key string) bool) error {
	if err := m.closedErr("list"); err != nil {
		return err
	}
	if m.client != nil {
		return wrap("list", m.name, ErrUnsupported)
	}
	return m.st.keys(ctx, fn)
}
