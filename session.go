package sessions

import (
	"bytes"
	"context"
	"iter"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/expiry"
)

// Keys Django and this package keep inside the session data.
const (
	// ExpiryKey holds a custom expiry set with SetExpiry or SetExpiryAt:
	// an integer number of seconds (0 = at browser close) or an ISO-8601
	// date.
	ExpiryKey = expiry.Key
	// testCookieKey and testCookieValue are Django's test-cookie entry.
	testCookieKey   = "testcookie"
	testCookieValue = "worked"
)

// Session is the per-request view of one visitor's session, with the
// behaviour of Django's SessionBase: a dictionary of JSON-compatible values
// that is loaded lazily on first use and saved by the middleware only when
// it was modified.
//
// Reading methods (Get, Lookup, Has, Keys, Len, All...) load the session
// and mark it accessed; writing methods also mark it modified. IsEmpty,
// Key, Modified and Accessed neither load nor mark. Values are stored as
// given; after a round trip through the store they come back as the
// codec's types (int64, float64, string, bool, nil, []any, map[string]any),
// which [Get] converts for you.
//
// Changes made inside a stored map or slice are not seen; call
// [Session.MarkModified] after them (Django's request.session.modified =
// True).
//
// A Session is safe for concurrent use by the goroutines of one request.
// It must not be shared between requests.
type Session struct {
	mu  sync.Mutex
	m   *Manager
	ctx context.Context

	key      string        // valid session key, or the cookie value for client-side engines; "" = none
	bogus    bool          // an invalid key was presented and the session is not loaded yet
	data     *codec.Dict   // nil until loaded
	raw      []byte        // the stored bytes as loaded, nil if none
	loadErr  error         // a store failure while loading
	loadWait time.Duration // how long the failed load waited for the store
	bound    string        // the user the index records for key ("" if none)

	// For DeviceSettings: the request's header and TCP peer address (nil
	// and "" outside Begin and the middleware), what they tell about the
	// client once read, and the creation time (Unix ms) CycleKey carries
	// to the new key's entry.
	hdr     http.Header
	peer    string
	cl      *client
	created int64

	accessed bool
	modified bool
	// dirty is set with modified and cleared when the Manager saves, so
	// the middleware can see a change made after it committed.
	dirty bool

	// What this request did, so a conflicting concurrent write can be
	// merged (see Manager.Save).
	cleared bool
	changed map[string]bool // key -> true if set, false if deleted
	merges  map[string]mergeFunc

	// The response's view (Manager.Begin and Manager.Finish).
	resp response
}

// response is what the middleware knows of the request a Session serves
// and of the response the Manager finished for it.
type response struct {
	hadKey    bool   // the request carried a session key (cookie or token header)
	clientKey string // the key the client holds: the request's, then the response's
	finished  bool   // Finish ran for the response's status
	failed    bool   // ... and failed: the response was replaced
	status    int    // the status Finish ran for
}

// Key returns the session key, or "" when the session has none (a new
// session, or one whose key was unknown, expired or invalid once loaded).
// For client-side engines it is the cookie value. It does not load.
func (s *Session) Key() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

// Accessed reports whether the session was read or written in this
// request.
func (s *Session) Accessed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accessed
}

// Modified reports whether the session was changed in this request, so
// that the middleware will save it.
func (s *Session) Modified() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modified
}

// MarkModified marks the session as modified so it is saved at the end of
// the request; use it after changing a map or slice stored in the session.
// It marks every stored key as changed by this request.
func (s *Session) MarkModified() {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Loaded to know its keys, but not "accessed": as Django's
	// modified = True, which leaves accessed (and Vary) alone.
	s.ensureLoaded()
	s.setModified()
	for k := range s.data.All() {
		s.note(k, true)
	}
}

// IsEmpty reports whether the session has no key and no data. It neither
// loads nor marks the session accessed.
func (s *Session) IsEmpty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isEmpty()
}

func (s *Session) isEmpty() bool {
	if s.data == nil {
		// Not loaded: any presented key counts, as in Django, so an
		// untouched request with a junk cookie changes nothing.
		return s.key == "" && !s.bogus
	}
	return s.key == "" && s.data.Len() == 0
}

// Err returns the error that prevented the session from loading, if the
// store failed (not for an unknown or expired key, which simply gives an
// empty session). It loads the session if needed. A session whose load
// failed is never saved: saving it would overwrite data it never saw.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureLoaded()
	return s.loadErr
}

// ensureLoaded loads the data if not done yet. Callers hold s.mu.
func (s *Session) ensureLoaded() {
	if s.data != nil {
		return
	}
	s.bogus = false
	s.m.load(s)
}

// The Manager's view of a Session: it reads the fields directly and
// changes them only through these methods (callers hold s.mu).

// loaded records the data read from the store as raw.
func (s *Session) loaded(raw []byte, d *codec.Dict) {
	s.data, s.raw, s.bound = d, raw, boundUser(d)
}

