package conformance

import (
	"errors"
	"math"
	"math/big"
	"net/http"
	"time"

	"github.com/sessionkit/sessions"
)

// expiryStoreCases check that an expired record is dead to every method.
func expiryStoreCases() []storeCase {
	return []storeCase{
		{name: "PastExpiry", reason: "a record created with an expiry in the past is never returned", run: storePastExpiry},
		{name: "Expiry", reason: "after its expiry has passed a record is not returned, even if not purged yet (late by at most the time its write took)", run: storeExpiry},
		{name: "ExpiredDoesNotBlockCreate", reason: "Create succeeds on a key whose record has expired (it is dead, not existing)", run: storeExpiredDoesNotBlockCreate},
		{name: "WriteIntoThePast", reason: "Update, and Swap, with an expiry in the past leave no live record: Load returns ErrNotFound", run: storeWriteIntoThePast},
		{name: "UpdateExpired", reason: "Update of an expired record returns ErrNotFound (it would resurrect a dead session)", run: storeUpdateExpired},
		{name: "TouchExtends", reason: "Toucher: a touched record outlives its original expiry", run: storeTouchExtends},
		{name: "SwapExpired", reason: "Swapper: an expired record is missing to Swap (ErrNotFound), never resurrected", run: storeSwapExpired},
		{name: "DeleteExpired", reason: "ExpiredDeleter: removes the expired records, only those, and counts them", run: storeDeleteExpired},
	}
}

// expiryCases check a session's expiry as Django computes it.
func expiryCases() []managerCase {
	return []managerCase{
		{name: "DefaultExpiry", reason: "the default expiry age is the cookie age, also after SetExpiry(0) (test_default_expiry)", run: caseDefaultExpiry},
		{name: "CustomExpirySeconds", reason: "SetExpiry(10s): expiry date is now + 10 s and age 10 s (test_custom_expiry_seconds)", run: caseCustomExpirySeconds},
		{name: "CustomExpiryDatetime", reason: "SetExpiryAt(now+10s): same date and age (test_custom_expiry_datetime, test_custom_expiry_timedelta)", run: caseCustomExpiryDatetime},
		{name: "CustomExpiryReset", reason: "ResetExpiry goes back to the cookie age (test_custom_expiry_reset)", run: caseCustomExpiryReset},
		{name: "ExpireAtBrowserClose", reason: "custom expiry 10 → false, 0 → true, none → the setting (test_get_expire_at_browser_close)", run: caseExpireAtBrowserClose},
		{name: "ActualExpiry", serverOnly: true, reason: "a session saved with a past expiry is gone for the next request (test_actual_expiry)", run: caseActualExpiry},
		{name: "PythonExpiryValues", reason: "what else a Django app's set_expiry may store reads as Django reads it: False is 0 (at browser close, the cookie age), True is 1 second, a fraction of a second is an expiry of one second, either way (not 0: never 'at browser close' nor two weeks; Django keeps the fraction), a fraction beyond a second counts its whole seconds", run: casePythonExpiryValues},
		{name: "ExtremeExpiry", reason: "an expiry of any size (the largest int64, a float or a Python int beyond it, their negatives: what a Django app's set_expiry may store; a date centuries away, SetExpiryAt's 'never') gives one answer: the cookie is sent alive exactly when the stored session lives, and ExpiryAge agrees with ExpiryDate", run: caseExtremeExpiry},
		{name: "ShortExpiry", serverOnly: true, reason: "a session with a 1-second expiry is gone once it has passed, on every engine", run: caseShortExpiry},
	}
}

func storePastExpiry(t tb, ev *env) {
	k := sessions.NewKey()
	err := ev.e.Create(ev.ctx, k, []byte("x"), time.Now().Add(-time.Hour))
	noErr(t, "Create with a past expiry", err)
	_, err = ev.e.Load(ev.ctx, k)
	wantErr(t, "Load", err, sessions.ErrNotFound)
}

