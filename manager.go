package sessions

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
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
type Manager struct {
	s      Settings
	engine Engine
	client ClientSide // non-nil for client-side engines
	codec  codec.Codec
	name   string
	log    *slog.Logger
	clock  func() time.Time
	closed atomic.Bool

	maxSwapRetries int

	// touched remembers when this process last extended the idle
	// timeout of a session, so read-only requests touch the store at most
	// once per IdleRefresh.
	touchMu sync.Mutex
	touched map[string]time.Time

	// keyLocks queue this process's writers of one session behind each
	// other, so a crowd of concurrent requests on one session does not
	// spin on compare-and-swap conflicts; the swap still protects against
	// other processes.
	keyLocks [64]sync.Mutex
}

func (m *Manager) keyLock(key string) *sync.Mutex {
	var h uint32 = 2166136261
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return &m.keyLocks[h%uint32(len(m.keyLocks))]
}

// maxTouched bounds the idle-refresh memory; past it the map starts over
// (the cost is one extra Touch per active session).
const maxTouched = 100_000

// New returns a Manager over an engine. It validates the settings (see
// [Settings]); the error names what is wrong without printing secrets.
// The Manager takes ownership of the engine: Manager.Close closes it.
func New(engine Engine, s Settings) (*Manager, error) {
	if engine == nil {
		return nil, fmt.Errorf("%w: nil engine", ErrBadConfig)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	m := &Manager{s: s, engine: engine, clock: time.Now, maxSwapRetries: 32}
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
	m.name = engineName(engine)
	if c, ok := engine.(ClientSide); ok {
		m.client = c
	}
	switch {
	case s.Codec != nil:
		m.codec = s.Codec
	default:
		if c, ok := engine.(Codecer); ok {
			m.codec = c.Codec(m.s)
		}
	}
	if m.codec == nil {
		m.codec = codec.Signed{Key: s.SecretKey, Fallbacks: s.SecretKeyFallbacks, Salt: m.s.KeySalt, MaxSize: m.s.MaxDataSize}
	}
	if len(s.EncryptionKeys) > 0 {
		keys := make([][]byte, len(s.EncryptionKeys))
		for i, k := range s.EncryptionKeys {
			keys[i] = []byte(k)
		}
		c, err := aead.New(m.codec, &aead.Options{MaxSize: m.s.MaxDataSize}, keys...)
		if err != nil {
			return nil, fmt.Errorf("%w: EncryptionKeys: %w", ErrBadConfig, err)
		}
		m.codec = c
	}
	return m, nil
}

// SetClock replaces the clock the Manager uses for expiry computations.
// It is meant for tests; call it before the Manager is used.
func (m *Manager) SetClock(now func() time.Time) { m.clock = now }

func (m *Manager) now() time.Time { return m.clock() }

// Settings returns a copy of the Manager's settings.
func (m *Manager) Settings() Settings { return m.s }

// Engine returns the engine the Manager stores sessions in.
func (m *Manager) Engine() Engine { return m.engine }

// Codec returns the codec in use.
func (m *Manager) Codec() codec.Codec { return m.codec }

// EngineName returns the name of the engine, as used in errors.
func (m *Manager) EngineName() string { return m.name }

// Close closes the engine. Afterwards sessions can no longer be loaded or
// saved.
func (m *Manager) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	return m.engine.Close()
}

// Load returns the session for a key taken from a cookie (Django's
// SessionStore(session_key)). Nothing is read until the session is first
// used. An empty, invalid, unknown or expired key gives an empty session
// that gets a fresh key when saved: a key chosen by a client is never
// adopted.
func (m *Manager) Load(ctx context.Context, key string) *Session {
	s := &Session{m: m, ctx: ctx}
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
	return s
}

// NewSession returns an empty session with no key.
func (m *Manager) NewSession(ctx context.Context) *Session {
	return m.Load(ctx, "")
}

// maxCookieValue bounds the cookie value a client-side engine will try to
// open: browsers send at most about 4 KB per cookie.
const maxCookieValue = 8192