// stored records that the data now stand in the store under key as raw.
func (s *Session) stored(key string, raw []byte) {
	s.key, s.raw = key, raw
}

// forget drops the key: the session has no record any more.
func (s *Session) forget() {
	s.key, s.raw, s.bound = "", nil, ""
	s.bogus = false
}

// rebase takes raw, the record another request stored after this one
// loaded the session, as the new base: this request's changes are
// re-applied on top of it (key by key, through the merge functions of
// SetMerge), unless it cleared the session, whose data then replace
// everything. Undecodable data count as empty.
func (s *Session) rebase(c codec.Codec, raw []byte) {
	if s.raw != nil && bytes.Equal(raw, s.raw) {
		return
	}
	theirs, err := c.Decode(raw)
	if err != nil || len(raw) == 0 {
		theirs = &codec.Dict{}
	}
	s.bound = boundUser(theirs)
	if !s.cleared {
		theirs.CopyKeyOrders(s.data) // our nested maps keep their order
		s.data = s.reapply(c, theirs)
	}
	s.raw = raw
}

// ownAll makes this request the author of every entry (after CycleKey:
// the whole data are its own).
func (s *Session) ownAll() {
	s.cleared = true
	s.changed = nil
	for k := range s.data.All() {
		s.note(k, true)
	}
}

// dict loads if needed, marks the session accessed and returns the data.
func (s *Session) dict() *codec.Dict {
	s.ensureLoaded()
	s.accessed = true
	return s.data
}

// setModified marks the session modified (and dirty). Callers hold s.mu.
func (s *Session) setModified() {
	s.modified = true
	s.dirty = true
}

func (s *Session) note(k string, set bool) {
	if s.changed == nil {
		s.changed = make(map[string]bool)
	}
	s.changed[k] = set
}

// Get returns the value stored under key, or nil.
func (s *Session) Get(key string) any {
	v, _ := s.Lookup(key)
	return v
}

// Lookup returns the value stored under key and whether it was present.
func (s *Session) Lookup(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dict().Get(key)
}

// Has reports whether key is present.
func (s *Session) Has(key string) bool {
	_, ok := s.Lookup(key)
	return ok
}

// Set stores value under key and marks the session modified. The value
// must be encodable as JSON (or by the configured codec); one that is not
// makes the save fail with a clear error.
func (s *Session) Set(key string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(key, value)
}

// set is Set for callers that hold s.mu.
func (s *Session) set(key string, value any) {
	s.dict().Set(key, value)
	s.setModified()
	s.note(key, true)
}

// setWithOrders is Set for a decoded JSON value whose objects keep the
// key order they were decoded in (a typed key's JSON form).
func (s *Session) setWithOrders(key string, value any, orders []keyOrder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dict()
	d.Set(key, value)
	for _, o := range orders {
		d.SetKeyOrder(o.m, o.keys)
	}
	s.setModified()
	s.note(key, true)
}

// Delete removes key. It reports whether the key was present; only then is
// the session marked modified (Django raises KeyError otherwise).
func (s *Session) Delete(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dict().Delete(key) {
		return false
	}
	s.setModified()
	s.note(key, false)
	return true
}

// Pop removes key and returns its value. When the key is absent it
// returns nil, false and does not mark the session modified.
func (s *Session) Pop(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dict()
	v, ok := d.Get(key)
	if ok {
		d.Delete(key)
		s.setModified()
		s.note(key, false)
	}
	return v, ok
}

// SetDefault returns the value under key if present (without modifying
// the session); otherwise it stores value, marks the session modified and
// returns value.
func (s *Session) SetDefault(key string, value any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dict()
	if v, ok := d.Get(key); ok {
		return v
	}
	d.Set(key, value)
	s.setModified()
	s.note(key, true)
	return value
}

// Update stores every entry of values (in sorted key order) and marks the
// session modified, even when values is empty, as Django's update does.
func (s *Session) Update(values map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dict()
	for k, v := range codec.NewDict(values).All() {
		d.Set(k, v)
		s.note(k, true)
	}
	s.setModified()
}

// Keys returns the keys in insertion order.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dict().Keys()
}

// Values returns the values in key insertion order.
func (s *Session) Values() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dict()
	out := make([]any, 0, d.Len())
	for _, v := range d.All() {
		out = append(out, v)
	}
	return out
}

// All iterates over a snapshot of the entries, in insertion order. The
// session may be changed during the iteration.
func (s *Session) All() iter.Seq2[string, any] {
	s.mu.Lock()
	snap := s.dict().Clone()
	s.mu.Unlock()
	return snap.All()
}

// Len returns the number of entries.
func (s *Session) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dict().Len()
}

// Clear removes every entry without loading the stored data, and marks the
// session accessed and modified. The key is kept: the emptied session is
// saved under it.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
}

