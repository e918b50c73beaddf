// Package soak is the fault soak: concurrent clients use sessions through
// the real middleware (write, read, log in with CycleKey and BindUser, log
// out with Flush, end a user's sessions with Manager.DeleteUser) while the
// store fails under them: its server is killed and restarted, paused, cut
// off or stalled by a proxy, or the application itself restarts. It
// checks, per engine:
//
//   - lost acknowledged writes: every client reads its session on every
//     request, and must see the last value whose write was acknowledged
//     (a 200 response) or a later one; a write answered with an error may
//     or may not have applied. An acknowledged write superseded by a later
//     acknowledged write of the same client is not lost. A session that
//     disappears without an unacknowledged logout before it counts as
//     lost, unless the store forgets everything by design (a memcached
//     restart). Several clients also write their own entries into one
//     shared session (compare-and-swap merges); none of the acknowledged
//     entries may be missing at the end.
//   - logouts undone: after every recovery and at the end, no key whose
//     end was acknowledged (a Flush, the old key of a CycleKey, a session
//     ended by DeleteUser) may load again, through any application
//     process.
//   - failures: requests fail with clear errors during the outages, and
//     service comes back by itself within SOAK_MAX_RECOVERY of the store's
//     return; nothing panics.
//
// TestShortSoak (every target, one or two outages each, about a minute in
// all) runs with the other tests; TestSoak (build tag soak, `make soak`)
// is the long version: SOAK_DURATION seconds per engine (default 40),
// SOAK_OUTAGES outages (default: each of the target's faults once; the old
// name SOAK_RESTARTS works too), SOAK_CLIENTS clients (default 12, plus a
// third as many on the shared session). With SOAK_REPORT set to a file
// name, the table is written there as well.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
)

// target is one engine under test.
type target struct {
	name string
	// setup starts the store (servers, proxies) for t and returns how to
	// reach it and how to break it.
	setup func(t *testing.T) rig
}

// rig is a store ready for the soak.
type rig struct {
	// configs are the config strings of the application processes, one
	// Manager and one HTTP server each; every request goes to one of them
	// at random. Two processes that reach a shared store by different
	// paths show what one sees of the other's writes during a partition.
	configs []string
	// faults are the outages the long soak cycles through.
	faults []fault
	// short are the indices of the faults the short soak uses; nil means
	// the first.
	short []int
}

// fault is one kind of outage.
type fault struct {
	name string
	// inject starts the outage, heal ends it (for a server, returning when
	// it answers again). For an application restart (restart set) the
	// harness closes every Manager and opens new ones instead.
	inject, heal func()
	restart      bool
	// whileDown runs during an application restart, while no Manager is
	// open (for the harness's own test, which tampers with the store).
	whileDown func()
	// apps are the application processes the fault cuts off (nil: all),
	// whose recovery is timed.
	apps []int
	// wipes says the store forgets every session by design (a memcached
	// restart): sessions that disappear then are not lost writes.
	wipes bool
	// outage, if set, is how long the long soak keeps this fault on,
	// instead of the schedule's 1, 2 or 3 s.
	outage time.Duration
}

// appRestart is the fault of an engine without a server: the application
// closes its Manager (requests in flight fail) and opens a new one on the
// same store.
var appRestart = fault{name: "app restart", restart: true}

// options shape one soak run.
type options struct {
	// short: the rig's short faults, one outage each, duration per outage;
	// otherwise outages outages (at least one per fault, cycling through
	// them) spread over duration.
	short       bool
	duration    time.Duration
	outages     int
	outage      func(i int) time.Duration // how long outage i lasts
	clients     int                       // clients with sessions of their own
	shared      int                       // clients writing into one shared session
	maxRecovery time.Duration
	// reqTimeout bounds each request on the server (its context), so a
	// request a client gives up on cannot land after the client's next one.
	reqTimeout, clientTimeout time.Duration
}