func storeWriteIntoThePast(t tb, ev *env) {
	k := sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("v1"), future(ev)))
	noErr(t, "Update with a past expiry", ev.e.Update(ev.ctx, k, []byte("v2"), time.Now().Add(-time.Second)))
	_, err := ev.e.Load(ev.ctx, k)
	wantErr(t, "Load after Update with a past expiry", err, sessions.ErrNotFound)
	sw, ok := ev.e.(sessions.Swapper)
	if !ok {
		return
	}
	k = sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("v1"), future(ev)))
	noErr(t, "Swap with a past expiry", sw.Swap(ev.ctx, k, []byte("v1"), []byte("v2"), time.Now().Add(-time.Second)))
	_, err = ev.e.Load(ev.ctx, k)
	wantErr(t, "Load after Swap with a past expiry", err, sessions.ErrNotFound)
}

func storeExpiry(t tb, ev *env) {
	if ev.caps.SlowExpiry {
		t.Skipf("the engine declares SlowExpiry")
	}
	k := sessions.NewKey()
	res := ev.caps.res()
	start := time.Now()
	exp := start.Add(2 * res)
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("x"), exp))
	// A store that counts a time to live from when the write reaches it
	// (Redis's PX, memcached) may expire the record late by as much as
	// the write took to get there, which a loaded machine can make tens
	// of milliseconds: the wait starts when Create returned.
	took := time.Since(start)
	if _, err := ev.e.Load(ev.ctx, k); err != nil {
		t.Fatalf("Load before expiry: %v", err)
	}
	sleepUntil(exp.Add(took + res + 10*time.Millisecond))
	_, err := ev.e.Load(ev.ctx, k)
	wantErr(t, "Load after expiry", err, sessions.ErrNotFound)
}

func storeExpiredDoesNotBlockCreate(t tb, ev *env) {
	k := sessions.NewKey()
	noErr(t, "Create expired", ev.e.Create(ev.ctx, k, []byte("old"), time.Now().Add(-time.Hour)))
	noErr(t, "Create over an expired record", ev.e.Create(ev.ctx, k, []byte("new"), future(ev)))
	got, err := ev.e.Load(ev.ctx, k)
	noErr(t, "Load", err)
	wantData(t, "Load", got, []byte("new"))
}

func storeUpdateExpired(t tb, ev *env) {
	k := sessions.NewKey()
	noErr(t, "Create expired", ev.e.Create(ev.ctx, k, []byte("old"), time.Now().Add(-time.Hour)))
	wantErr(t, "Update", ev.e.Update(ev.ctx, k, []byte("new"), future(ev)), sessions.ErrNotFound)
	_, err := ev.e.Load(ev.ctx, k)
	wantErr(t, "Load", err, sessions.ErrNotFound)
}

func storeTouchExtends(t tb, ev *env) {
	to, ok := ev.e.(sessions.Toucher)
	if !ok {
		t.Skipf("the engine does not implement Toucher")
	}
	if ev.caps.SlowExpiry {
		t.Skipf("the engine declares SlowExpiry")
	}
	res := ev.caps.res()
	k := sessions.NewKey()
	exp := time.Now().Add(2 * res)
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("data"), exp))
	noErr(t, "Touch", to.Touch(ev.ctx, k, time.Now().Add(time.Hour)))
	sleepUntil(exp.Add(res + 10*time.Millisecond))
	_, err := ev.e.Load(ev.ctx, k)
	noErr(t, "Load after the original expiry", err)
}

func storeSwapExpired(t tb, ev *env) {
	s, ok := ev.e.(sessions.Swapper)
	if !ok {
		t.Skipf("the engine does not implement Swapper")
	}
	k := sessions.NewKey()
	noErr(t, "Create expired", ev.e.Create(ev.ctx, k, []byte("old"), time.Now().Add(-time.Hour)))
	wantErr(t, "Swap", s.Swap(ev.ctx, k, []byte("old"), []byte("new"), future(ev)), sessions.ErrNotFound)
	_, err := ev.e.Load(ev.ctx, k)
	wantErr(t, "Load", err, sessions.ErrNotFound)
}