// load fills s.data. Callers hold s.mu.
func (m *Manager) load(s *Session) {
	s.data = &codec.Dict{}
	if s.key == "" {
		return
	}
	if m.closed.Load() {
		s.loadErr = wrap("load", m.name, ErrClosed)
		return
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	var raw []byte
	var err error
	if m.client != nil {
		raw, err = m.client.Open(ctx, s.key)
	} else {
		raw, err = m.engine.Load(ctx, s.key)
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidKey) || m.client != nil {
			s.key = "" // unknown, expired or bogus: never adopted
			return
		}
		s.loadErr = wrap("load", m.name, err)
		return
	}
	if len(raw) == 0 {
		// An empty record is an empty session, not a corrupt one (Django's
		// file engine writes such placeholders): keep the key.
		s.raw = raw
		return
	}
	d, err := m.codec.Decode(raw)
	if err != nil {
		m.logCorrupt(ctx, err)
		s.key = ""
		return
	}
	s.data = d
	s.raw = raw
	s.bound = boundUser(d)
}

func (m *Manager) logCorrupt(ctx context.Context, err error) {
	switch {
	case errors.Is(err, signing.ErrSignatureExpired):
		// A stale signed cookie is routine, not an attack.
	case errors.Is(err, signing.ErrBadSignature):
		m.log.LogAttrs(ctx, slog.LevelWarn, "Session data corrupted", slog.String("engine", m.name), slog.String("reason", "bad signature"))
	default:
		m.log.LogAttrs(ctx, slog.LevelWarn, "Session data corrupted", slog.String("engine", m.name), slog.String("error", err.Error()))
	}
}

// NewKey returns a new random session key: [KeyLength] characters from
// [KeyChars], drawn from crypto/rand without bias (about 165 bits).
func NewKey() string {
	var out [KeyLength]byte
	var buf [64]byte
	n := 0
	for n < len(out) {
		rand.Read(buf[:])
		for _, b := range buf {
			// 252 = 7*36: reject the top 4 values to keep the draw uniform.
			if b >= 252 {
				continue
			}
			out[n] = KeyChars[b%36]
			n++
			if n == len(out) {
				break
			}
		}
	}
	return string(out[:])
}

// maxCreateAttempts bounds the retries on a key collision, which with 165
// bits of entropy only a broken store produces (Django's cache engine gives
// up after 10,000 for the same reason).
const maxCreateAttempts = 10

func (m *Manager) encode(d *codec.Dict) ([]byte, error) {
	b, err := m.codec.Encode(d)
	if err != nil {
		if errors.Is(err, codec.ErrTooLarge) {
			return nil, wrap("encode", m.name, fmt.Errorf("%w: %w", ErrTooLarge, err))
		}
		return nil, wrap("encode", m.name, err)
	}
	if m.s.MaxDataSize > 0 && len(b) > m.s.MaxDataSize {
		return nil, wrap("encode", m.name, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), m.s.MaxDataSize))
	}
	return b, nil
}

// create stores d under a new key and returns the key and bytes. Callers
// hold s.mu.
func (m *Manager) create(ctx context.Context, s *Session) (string, []byte, error) {
	d := s.data
	if m.closed.Load() {
		return "", nil, wrap("create", m.name, ErrClosed)
	}
	b, err := m.encode(d)
	if err != nil {
		return "", nil, err
	}
	expiry := m.storeExpiry(s, m.now())
	for range maxCreateAttempts {
		key := NewKey()
		err := m.engine.Create(ctx, key, b, expiry)
		if err == nil {
			return key, b, m.indexWrite(ctx, s, key, expiry, "")
		}
		if !errors.Is(err, ErrExists) {
			return "", nil, wrap("create", m.name, err)
		}
	}
	return "", nil, wrap("create", m.name, fmt.Errorf("%w: %d attempts; the store may be misbehaving", ErrExists, maxCreateAttempts))
}