// report is what a soak of one engine found.
type report struct {
	engine       string
	requests, ok int64
	failedOutage int64 // failed while a fault was on or service not yet back
	failedOther  int64 // failed while the store was healthy
	conflicts    int64 // writes to the shared session refused after too many compare-and-swap rounds
	lost         int64 // acknowledged writes not read back
	undone       int64 // acknowledged logouts whose key loaded again
	deletes      int64 // acknowledged logouts checked
	unchecked    int64 // acknowledged logouts that could not be checked (the store kept failing)
	wiped        int64 // sessions a store forgot by design
	panics       int64
	recoveries   []recovery
	statuses     map[int]int64
	indexed      bool
	notes        []string
	noteCount    int
	sharedAcked  int64
	sharedOK     bool // the shared session was checked
}

type recovery struct {
	fault     string
	outage    time.Duration
	took      time.Duration
	recovered bool
}

func (r *report) maxRecovery() time.Duration {
	var m time.Duration
	for _, x := range r.recoveries {
		m = max(m, x.took)
	}
	return m
}

// app is one application process: a Manager (replaced on a restart)
// behind an HTTP server.
type app struct {
	config string
	cur    atomic.Pointer[sessions.Manager]
	srv    *httptest.Server

	lastOKStart atomic.Int64 // unix ns: start of the latest successful request
	lastFailEnd atomic.Int64 // unix ns: end of the latest failed request
}

// sharedSession is the session several clients write into at once.
type sharedSession struct {
	cookie string
	acked  sync.Map // entry name -> true, for acknowledged writes
	n      atomic.Int64
}

type harness struct {
	t       *testing.T
	tg      string
	opt     options
	st      sessions.Settings
	apps    []*app
	hc      *http.Client
	indexed bool

	// outageSeq is odd from a fault's start until service is back.
	outageSeq atomic.Int64
	// wipeEpoch goes up at the start and at the end of each fault that
	// wipes the store: a session last seen by a request that started
	// before the end may have been wiped.
	wipeEpoch atomic.Int64
	// checkEpoch counts recoveries: clients re-read their session after
	// each.
	checkEpoch atomic.Int64
	panics     atomic.Int64
	seq        atomic.Int64
	stop       chan struct{}

	shared atomic.Pointer[sharedSession]

	mu       sync.Mutex
	rep      report
	deleted  map[string]bool // acknowledged-deleted key -> already found undone
	delOrder []string
	// checkedUpTo is len(delOrder) at the last check.
	checkedUpTo int
}

// sampleOld is how many keys checked before are checked again after an
// outage.
const sampleOld = 200

const cookieName = "sessionid"

// note records a finding for the report's log (the first few only).
func (h *harness) note(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rep.noteCount++
	if len(h.rep.notes) < 20 {
		h.rep.notes = append(h.rep.notes, fmt.Sprintf(format, args...))
	}
}

// short returns a prefix of a session key, for messages.
func short(key string) string {
	if len(key) > 6 {
		return key[:6] + "…"
	}
	return key
}

// statusFor maps a store error to the response status: a write to the
// shared session that lost too many compare-and-swap rounds is a
// conflict (409), anything else a store failure (503).
func statusFor(err error) int {
	if errors.Is(err, sessions.ErrConflict) {
		return http.StatusConflict
	}
	return http.StatusServiceUnavailable
}

func (h *harness) open(ctx context.Context, a *app) error {
	m, err := sessions.Open(ctx, a.config, h.st)
	if err != nil {
		return err
	}
	a.cur.Store(m)
	return nil
}

// handler serves one application process.
func (h *harness) handler(a *app) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				h.panics.Add(1)
				h.note("panic: %v", p)
				http.Error(w, "panic", http.StatusInternalServerError)
			}
		}()
		ctx, cancel := context.WithTimeout(r.Context(), h.opt.reqTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		m := a.cur.Load()
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(m, w, r) })).ServeHTTP(w, r)
	})
}