func (s *Session) clear() {
	s.data = &codec.Dict{}
	s.loadErr = nil
	s.accessed = true
	s.setModified()
	s.cleared = true
	s.changed = nil
}

// Flush deletes the session from the store, empties it and drops its key,
// as Django's flush: use it at logout. The middleware then deletes the
// cookie. It returns the store's error, if any; the session is emptied
// either way, but when the delete failed it keeps its key, as Django's
// flush: the middleware then sends no deletion cookie for a session the
// store still holds (the user can log out again), and a view that goes
// on to answer 2xx saves the emptied session under the key.
func (s *Session) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.flush(ctx, s)
}

// CycleKey stores the current data under a new key and deletes the old
// record, as Django's cycle_key: call it at login against session
// fixation. The data are kept, with any change another request saved
// since this one loaded the session. If another request deleted the
// session meanwhile (a logout in another tab), nothing is stored under a
// new key and the error matches [ErrInterrupted]; the middleware then
// answers 400, as for any save of a deleted session. For client-side
// engines it seals the data into a new cookie value, as Django's
// signed-cookie cycle_key saves (a cookie cannot be revoked): an empty
// session then has a key too, and the middleware sends its cookie.
func (s *Session) CycleKey(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dict()
	if s.loadErr != nil {
		return s.loadErr
	}
	s.setModified()
	if s.m.client != nil {
		return s.m.seal(ctx, s)
	}
	return s.m.cycle(ctx, s)
}

// Save stores the session now, as Django's save: a session without a key
// gets a new one. The middleware calls it for you; use it outside HTTP.
func (s *Session) Save(ctx context.Context) error {
	return s.m.Save(ctx, s)
}

// SetTestCookie stores Django's test-cookie entry.
func (s *Session) SetTestCookie() { s.Set(testCookieKey, testCookieValue) }

// TestCookieWorked reports whether the test-cookie entry came back.
func (s *Session) TestCookieWorked() bool { return s.Get(testCookieKey) == testCookieValue }

// DeleteTestCookie removes the test-cookie entry.
func (s *Session) DeleteTestCookie() { s.Delete(testCookieKey) }

// SetExpiry sets a custom lifetime, as Django's set_expiry with a number
// of seconds: the session expires after d of inactivity (counted from
// each save). Zero makes the cookie expire when the browser closes. The
// value is stored in whole seconds, which every Django version can read.
func (s *Session) SetExpiry(d time.Duration) {
	s.Set(ExpiryKey, int64(d/time.Second))
}

// SetExpiryAt makes the session expire at t, as Django's set_expiry with a
// datetime (stored as an ISO-8601 string, which Django 4.1 and later
// read; Django 3.2 cannot).
func (s *Session) SetExpiryAt(t time.Time) {
	s.Set(ExpiryKey, expiry.Isoformat(t))
}

// ResetExpiry removes a custom expiry, going back to the settings'
// default (Django's set_expiry(None)). The session is marked modified only
// if there was one.
func (s *Session) ResetExpiry() {
	s.Delete(ExpiryKey)
}

// ExpiryAge returns the time until the session expires, in whole seconds,
// as Django's get_expiry_age: the cookie age when there is no custom
// expiry, the stored number of seconds (not decremented) for a relative
// expiry, or the time left until an absolute one (possibly negative).
func (s *Session) ExpiryAge() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expiryAge(s.m.now())
}

func (s *Session) expiryAge(now time.Time) time.Duration {
	v, _ := s.dict().Get(ExpiryKey)
	age := s.m.s.CookieAge.Truncate(time.Second)
	if expiry.IsFalsy(v) {
		return age
	}
	if t, ok := expiry.Time(v); ok {
		d := t.Sub(now)
		return time.Duration(math.Floor(d.Seconds())) * time.Second
	}
	if n, ok := expiry.Seconds(v); ok {
		return expiry.Age(n)
	}
	return age
}

// ExpiryDate returns when the session expires, as Django's
// get_expiry_date: an absolute expiry as stored, otherwise now plus the
// relative expiry or the cookie age.
func (s *Session) ExpiryDate() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expiryDate(s.m.now())
}

func (s *Session) expiryDate(now time.Time) time.Time {
	v, _ := s.dict().Get(ExpiryKey)
	abs, life, ok := expiry.Lifetime(v, s.m.s.CookieAge)
	if ok {
		return abs
	}
	return now.Add(life)
}

// ExpireAtBrowserClose reports whether the cookie should expire when the
// browser closes: the ExpireAtBrowserClose setting when there is no custom
// expiry, else whether the custom expiry is 0.
func (s *Session) ExpireAtBrowserClose() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expireAtBrowserClose()
}

func (s *Session) expireAtBrowserClose() bool {
	v, ok := s.dict().Get(ExpiryKey)
	if !ok || v == nil {
		return s.m.s.ExpireAtBrowserClose
	}
	n, isNum := expiry.Seconds(v)
	return isNum && n == 0
}