func storeDeleteExpired(t tb, ev *env) {
	d, ok := ev.e.(sessions.ExpiredDeleter)
	if !ok {
		t.Skipf("the engine does not implement ExpiredDeleter")
	}
	var live, dead []string
	for range 5 {
		k := sessions.NewKey()
		noErr(t, "Create live", ev.e.Create(ev.ctx, k, []byte("live"), future(ev)))
		live = append(live, k)
	}
	for range 7 {
		k := sessions.NewKey()
		noErr(t, "Create expired", ev.e.Create(ev.ctx, k, []byte("dead"), time.Now().Add(-time.Minute)))
		dead = append(dead, k)
	}
	n, err := d.DeleteExpired(ev.ctx)
	noErr(t, "DeleteExpired", err)
	if ev.caps.NativeExpiry {
		for _, k := range dead {
			if _, err := ev.e.Load(ev.ctx, k); !errors.Is(err, sessions.ErrNotFound) {
				t.Fatalf("an expired record is readable: %v", err)
			}
		}
		for _, k := range live {
			if _, err := ev.e.Load(ev.ctx, k); err != nil {
				t.Fatalf("live record gone after DeleteExpired: %v", err)
			}
		}
		return
	}
	if n < int64(len(dead)) {
		t.Fatalf("DeleteExpired reported %d, want at least %d", n, len(dead))
	}
	for _, k := range live {
		if _, err := ev.e.Load(ev.ctx, k); err != nil {
			t.Fatalf("live record gone after DeleteExpired: %v", err)
		}
	}
	n, err = d.DeleteExpired(ev.ctx)
	if err != nil || n != 0 {
		t.Fatalf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func caseDefaultExpiry(c *mgr) {
	s := c.manager(nil).NewSession(c.ctx)
	if got := s.ExpiryAge(); got != sessions.DefaultCookieAge {
		c.t.Errorf("ExpiryAge = %v", got)
	}
	s.SetExpiry(0)
	if got := s.ExpiryAge(); got != sessions.DefaultCookieAge {
		c.t.Errorf("ExpiryAge after SetExpiry(0) = %v", got)
	}
}

func caseCustomExpirySeconds(c *mgr) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m := c.manager(func(s *sessions.Settings) { s.Clock = func() time.Time { return now } })
	s := m.NewSession(c.ctx)
	s.SetExpiry(10 * time.Second)
	if d := s.ExpiryDate(); !d.Equal(now.Add(10 * time.Second)) {
		c.t.Errorf("ExpiryDate = %v", d)
	}
	if a := s.ExpiryAge(); a != 10*time.Second {
		c.t.Errorf("ExpiryAge = %v", a)
	}
}

func caseCustomExpiryDatetime(c *mgr) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m := c.manager(func(s *sessions.Settings) { s.Clock = func() time.Time { return now } })
	s := m.NewSession(c.ctx)
	s.SetExpiryAt(now.Add(10 * time.Second))
	if d := s.ExpiryDate(); !d.Equal(now.Add(10 * time.Second)) {
		c.t.Errorf("ExpiryDate = %v", d)
	}
	if a := s.ExpiryAge(); a != 10*time.Second {
		c.t.Errorf("ExpiryAge = %v", a)
	}
	if v := s.Get(sessions.ExpiryKey); v != "2030-01-02T03:04:15+00:00" {
		c.t.Errorf("stored expiry %v, want Django's isoformat", v)
	}
}

func caseCustomExpiryReset(c *mgr) {
	s := c.manager(nil).NewSession(c.ctx)
	s.SetExpiry(10 * time.Second)
	s.ResetExpiry()
	if a := s.ExpiryAge(); a != sessions.DefaultCookieAge {
		c.t.Errorf("ExpiryAge = %v", a)
	}
}

func caseExpireAtBrowserClose(c *mgr) {
	for _, setting := range []bool{false, true} {
		m := c.manager(func(s *sessions.Settings) { s.ExpireAtBrowserClose = setting })
		s := m.NewSession(c.ctx)
		s.SetExpiry(10 * time.Second)
		if s.ExpireAtBrowserClose() {
			c.t.Errorf("setting %v, expiry 10: true", setting)
		}
		s.SetExpiry(0)
		if !s.ExpireAtBrowserClose() {
			c.t.Errorf("setting %v, expiry 0: false", setting)
		}
		s.ResetExpiry()
		if s.ExpireAtBrowserClose() != setting {
			c.t.Errorf("setting %v, no expiry: %v", setting, !setting)
		}
	}
}