// serve is the application. Every session request answers the state
// of the session it found: "none" (no cookie), "missing" (a cookie whose
// session the store did not have) or the session's value v.
func (h *harness) serve(m *sessions.Manager, w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	if r.URL.Path == "/deleteuser" {
		n, err := m.DeleteUser(ctx, q.Get("u"))
		if err != nil {
			http.Error(w, "delete user failed", statusFor(err))
			return
		}
		fmt.Fprintf(w, "ended %d", n)
		return
	}
	s := sessions.FromContext(ctx)
	_, err := r.Cookie(cookieName)
	hadCookie := err == nil
	v, _ := sessions.Get[int64](s, "v") // loads the session
	if err := s.Err(); err != nil {
		http.Error(w, "load failed", statusFor(err))
		return
	}
	state := "none"
	switch {
	case hadCookie && s.Key() == "":
		state = "missing"
	case hadCookie:
		state = strconv.FormatInt(v, 10)
	}
	switch r.URL.Path {
	case "/w":
		n, err := strconv.ParseInt(q.Get("v"), 10, 64)
		if err != nil {
			http.Error(w, "bad v", http.StatusBadRequest)
			return
		}
		s.Set("v", n)
	case "/r":
	case "/logout":
		if err := s.Flush(ctx); err != nil {
			http.Error(w, "logout failed", statusFor(err))
			return
		}
	case "/login":
		if err := s.CycleKey(ctx); err != nil {
			http.Error(w, "cycle failed", statusFor(err))
			return
		}
		if h.indexed {
			if err := m.BindUser(ctx, s, q.Get("u")); err != nil {
				http.Error(w, "bind failed", statusFor(err))
				return
			}
		}
	case "/s": // an entry of its own into the shared session
		if state != "missing" {
			s.Set(q.Get("k"), true)
		}
	case "/sr":
		state = strings.Join(s.Keys(), ",")
	default:
		http.NotFound(w, r)
		return
	}
	// Writing the body saves the session first (and replaces the response
	// with an error if that fails).
	io.WriteString(w, state)
}

// result is one request's outcome as a client saw it.
type result struct {
	status    int // 0: no response (transport error)
	body      string
	setCookie string // the session cookie's new value, "" if not set or deleted
}

func (r result) ok() bool { return r.status == http.StatusOK }

// do sends one request to app i and accounts for it.
func (h *harness) do(i int, path, cookie string) result {
	a := h.apps[i]
	req, _ := http.NewRequest("GET", a.srv.URL+path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	seq0 := h.outageSeq.Load()
	start := time.Now()
	res, err := h.hc.Do(req)
	var out result
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		out.status, out.body = res.StatusCode, string(b)
		for _, c := range res.Cookies() {
			if c.Name == cookieName && c.MaxAge >= 0 {
				out.setCookie = c.Value
			}
		}
	}
	seq1 := h.outageSeq.Load()
	during := seq0%2 == 1 || seq1 != seq0
	h.mu.Lock()
	h.rep.requests++
	h.rep.statuses[out.status]++
	switch {
	case out.ok():
		h.rep.ok++
	case out.status == http.StatusConflict:
		h.rep.conflicts++
	case during:
		h.rep.failedOutage++
	default:
		h.rep.failedOther++
		if h.rep.failedOther <= 5 {
			h.rep.notes = append(h.rep.notes, fmt.Sprintf("failed outside an outage: %s: %d %q %v", strings.SplitN(path, "?", 2)[0], out.status, firstLine(out.body, 300), err))
		}
	}
	h.mu.Unlock()
	switch {
	case out.ok():
		for {
			old := a.lastOKStart.Load()
			if old >= start.UnixNano() || a.lastOKStart.CompareAndSwap(old, start.UnixNano()) {
				break
			}
		}
	case out.status != http.StatusConflict:
		a.lastFailEnd.Store(time.Now().UnixNano())
	}
	return out
}

func (h *harness) pick(rng *rand.Rand) int { return rng.IntN(len(h.apps)) }

// client is one user with a session of its own, doing one request at a
// time.
type client struct {
	id        int
	user      string
	key       string // the session cookie held, "" for none
	n         int64  // the last value written
	lastAcked int64  // the value of the last acknowledged write to this session
	// inDoubt are writes that got no response at all: they may still land.
	inDoubt map[int64]bool
	// uncertain: a logout, login or DeleteUser that failed may have ended
	// the session.
	uncertain bool
	bound     bool   // the session is bound to user (an acknowledged login)
	epoch     int64  // wipeEpoch when the session was last seen
	checked   int64  // checkEpoch when the session was last read
	retry     string // the operation that failed last, tried again next
}