func (m *Manager) deleteKey(ctx context.Context, key string) error {
	if m.closed.Load() {
		return wrap("delete", m.name, ErrClosed)
	}
	return wrap("delete", m.name, m.engine.Delete(ctx, key))
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

func (m *Manager) save(ctx context.Context, s *Session) error {
	err := m.store(ctx, s)
	if err == nil {
		s.dirty = false
	}
	return err
}

// store writes s as save describes. Callers hold s.mu.
func (m *Manager) store(ctx context.Context, s *Session) error {
	s.ensureLoaded()
	if s.loadErr != nil {
		return s.loadErr
	}
	if m.closed.Load() {
		return wrap("save", m.name, ErrClosed)
	}
	now := m.now()
	if m.client != nil {
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
		s.key, s.raw = v, b
		s.modified = true
		return nil
	}
	expiry := m.storeExpiry(s, now)
	if !expiry.After(now) {
		// Already expired: store nothing, forget the key.
		old := s.key
		s.key, s.raw = "", nil
		if old != "" {
			return m.deleteKey(ctx, old)
		}
		return nil
	}
	if s.key == "" {
		key, raw, err := m.create(ctx, s)
		if err != nil {
			return err
		}
		s.key, s.raw = key, raw
		// As Django's create(): a new key must reach the client, so the
		// session counts as modified even when nothing else changed.
		s.modified = true
		m.noteTouched(key, now)
		return nil
	}
	if err := m.update(ctx, s, expiry); err != nil {
		return err
	}
	m.noteTouched(s.key, now)
	return nil
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
	m.touchMu.Lock()
	defer m.touchMu.Unlock()
	if m.touched == nil || len(m.touched) >= maxTouched {
		m.touched = make(map[string]time.Time)
	}
	m.touched[key] = now
}

// refreshIdle extends the idle timeout of a session that a request used
// without changing it, at most once per IdleRefresh. Failures are logged,
// never fatal: the session simply expires on time. Callers hold s.mu.
func (m *Manager) refreshIdle(ctx context.Context, s *Session) {
	if m.s.IdleTimeout <= 0 || m.client != nil || s.key == "" || s.data == nil || s.raw == nil || m.closed.Load() {
		return
	}
	now := m.now()
	m.touchMu.Lock()
	last, ok := m.touched[s.key]
	m.touchMu.Unlock()
	if ok && now.Sub(last) < m.s.IdleRefresh {
		return
	}
	exp := m.storeExpiry(s, now)
	var err error
	if t, ok := m.engine.(Toucher); ok {
		err = t.Touch(ctx, s.key, exp)
	} else if sw, ok := m.engine.(Swapper); ok {
		err = sw.Swap(ctx, s.key, s.raw, s.raw, exp)
	} else {
		err = m.engine.Update(ctx, s.key, s.raw, exp)
	}
	switch {
	case err == nil:
		m.noteTouched(s.key, now)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
		// Deleted or rewritten meanwhile: nothing to extend.
	default:
		m.log.LogAttrs(ctx, slog.LevelWarn, "session idle refresh failed", slog.String("engine", m.name), slog.String("error", err.Error()))
	}
}

// update writes an existing session. Callers hold s.mu.
func (m *Manager) update(ctx context.Context, s *Session, expiry time.Time) error {
	if !s.modified && s.raw != nil {
		// SaveEveryRequest on an unchanged session: only the expiry moves,
		// and nothing is re-encoded.
		var err error
		if t, ok := m.engine.(Toucher); ok {
			err = t.Touch(ctx, s.key, expiry)
		} else if sw, ok := m.engine.(Swapper); ok {
			err = sw.Swap(ctx, s.key, s.raw, s.raw, expiry)
			if errors.Is(err, ErrConflict) {
				err = nil // changed meanwhile: the newer write already extended it
			}
		} else {
			err = m.engine.Update(ctx, s.key, s.raw, expiry)
		}
		if errors.Is(err, ErrNotFound) {
			return wrap("update", m.name, ErrInterrupted)
		}
		if err != nil {
			return wrap("update", m.name, err)
		}
		return m.indexWrite(ctx, s, s.key, expiry, s.bound)
	}
	b, err := m.encode(s.data)
	if err != nil {
		return err
	}
	sw, canSwap := m.engine.(Swapper)
	if canSwap && s.raw != nil {
		l := m.keyLock(s.key)
		l.Lock()
		defer l.Unlock()
	}
	if !canSwap || s.raw == nil {
		if s.raw == nil {
			// Not loaded (Clear does not load): learn the binding the
			// index holds for this key, so a move drops its entry.
			s.bound = m.storedBinding(ctx, s.key)
		}
		err := m.engine.Update(ctx, s.key, b, expiry)
		if errors.Is(err, ErrNotFound) {
			return wrap("update", m.name, ErrInterrupted)
		}
		if err != nil {
			return wrap("update", m.name, err)
		}
		s.raw = b
		return m.indexWrite(ctx, s, s.key, expiry, s.bound)
	}
	for attempt := 0; ; attempt++ {
		err = sw.Swap(ctx, s.key, s.raw, b, expiry)
		switch {
		case err == nil:
			s.raw = b
			return m.indexWrite(ctx, s, s.key, expiry, s.bound)
		case errors.Is(err, ErrNotFound):
			return wrap("update", m.name, ErrInterrupted)
		case !errors.Is(err, ErrConflict):
			return wrap("update", m.name, err)
		case attempt >= m.maxSwapRetries:
			return wrap("update", m.name, fmt.Errorf("%w: gave up after %d attempts", ErrConflict, attempt+1))
		}
		// Another request wrote first: merge its data with our changes.
		// After a few rounds, back off a little so a crowd of writers on
		// one session does not keep colliding.
		if attempt >= 2 {
			time.Sleep(time.Duration(mrand.Int64N(int64(attempt) * int64(time.Millisecond))))
		}
		if err := m.refresh(ctx, s, "update"); err != nil {
			return err
		}
		if b, err = m.encode(s.data); err != nil {
			return err
		}
		expiry = m.storeExpiry(s, m.now())
	}
}

// refresh reloads the stored record of s and, if another request changed
// it since s was loaded, re-applies this request's changes on top of it
// (unless this request cleared the session, whose data then replace
// everything). A record deleted meanwhile gives ErrInterrupted. Callers
// hold s.mu.
func (m *Manager) refresh(ctx context.Context, s *Session, op string) error {
	raw, err := m.engine.Load(ctx, s.key)
	if errors.Is(err, ErrNotFound) {
		return wrap(op, m.name, ErrInterrupted)
	}
	if err != nil {
		return wrap("load", m.name, err)
	}
	if s.raw != nil && bytes.Equal(raw, s.raw) {
		return nil
	}
	theirs, derr := m.codec.Decode(raw)
	if derr != nil || len(raw) == 0 {
		// Their data cannot be read: ours replaces it.
		theirs = &codec.Dict{}
	}
	s.bound = boundUser(theirs)
	if !s.cleared {
		theirs.CopyKeyOrders(s.data) // our nested maps keep their order
		s.data = s.reapply(m.codec, theirs)
	}
	s.raw = raw
	return nil
}

// cycle moves s to a new key, as Django's cycle_key, without bringing
// back a session another request deleted since s was loaded: the old
// record is read again first (keeping that request's changes), then the
// data are created under a new key and the old record deleted. Callers
// hold s.mu.
func (m *Manager) cycle(ctx context.Context, s *Session) error {
	if m.closed.Load() {
		return wrap("cycle key", m.name, ErrClosed)
	}
	old := s.key
	if old != "" {
		if err := m.refresh(ctx, s, "cycle key"); err != nil {
			return err
		}
	}
	oldBound := s.bound
	key, raw, err := m.create(ctx, s)
	if err != nil {
		return err
	}
	s.key, s.raw = key, raw
	// The whole data now belong to this request.
	s.cleared = true
	s.changed = nil
	for k := range s.data.All() {
		s.note(k, true)
	}
	if old == "" {
		return nil
	}
	if err := m.deleteKey(ctx, old); err != nil {
		return err
	}
	m.unindex(ctx, oldBound, old)
	return nil
}

// ClearExpired removes expired sessions from engines that need it
// (Django's clearsessions) and reports how many it removed. Engines with
// native expiry (Redis, memcached, signed cookies) need nothing and return
// 0; an engine that cannot do it returns an error matching
// [ErrUnsupported].
func (m *Manager) ClearExpired(ctx context.Context) (int64, error) {
	if m.closed.Load() {
		return 0, wrap("clear expired", m.name, ErrClosed)
	}
	if m.client != nil {
		return 0, nil // nothing is stored: the cookie's signature expires
	}
	d, ok := m.engine.(ExpiredDeleter)
	if !ok {
		return 0, wrap("clear expired", m.name, ErrUnsupported)
	}
	n, err := d.DeleteExpired(ctx)
	return n, wrap("clear expired", m.name, err)
}

// Exists reports whether a live session is stored under key (Django's
// exists). It is always false for client-side engines.
func (m *Manager) Exists(ctx context.Context, key string) (bool, error) {
	if m.client != nil || !ValidKey(key) {
		return false, nil
	}
	if m.closed.Load() {
		return false, wrap("load", m.name, ErrClosed)
	}
	_, err := m.engine.Load(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, wrap("load", m.name, err)
}

// engineName returns the registered scheme of an engine's type, or its Go
// type name.
func engineName(e Engine) string {
	if n, ok := e.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", e)
}