func caseActualExpiry(c *mgr) {
	m := c.manager(nil)
	s := m.NewSession(c.ctx)
	s.Set("foo", "bar")
	s.Save(c.ctx)
	key := s.Key()
	s.SetExpiryAt(time.Now().Add(-10 * time.Second))
	if err := s.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	if r := m.Load(c.ctx, key); r.Has("foo") {
		c.t.Error("expired session still loads")
	}
}

func caseShortExpiry(c *mgr) {
	if c.h.Caps.SlowExpiry {
		c.t.Skip("the engine declares SlowExpiry")
	}
	m := c.manager(nil)
	s := m.NewSession(c.ctx)
	s.Set("foo", "bar")
	s.SetExpiry(time.Second)
	s.Save(c.ctx)
	if r := m.Load(c.ctx, s.Key()); !r.Has("foo") {
		c.t.Fatal("not there before expiry")
	}
	time.Sleep(1100*time.Millisecond + 2*c.h.Caps.TTLResolution)
	if r := m.Load(c.ctx, s.Key()); r.Has("foo") {
		c.t.Error("still there after expiry")
	}
}

func caseExtremeExpiry(c *mgr) {
	m := c.manager(nil)
	huge := new(big.Int).Lsh(big.NewInt(1), 80)
	far := []any{time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)} // SetExpiryAt: "never"
	for _, v := range append([]any{int64(math.MaxInt64), int64(math.MaxInt64 / 1000), int64(math.MinInt64), 1e300, -1e300, huge, new(big.Int).Neg(huge)}, far...) {
		key := c.saved(m, map[string]any{"foo": "bar"})
		var age time.Duration
		res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			if at, ok := v.(time.Time); ok {
				s.SetExpiryAt(at)
			} else {
				s.Set(sessions.ExpiryKey, v)
			}
			now := time.Now()
			age = s.ExpiryAge()
			if d := s.ExpiryDate().Sub(now); d-age > 2*time.Second || age-d > 2*time.Second {
				c.t.Errorf("expiry %v: ExpiryAge %v, but ExpiryDate is %v from now", v, age, d)
			}
		}, key)
		if res.StatusCode != http.StatusOK {
			c.t.Errorf("expiry %v: status %d", v, res.StatusCode)
			continue
		}
		if c.token == "" {
			// A cookie alive for the session's age, or deleted at once.
			if ck := c.sent(res); ck == nil || (ck.MaxAge > 0) != (age > 0) {
				c.t.Errorf("expiry %v: ExpiryAge %v, but the response sent the cookie %q", v, age, c.raw(res))
			}
		}
		if c.client {
			continue
		}
		if live := m.Load(c.ctx, key).Has("foo"); live != (age > 0) {
			c.t.Errorf("expiry %v: ExpiryAge %v, but the stored session lives: %v", v, age, live)
		}
	}
}

func casePythonExpiryValues(c *mgr) {
	m := c.manager(nil)
	cookieAge := m.Settings().CookieAge
	for _, tc := range []struct {
		v           any
		atClose     bool
		minAge, max time.Duration
	}{
		{false, true, cookieAge, cookieAge},
		{true, false, time.Second, time.Second},
		{0.5, false, time.Second, time.Second}, // rounded away from 0 (README: a difference)
		{-0.5, false, -time.Second, -time.Second},
		{1.5, false, time.Second, time.Second},
	} {
		s := m.NewSession(c.ctx)
		s.Set(sessions.ExpiryKey, tc.v)
		if got := s.ExpireAtBrowserClose(); got != tc.atClose {
			c.t.Errorf("_session_expiry %v: ExpireAtBrowserClose %v, want %v (Django: expiry == 0)", tc.v, got, tc.atClose)
		}
		if age := s.ExpiryAge(); age < tc.minAge || age > tc.max {
			c.t.Errorf("_session_expiry %v: ExpiryAge %v, want %v to %v", tc.v, age, tc.minAge, tc.max)
		}
	}
}