// reset forgets the client's session.
func (c *client) reset() {
	c.key, c.lastAcked, c.uncertain, c.bound = "", 0, false, false
	clear(c.inDoubt)
}

// observe checks the state a request found against what the client knows
// was acknowledged. It returns false if the session was missing.
func (h *harness) observe(c *client, op, state string, epoch int64) bool {
	switch state {
	case "none":
		c.epoch = epoch
		return true
	case "missing":
		switch {
		case c.uncertain:
		case epoch != c.epoch:
			h.mu.Lock()
			h.rep.wiped++
			h.mu.Unlock()
		default:
			h.mu.Lock()
			h.rep.lost++
			h.mu.Unlock()
			h.note("client %d: %s: session %s gone (last acknowledged v=%d)", c.id, op, short(c.key), c.lastAcked)
		}
		c.reset()
		c.epoch = epoch
		return false
	}
	v, err := strconv.ParseInt(state, 10, 64)
	switch {
	case err != nil:
		h.mu.Lock()
		h.rep.lost++
		h.mu.Unlock()
		h.note("client %d: %s: unreadable state %q", c.id, op, state)
	case v > c.n:
		h.mu.Lock()
		h.rep.lost++
		h.mu.Unlock()
		h.note("client %d: %s: read v=%d, never written (last written %d)", c.id, op, v, c.n)
	case v < c.lastAcked && !c.inDoubt[v]:
		h.mu.Lock()
		h.rep.lost++
		h.mu.Unlock()
		h.note("client %d: %s: session %s read v=%d, older than the acknowledged v=%d", c.id, op, short(c.key), v, c.lastAcked)
		c.lastAcked = v // count it once
	}
	c.uncertain = false
	c.epoch = epoch
	return true
}

// deleted records a key whose end was acknowledged.
func (h *harness) addDeleted(key string) {
	if key == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.deleted[key]; !ok {
		h.deleted[key] = false
		h.delOrder = append(h.delOrder, key)
		h.rep.deletes++
	}
}

func (h *harness) runClient(c *client) {
	rng := rand.New(rand.NewPCG(uint64(c.id), uint64(time.Now().UnixNano())))
	for {
		select {
		case <-h.stop:
			return
		default:
		}
		epoch := h.wipeEpoch.Load()
		ce := h.checkEpoch.Load()
		i := h.pick(rng)
		op := c.retry
		if op == "" {
			p := rng.IntN(100)
			switch {
			case c.key != "" && ce != c.checked:
				// After a recovery: read the session back first.
				c.checked = ce
				op = "read"
			case c.key != "" && p < 6:
				op = "logout"
			case c.key != "" && p < 12:
				op = "login"
			case h.indexed && p < 15:
				op = "deleteuser"
			case c.key != "" && p < 25:
				op = "read"
			default:
				op = "write"
			}
		}
		// A user retries what failed, as long as it fails: so only the
		// clients caught in a logout or login by an outage are left
		// unsure whether their session still exists.
		ok := false
		switch op {
		case "read":
			ok = h.read(c, i, epoch)
		case "write":
			ok = h.write(c, i, epoch)
		case "logout":
			ok = h.logout(c, i, epoch)
		case "login":
			ok = h.login(c, i, epoch)
		case "deleteuser":
			ok = h.deleteUser(c, i, epoch)
		}
		c.retry = ""
		if !ok {
			c.retry = op
			h.backoff()
		}
	}
}

func (h *harness) write(c *client, i int, epoch int64) bool {
	c.n++
	n := c.n
	res := h.do(i, "/w?v="+strconv.FormatInt(n, 10), c.key)
	if !res.ok() {
		if res.status == 0 {
			c.inDoubt[n] = true
		}
		return false
	}
	h.observe(c, "write", res.body, epoch)
	if c.key == "" {
		if res.setCookie == "" {
			h.note("client %d: a new session got no cookie", c.id)
			return true
		}
		c.key = res.setCookie
	} else if res.setCookie != "" && res.setCookie != c.key {
		h.note("client %d: write: cookie changed from %s to %s", c.id, short(c.key), short(res.setCookie))
		c.key = res.setCookie
	}
	c.lastAcked = n
	return true
}

func (h *harness) read(c *client, i int, epoch int64) bool {
	if c.key == "" {
		return true
	}
	res := h.do(i, "/r", c.key)
	if !res.ok() {
		return false
	}
	h.observe(c, "read", res.body, epoch)
	return true
}

func (h *harness) logout(c *client, i int, epoch int64) bool {
	old := c.key
	if old == "" {
		return true
	}
	res := h.do(i, "/logout", old)
	if !res.ok() {
		c.uncertain = true
		return false
	}
	if h.observe(c, "logout", res.body, epoch) {
		h.addDeleted(old)
	}
	c.reset()
	return true
}

func (h *harness) login(c *client, i int, epoch int64) bool {
	old := c.key
	if old == "" {
		return true
	}
	res := h.do(i, "/login?u="+c.user, old)
	if !res.ok() {
		c.uncertain = true
		return false
	}
	if h.observe(c, "login", res.body, epoch) {
		h.addDeleted(old) // CycleKey's old key
	}
	switch {
	case res.setCookie == old:
		h.note("client %d: login kept key %s", c.id, short(old))
	case res.setCookie == "" && h.indexed:
		h.note("client %d: login set no cookie", c.id)
	}
	c.key = res.setCookie
	c.bound = h.indexed && c.key != ""
	c.uncertain = false
	return true
}

func (h *harness) deleteUser(c *client, i int, _ int64) bool {
	res := h.do(i, "/deleteuser?u="+c.user, "")
	if !res.ok() {
		if c.bound {
			c.uncertain = true
		}
		return false
	}
	if c.bound && c.key != "" {
		h.addDeleted(c.key)
		c.reset()
	}
	return true
}

func (h *harness) backoff() { time.Sleep(20 * time.Millisecond) }

// seedShared creates a new shared session through app 0, retrying while
// the store fails.
func (h *harness) seedShared() error {
	var last result
	for range 100 {
		last = h.do(0, "/s?k=seed", "")
		if last.ok() && last.setCookie != "" {
			s := &sharedSession{cookie: last.setCookie}
			s.acked.Store("seed", true)
			h.shared.Store(s)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("cannot create the shared session: %d %q", last.status, last.body)
}

func (h *harness) runShared(id int) {
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	for {
		select {
		case <-h.stop:
			return
		default:
		}
		s := h.shared.Load()
		k := fmt.Sprintf("k%d_%d", id, h.seq.Add(1))
		res := h.do(h.pick(rng), "/s?k="+k, s.cookie)
		switch {
		case res.ok() && res.body != "missing":
			s.acked.Store(k, true)
			s.n.Add(1)
		case !res.ok():
			h.backoff()
		}
	}
}

// checkShared reads the shared session through every app: every
// acknowledged entry must be there.
func (h *harness) checkShared() {
	s := h.shared.Load()
	for i := range h.apps {
		var res result
		for range 50 {
			if res = h.do(i, "/sr", s.cookie); res.ok() {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !res.ok() {
			h.note("shared session: cannot read it through app %d: %d %q", i, res.status, res.body)
			h.mu.Lock()
			h.rep.unchecked++
			h.mu.Unlock()
			continue
		}
		got := map[string]bool{}
		for _, k := range strings.Split(res.body, ",") {
			got[k] = true
		}
		var missing int64
		s.acked.Range(func(k, _ any) bool {
			if !got[k.(string)] {
				missing++
			}
			return true
		})
		h.mu.Lock()
		h.rep.lost += missing
		h.rep.sharedAcked = s.n.Load()
		h.rep.sharedOK = true
		h.mu.Unlock()
		if missing > 0 {
			h.note("shared session (app %d): %d of %d acknowledged entries missing", i, missing, s.n.Load()+1)
		}
	}
}

// checkDeleted loads keys whose end was acknowledged, through every app:
// none may load. The final check takes every key; the one after an
// outage every key acknowledged since the previous check and a sample of
// the older ones (those were checked once already, and checking
// thousands of keys after every outage would crowd out the clients). A
// key that cannot be checked (the store keeps failing) counts as
// unchecked in the final check.
func (h *harness) checkDeleted(final bool) {
	h.mu.Lock()
	var keys []string
	from := 0
	if !final {
		from = h.checkedUpTo
		old := h.delOrder[:from]
		for range min(len(old), sampleOld) {
			if k := old[rand.IntN(len(old))]; !h.deleted[k] {
				keys = append(keys, k)
			}
		}
	}
	for _, k := range h.delOrder[from:] {
		if !h.deleted[k] {
			keys = append(keys, k)
		}
	}
	h.checkedUpTo = len(h.delOrder)
	h.mu.Unlock()
	type job struct {
		key string
		app int
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var unchecked atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				undone, ok := h.loads(j.app, j.key)
				if !ok {
					unchecked.Add(1)
					continue
				}
				if undone {
					h.mu.Lock()
					first := !h.deleted[j.key]
					h.deleted[j.key] = true
					if first {
						h.rep.undone++
					}
					h.mu.Unlock()
					if first {
						h.note("logged-out session %s loads again through app %d", short(j.key), j.app)
					}
				}
			}
		}()
	}
	t0 := time.Now()
	for _, k := range keys {
		for i := range h.apps {
			jobs <- job{k, i}
		}
	}
	close(jobs)
	wg.Wait()
	h.t.Logf("%s: %d logged-out keys checked in %s", h.tg, len(keys), time.Since(t0).Truncate(time.Millisecond))
	if final {
		h.mu.Lock()
		h.rep.unchecked += unchecked.Load()
		h.mu.Unlock()
	}
}

// loads reports whether key loads through app i; ok is false if the
// store kept failing.
func (h *harness) loads(i int, key string) (undone, ok bool) {
	for attempt := 0; attempt < 20; attempt++ {
		m := h.apps[i].cur.Load()
		ctx, cancel := context.WithTimeout(context.Background(), h.opt.reqTimeout)
		s := m.Load(ctx, key)
		s.Keys()
		err := s.Err()
		present := s.Key() != ""
		cancel()
		if err == nil {
			return present, true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false, false
}

// waitRecovered waits until every app the fault affects serves requests
// again (one started after healed succeeded, and none failed for a
// while), and returns how long after healed service was back.
func (h *harness) waitRecovered(f fault, healed time.Time) (time.Duration, bool) {
	apps := f.apps
	if apps == nil {
		for i := range h.apps {
			apps = append(apps, i)
		}
	}
	const quiet = 500 * time.Millisecond
	limit := healed.Add(max(30*time.Second, 3*h.opt.maxRecovery))
	firstOK := make([]time.Time, len(apps))
	for {
		now := time.Now()
		done := true
		var took time.Duration
		for j, i := range apps {
			a := h.apps[i]
			if firstOK[j].IsZero() && a.lastOKStart.Load() > healed.UnixNano() {
				firstOK[j] = now
			}
			lastFail := time.Unix(0, a.lastFailEnd.Load())
			if firstOK[j].IsZero() || now.Sub(lastFail) < quiet {
				done = false
				continue
			}
			took = max(took, firstOK[j].Sub(healed), lastFail.Sub(healed))
		}
		if done {
			return took, true
		}
		if now.After(limit) {
			return now.Sub(healed), false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countingHandler counts log records instead of printing a line per
// failed request during an outage.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// soak runs one target and returns its report (see verdict).
func soak(t *testing.T, tg target, opt options) report {
	rg := tg.setup(t)
	faults := rg.short
	if opt.short {
		if faults == nil {
			faults = []int{0}
		}
		opt.outages = len(faults)
		opt.duration *= time.Duration(opt.outages)
	} else {
		faults = nil
		for i := range rg.faults {
			faults = append(faults, i)
		}
		opt.outages = max(opt.outages, len(faults))
	}
	h := &harness{t: t, tg: tg.name, opt: opt, stop: make(chan struct{}), deleted: map[string]bool{}}
	h.rep = report{engine: tg.name, statuses: map[int]int64{}}
	var logged atomic.Int64
	h.st = sessions.DefaultSettings()
	h.st.SecretKey = "soak-secret-key"
	h.st.Logger = slog.New(countingHandler{&logged})
	h.st.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// The error text, for the report's notes (it holds no secrets and
		// no full session keys).
		http.Error(w, "session store failed: "+err.Error(), statusFor(err))
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 4 * (opt.clients + opt.shared)}
	defer tr.CloseIdleConnections()
	h.hc = &http.Client{Transport: tr, Timeout: opt.clientTimeout}
	ctx := context.Background()
	for _, cfg := range rg.configs {
		a := &app{config: cfg}
		if err := h.open(ctx, a); err != nil {
			t.Fatalf("open %s: %v", tg.name, err)
		}
		a.srv = httptest.NewServer(h.handler(a))
		h.apps = append(h.apps, a)
	}
	defer func() {
		for _, a := range h.apps {
			a.srv.Close()
			a.cur.Load().Close()
		}
	}()
	_, err := h.apps[0].cur.Load().UserSessions(ctx, "probe")
	switch {
	case err == nil:
		h.indexed = true
	case !errors.Is(err, sessions.ErrUnsupported):
		t.Fatalf("UserSessions: %v", err)
	}
	h.rep.indexed = h.indexed
	if err := h.seedShared(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	clients := make([]*client, opt.clients)
	for i := range clients {
		c := &client{id: i, user: "u" + strconv.Itoa(i), inDoubt: map[int64]bool{}}
		clients[i] = c
		wg.Go(func() { h.runClient(c) })
	}
	for i := range opt.shared {
		wg.Go(func() { h.runShared(100 + i) })
	}

	// The faults, spread over the run.
	start := time.Now()
	interval := opt.duration / time.Duration(opt.outages+1)
	lastBack := start
	for i := range opt.outages {
		f := rg.faults[faults[i%len(faults)]]
		outage := opt.outage(i)
		if f.outage > 0 && !opt.short {
			outage = f.outage
		}
		if wait := time.Until(start.Add(time.Duration(i+1)*interval - outage/2)); wait > 0 {
			time.Sleep(wait)
		}
		h.outageSeq.Add(1)
		if f.wipes {
			h.wipeEpoch.Add(1)
		}
		if f.restart {
			for _, a := range h.apps {
				a.cur.Load().Close() // requests in flight fail: the application is going down
			}
			time.Sleep(outage / 4)
			if f.whileDown != nil {
				f.whileDown()
			}
			for _, a := range h.apps {
				if err := h.open(ctx, a); err != nil {
					t.Fatalf("reopen: %v", err)
				}
			}
		} else {
			f.inject()
			time.Sleep(outage)
			f.heal()
		}
		healed := time.Now()
		if f.wipes {
			h.wipeEpoch.Add(1)
		}
		// Logged-out keys are checked as soon as the store is back (a
		// store that brought one back may see it deleted again soon, by
		// a DeleteUser that found it in a user index brought back too),
		// and again once service is back.
		var check sync.WaitGroup
		check.Go(func() { h.checkDeleted(false) })
		took, ok := h.waitRecovered(f, healed)
		if f.wipes {
			if err := h.seedShared(); err != nil {
				t.Error(err)
			}
		}
		h.outageSeq.Add(1)
		h.mu.Lock()
		h.rep.recoveries = append(h.rep.recoveries, recovery{fault: f.name, outage: outage, took: took, recovered: ok})
		h.mu.Unlock()
		t.Logf("%s: outage %d: %s for %s, service back %s after the store", tg.name, i+1, f.name, outage, took.Truncate(time.Millisecond))
		h.checkEpoch.Add(1)
		check.Wait()
		h.checkDeleted(false)
		lastBack = time.Now()
	}
	// Normal service to the end, at least a second after the last outage.
	end := start.Add(opt.duration)
	if e := lastBack.Add(time.Second); e.After(end) {
		end = e
	}
	time.Sleep(time.Until(end))
	close(h.stop)
	wg.Wait()

	// The final checks: each client's session through every app, the
	// shared session, and every acknowledged logout.
	for _, c := range clients {
		if c.key == "" {
			continue
		}
		for i := range h.apps {
			epoch := h.wipeEpoch.Load()
			for attempt := 0; attempt < 50; attempt++ {
				res := h.do(i, "/r", c.key)
				if res.ok() {
					h.observe(c, "final read", res.body, epoch)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if c.key == "" {
				break
			}
		}
	}
	h.checkShared()
	h.checkDeleted(true)

	rep := h.rep
	rep.panics = h.panics.Load()
	for _, n := range rep.notes {
		t.Log(n)
	}
	if rep.noteCount > len(rep.notes) {
		t.Logf("(%d more findings)", rep.noteCount-len(rep.notes))
	}
	t.Logf("%s: statuses %v; %d store errors logged; shared session: %d acknowledged entries, %d writes refused as conflicts; user index: %v",
		tg.name, rep.statuses, logged.Load(), rep.sharedAcked, rep.conflicts, rep.indexed)
	return rep
}

// verdict fails t if the soak found lost writes, undone logouts, panics,
// checks it could not make, or a slow recovery.
func verdict(t *testing.T, rep report, opt options) {
	t.Helper()
	if rep.panics > 0 {
		t.Errorf("%d panics", rep.panics)
	}
	if rep.lost > 0 {
		t.Errorf("%d acknowledged writes lost", rep.lost)
	}
	if rep.undone > 0 {
		t.Errorf("%d acknowledged logouts undone", rep.undone)
	}
	if rep.unchecked > 0 {
		t.Errorf("%d checks could not be made: the store kept failing after the soak", rep.unchecked)
	}
	for _, r := range rep.recoveries {
		if !r.recovered {
			t.Errorf("%s: service not back %s after the store", r.fault, r.took.Truncate(time.Millisecond))
		} else if r.took > opt.maxRecovery {
			t.Errorf("%s: service back only %s after the store (bound %s)", r.fault, r.took.Truncate(time.Millisecond), opt.maxRecovery)
		}
	}
	if rep.ok == 0 {
		t.Error("no request succeeded")
	}
	if !rep.sharedOK {
		t.Error("the shared session could not be checked")
	}
}

// table formats the reports as a Markdown table, one row per engine,
// padded to line up in a terminal too.
func table(rs []report) string {
	rows := [][]string{{"engine", "requests", "failed in outages", "failed otherwise", "lost writes", "logouts undone", "logouts checked", "wiped by design", "max recovery", "recovery after each outage"}}
	for _, r := range rs {
		var recs []string
		for _, x := range r.recoveries {
			s := fmt.Sprintf("%s %s: %s", x.fault, fmtDur(x.outage), fmtDur(x.took))
			if !x.recovered {
				s += " (not back)"
			}
			recs = append(recs, s)
		}
		rows = append(rows, []string{r.engine, itoa(r.requests), itoa(r.failedOutage), itoa(r.failedOther), itoa(r.lost), itoa(r.undone),
			itoa(r.deletes), itoa(r.wiped), fmtDur(r.maxRecovery()), strings.Join(recs, ", ")})
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(row []string) {
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0 || i == len(row)-1:
				b.WriteString("| " + c + pad + " ")
			default:
				b.WriteString("| " + pad + c + " ")
			}
		}
		b.WriteString("|\n")
	}
	line(rows[0])
	for i, w := range width {
		if i == 0 || i == len(width)-1 {
			b.WriteString("|" + strings.Repeat("-", w+2))
		} else {
			b.WriteString("|" + strings.Repeat("-", w+1) + ":")
		}
	}
	b.WriteString("|\n")
	for _, row := range rows[1:] {
		line(row)
	}
	return b.String()
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "0ms"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	s := strconv.FormatFloat(d.Seconds(), 'f', 2, 64)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".") + "s"
}

// writeReport writes the table to the file named by SOAK_REPORT, if set.
func writeReport(t *testing.T, title string, rs []report) {
	name := os.Getenv("SOAK_REPORT")
	if name == "" {
		return
	}
	text := title + "\n\n" + table(rs)
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Errorf("SOAK_REPORT: %v", err)
	}
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
