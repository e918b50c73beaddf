package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

// sessionCases are Django's SessionTestsMixin: a Session over the engine.
func sessionCases() []managerCase {
	return []managerCase{
		{name: "NewSession", reason: "a new session is neither modified nor accessed (test_new_session)", run: caseNewSession},
		{name: "GetEmpty", reason: "Get on an empty session returns nil (test_get_empty)", run: caseGetEmpty},
		{name: "Store", reason: "Set marks modified and Pop returns the value (test_store)", run: caseStore},
		{name: "Pop", reason: "Pop of a present key returns it and marks accessed and modified (test_pop)", run: casePop},
		{name: "PopDefault", reason: "Pop of a missing key marks accessed but not modified (test_pop_default)", run: casePopDefault},
		{name: "SetDefault", reason: "SetDefault inserts once and then returns the stored value (test_setdefault)", run: caseSetDefault},
		{name: "SetDefaultExisting", reason: "SetDefault on a present key does not mark modified", run: caseSetDefaultExisting},
		{name: "Update", reason: "Update marks accessed and modified, even with nothing to add (test_update)", run: caseUpdate},
		{name: "HasKey", reason: "Has marks accessed, not modified (test_has_key)", run: caseHasKey},
		{name: "ValuesKeysItems", reason: "Values, Keys and All mark accessed, not modified (test_values, test_keys, test_items)", run: caseValuesKeysItems},
		{name: "Clear", reason: "Clear empties the data and marks accessed and modified (test_clear)", run: caseClear},
		{name: "Save", serverOnly: true, reason: "after Save the session exists in the store (test_save)", run: caseSave},
		{name: "Flush", reason: "Flush deletes the stored session, drops the key and marks accessed and modified (test_flush)", run: caseFlush},
		{name: "Cycle", serverOnly: true, reason: "CycleKey keeps the data under a new key and deletes the old one (test_cycle)", run: caseCycle},
		{name: "CycleWithNoSessionCache", serverOnly: true, reason: "CycleKey on a session not loaded yet keeps the stored data (test_cycle_with_no_session_cache)", run: caseCycleWithNoSessionCache},
		{name: "SaveDoesntClearData", reason: "the data stay readable after Save (test_save_doesnt_clear_data)", run: caseSaveDoesntClearData},
		{name: "InvalidKey", serverOnly: true, reason: "a session built with an invalid key saves under a new key with no data (test_invalid_key)", run: caseInvalidKey},
		{name: "SessionKeyValidity", reason: "empty and short keys are no key; an 8-character [a-z0-9] key is kept until loaded; a client-side engine keeps any value of 8 or more characters until it opens it (test_session_key_*)", run: caseSessionKeyValidity},
		{name: "Decode", reason: "Decode(Encode(d)) == d with the engine's codec (test_decode)", run: caseDecode},
		{name: "DecodeFailureLogged", serverOnly: true, reason: "stored data with a bad signature load as an empty session, logged as a security warning (test_decode_failure_logged_to_security)", run: caseDecodeFailureLogged},
		{name: "DecodeSerializerException", serverOnly: true, reason: "validly signed data that is not a JSON object loads as an empty session, never a panic (test_decode_serializer_exception)", run: caseDecodeSerializerException},
		{name: "LoadDoesNotCreateRecord", serverOnly: true, reason: "loading an unknown key stores nothing and drops the key (test_session_load_does_not_create_record, CVE-2015-5143)", run: caseLoadDoesNotCreateRecord},
		{name: "SaveDoesNotResurrect", serverOnly: true, reason: "saving a session another request deleted gives ErrInterrupted and does not bring it back (test_session_save_does_not_resurrect_session_logged_out_in_other_context)", run: caseSaveDoesNotResurrect},
		{name: "TestCookie", reason: "SetTestCookie, TestCookieWorked, DeleteTestCookie (test_test_cookie)", run: caseTestCookie},
		{name: "IsEmpty", reason: "IsEmpty neither loads nor marks accessed; a stored key is not empty (test_is_empty)", run: caseIsEmpty},
		{name: "TypedRoundTrip", reason: "values come back losslessly: ints beyond 2^53, floats, unicode, nested data", run: caseTypedRoundTrip},
		{name: "UnreadValuesKept", serverOnly: true, reason: "a request that reads one value of a large session and changes others saves every value it did not read as it was (codecs may write those without decoding them)", run: caseUnreadValuesKept},
		{name: "SecretKeyFallbacks", reason: "sessions signed with an old key load after rotation when it is listed in SecretKeyFallbacks, and not otherwise", run: caseSecretKeyFallbacks},
	}
}

func caseNewSession(c *mgr) {
	s := c.manager(nil).NewSession(c.ctx)
	if s.Modified() || s.Accessed() {
		c.t.Errorf("Modified=%v Accessed=%v, want false false", s.Modified(), s.Accessed())
	}
}

func caseGetEmpty(c *mgr) {
	if v := c.manager(nil).NewSession(c.ctx).Get("cat"); v != nil {
		c.t.Errorf("Get = %v", v)
	}
}

func caseStore(c *mgr) {
	s := c.manager(nil).NewSession(c.ctx)
	s.Set("cat", "dog")
	if !s.Modified() {
		c.t.Error("not modified after Set")
	}
	if v, _ := s.Pop("cat"); v != "dog" {
		c.t.Errorf("Pop = %v", v)
	}
}

func casePop(c *mgr) {
	m := c.manager(nil)
	s := m.Load(c.ctx, c.saved(m, map[string]any{"some key": "exists"}))
	v, ok := s.Pop("some key")
	if v != "exists" || !ok || !s.Accessed() || !s.Modified() || s.Has("some key") {
		c.t.Errorf("Pop = %v,%v accessed=%v modified=%v", v, ok, s.Accessed(), s.Modified())
	}
}

func casePopDefault(c *mgr) {
	m := c.manager(nil)
	s := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
	v, ok := s.Pop("some key")
	if v != nil || ok || !s.Accessed() || s.Modified() {
		c.t.Errorf("Pop = %v,%v accessed=%v modified=%v", v, ok, s.Accessed(), s.Modified())
	}
}

func caseSetDefault(c *mgr) {
	s := c.manager(nil).NewSession(c.ctx)
	if v := s.SetDefault("foo", "bar"); v != "bar" {
		c.t.Errorf("first SetDefault = %v", v)
	}
	if v := s.SetDefault("foo", "baz"); v != "bar" {
		c.t.Errorf("second SetDefault = %v", v)
	}
	if !s.Accessed() || !s.Modified() {
		c.t.Error("flags not set")
	}
}

func caseSetDefaultExisting(c *mgr) {
	m := c.manager(nil)
	s := m.Load(c.ctx, c.saved(m, map[string]any{"foo": "bar"}))
	if v := s.SetDefault("foo", "baz"); v != "bar" || s.Modified() {
		c.t.Errorf("SetDefault = %v, modified=%v", v, s.Modified())
	}
}

func caseUpdate(c *mgr) {
	s := c.manager(nil).NewSession(c.ctx)
	s.Update(map[string]any{"update key": 1})
	if !s.Accessed() || !s.Modified() || s.Get("update key") != 1 {
		c.t.Errorf("after Update: %v", s.Get("update key"))
	}
	m := c.manager(nil)
	s2 := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
	s2.Update(map[string]any{})
	if !s2.Modified() {
		c.t.Error("Update of nothing did not mark modified")
	}
}

func caseHasKey(c *mgr) {
	m := c.manager(nil)
	s := m.Load(c.ctx, c.saved(m, map[string]any{"some key": 1}))
	if !s.Has("some key") || !s.Accessed() || s.Modified() {
		c.t.Errorf("Has=%v accessed=%v modified=%v", s.Has("some key"), s.Accessed(), s.Modified())
	}
}

func caseValuesKeysItems(c *mgr) {
	m := c.manager(nil)
	e := m.NewSession(c.ctx)
	if len(e.Values()) != 0 || !e.Accessed() {
		c.t.Error("empty Values")
	}
	s := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
	if v := s.Values(); len(v) != 1 || fmt.Sprint(v[0]) != "1" {
		c.t.Errorf("Values = %v", v)
	}
	if k := s.Keys(); !slices.Equal(k, []string{"x"}) {
		c.t.Errorf("Keys = %v", k)
	}
	n := 0
	for k, v := range s.All() {
		n++
		if k != "x" || fmt.Sprint(v) != "1" {
			c.t.Errorf("All gave %s=%v", k, v)
		}
	}
	if n != 1 || !s.Accessed() || s.Modified() || s.Len() != 1 {
		c.t.Errorf("n=%d accessed=%v modified=%v", n, s.Accessed(), s.Modified())
	}
}

func caseClear(c *mgr) {
	m := c.manager(nil)
	s := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
	s.Clear()
	if s.Len() != 0 || !s.Accessed() || !s.Modified() {
		c.t.Errorf("after Clear: len=%d", s.Len())
	}
}

func caseSave(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"x": 1})
	if ok, err := m.Exists(c.ctx, key); !ok || err != nil {
		c.t.Errorf("Exists = %v, %v", ok, err)
	}
}

func caseFlush(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"foo": "bar"})
	s := m.Load(c.ctx, key)
	if err := s.Flush(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	if s.Key() != "" || !s.Modified() || !s.Accessed() || s.Get("foo") != nil {
		c.t.Errorf("after Flush: key=%q modified=%v", s.Key(), s.Modified())
	}
	if !c.client {
		if ok, _ := m.Exists(c.ctx, key); ok {
			c.t.Error("old key still exists after Flush")
		}
	}
}

func caseCycle(c *mgr) {
	m := c.manager(nil)
	s := m.NewSession(c.ctx)
	s.Set("a", "c")
	s.Set("b", "d")
	s.Save(c.ctx)
	old := s.Key()
	if err := s.CycleKey(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	if s.Key() == old || s.Key() == "" {
		c.t.Errorf("key did not change")
	}
	if ok, _ := m.Exists(c.ctx, old); ok {
		c.t.Error("old key still exists")
	}
	r := m.Load(c.ctx, s.Key())
	if r.Get("a") != "c" || r.Get("b") != "d" {
		c.t.Errorf("data after cycle: %v", r.Keys())
	}
}

func caseCycleWithNoSessionCache(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"a": "c", "b": "d"})
	s := m.Load(c.ctx, key)
	if err := s.CycleKey(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	r := m.Load(c.ctx, s.Key())
	if r.Get("a") != "c" || r.Get("b") != "d" {
		c.t.Errorf("data after cycle: %v", r.Keys())
	}
}

func caseSaveDoesntClearData(c *mgr) {
	s := c.manager(nil).NewSession(c.ctx)
	s.Set("a", "b")
	s.Save(c.ctx)
	if s.Get("a") != "b" {
		c.t.Error("data lost on save")
	}
}

func caseInvalidKey(c *mgr) {
	m := c.manager(nil)
	s := m.Load(c.ctx, "1")
	if err := s.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	if s.Key() == "1" || s.Key() == "" || s.Get("cat") != nil {
		c.t.Errorf("key=%q", s.Key())
	}
}

func caseSessionKeyValidity(c *mgr) {
	m := c.manager(nil)
	want := map[string]string{"": "", "1234567": "", "12345678": "12345678", "ABCDEFGH": "", "abc/defgh": "", strings.Repeat("a", 41): ""}
	if c.client {
		want = map[string]string{"": "", "1234567": "", "12345678": "12345678", "ABCDEFGH": "ABCDEFGH", "abc/defgh": "abc/defgh", strings.Repeat("a", 41): strings.Repeat("a", 41)}
	}
	for in, want := range want {
		if got := m.Load(c.ctx, in).Key(); got != want {
			c.t.Errorf("Load(%q).Key() = %q, want %q", in, got, want)
		}
	}
}

func caseDecode(c *mgr) {
	m := c.manager(nil)
	d := codec.NewDict(map[string]any{"a test key": "a test value"})
	b, err := m.Codec().Encode(d)
	if err != nil {
		c.t.Fatal(err)
	}
	back, err := m.Codec().Decode(b)
	if err != nil {
		c.t.Fatal(err)
	}
	if v, _ := back.Get("a test key"); v != "a test value" {
		c.t.Errorf("decoded %v", v)
	}
}

func caseDecodeFailureLogged(c *mgr) {
	m := c.manager(nil)
	for _, bad := range []string{"Zmxhc2tkajphbGtkamY=", "bad:encoded:value"} {
		key := sessions.NewKey()
		if err := c.eng().Create(c.ctx, key, []byte(bad), time.Now().Add(time.Hour)); err != nil {
			c.t.Fatal(err)
		}
		s := m.Load(c.ctx, key)
		if s.Len() != 0 || s.Err() != nil {
			c.t.Errorf("corrupt data gave %d keys, err %v", s.Len(), s.Err())
		}
	}
	if !strings.Contains(c.logs.String(), "Session data corrupted") {
		c.t.Errorf("no security warning logged; log: %s", c.logs.String())
	}
}

func caseDecodeSerializerException(c *mgr) {
	m := c.manager(nil)
	for _, payload := range []string{"[1,2]", "not json", "\"str\"", "{\"a\":"} {
		key := sessions.NewKey()
		raw, err := signedPayload(payload)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := c.eng().Create(c.ctx, key, raw, time.Now().Add(time.Hour)); err != nil {
			c.t.Fatal(err)
		}
		if s := m.Load(c.ctx, key); s.Len() != 0 {
			c.t.Errorf("payload %q gave data", payload)
		}
	}
}

func caseLoadDoesNotCreateRecord(c *mgr) {
	m := c.manager(nil)
	key := sessions.NewKey()
	s := m.Load(c.ctx, key)
	if s.Len() != 0 || s.Key() != "" {
		c.t.Errorf("len=%d key kept=%v", s.Len(), s.Key() != "")
	}
	if ok, _ := m.Exists(c.ctx, key); ok {
		c.t.Error("loading created a record")
	}
}

func caseSaveDoesNotResurrect(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"logged_in": true})
	s1 := m.Load(c.ctx, key)
	s1.Get("logged_in")
	s2 := m.Load(c.ctx, key)
	if err := s2.Flush(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	s1.Set("modified", true)
	if err := s1.Save(c.ctx); !errors.Is(err, sessions.ErrInterrupted) {
		c.t.Errorf("Save = %v, want ErrInterrupted", err)
	}
	if r := m.Load(c.ctx, key); r.Len() != 0 {
		c.t.Error("session resurrected")
	}
}

func caseTestCookie(c *mgr) {
	s := c.manager(nil).NewSession(c.ctx)
	if s.TestCookieWorked() {
		c.t.Error("worked before set")
	}
	s.SetTestCookie()
	if !s.TestCookieWorked() {
		c.t.Error("did not work after set")
	}
	s.DeleteTestCookie()
	if s.TestCookieWorked() {
		c.t.Error("worked after delete")
	}
}

func caseIsEmpty(c *mgr) {
	m := c.manager(nil)
	if !m.NewSession(c.ctx).IsEmpty() {
		c.t.Error("new session not empty")
	}
	s := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
	if s.IsEmpty() || s.Accessed() {
		c.t.Error("stored session empty or accessed")
	}
}

func caseTypedRoundTrip(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"big": int64(1) << 60, "f": 1.5, "i": 42, "u": "Zoë ☃ 😀", "n": nil,
		"nested": map[string]any{"list": []any{1, "two", 3.5, true}}})
	s := m.Load(c.ctx, key)
	if v, _ := sessions.Get[int64](s, "big"); v != 1<<60 {
		c.t.Errorf("big = %v", s.Get("big"))
	}
	if v, _ := sessions.Get[float64](s, "f"); v != 1.5 {
		c.t.Errorf("f = %v", s.Get("f"))
	}
	if v, _ := sessions.Get[int](s, "i"); v != 42 {
		c.t.Errorf("i = %#v", s.Get("i"))
	}
	if v, _ := sessions.Get[string](s, "u"); v != "Zoë ☃ 😀" {
		c.t.Errorf("u = %v", s.Get("u"))
	}
	if v, ok := s.Lookup("n"); v != nil || !ok {
		c.t.Errorf("n = %v %v", v, ok)
	}
	type nested struct {
		List []any `json:"list"`
	}
	if v, ok := sessions.Get[nested](s, "nested"); !ok || len(v.List) != 4 {
		c.t.Errorf("nested = %#v", s.Get("nested"))
	}
}

// largeSession is a session of some 10 KB: a cart whose items share
// strs, nested maps and lists, numbers of every size, a long str.
func largeSession() map[string]any {
	cart := make([]any, 120)
	for i := range cart {
		cart[i] = map[string]any{"sku": fmt.Sprintf("SKU-%03d", i%40), "qty": i % 7, "price": float64(i) + 0.25,
			"tags": []any{"gift", "Zoë ☃", i%3 == 0}, "opts": map[string]any{}}
	}
	return map[string]any{"user": "alice", "cart": cart, "big": int64(1) << 60, "neg": -70000, "none": nil,
		"long": strings.Repeat("é", 300), "prefs": map[string]any{"theme": "dark", "langs": []any{"en", "fr"}},
		"gone": "soon", "n": 0}
}

func caseUnreadValuesKept(c *mgr) {
	m := c.manager(nil)
	want := largeSession()
	key := c.saved(m, want)
	for round, edit := range []struct {
		set map[string]any
		del []string
	}{
		{set: map[string]any{"n": 1}, del: []string{"gone"}},
		{set: map[string]any{"prefs": map[string]any{"theme": "light"}, "extra": "Zoë"}},
	} {
		c.serve(m, func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			if s.Get("user") != "alice" {
				c.t.Errorf("round %d: user = %v", round, s.Get("user"))
			}
			for k, v := range edit.set {
				s.Set(k, v)
			}
			for _, k := range edit.del {
				s.Delete(k)
			}
		}, key)
		maps.Copy(want, edit.set)
		for _, k := range edit.del {
			delete(want, k)
		}
		got := c.manager(nil).Load(c.ctx, key)
		if got.Len() != len(want) {
			c.t.Errorf("round %d: %d values stored, want %d (%v)", round, got.Len(), len(want), got.Keys())
		}
		for k, v := range want {
			g, _ := json.Marshal(got.Get(k))
			w, _ := json.Marshal(v)
			if string(g) != string(w) {
				c.t.Errorf("round %d: %q = %.200s, want %.200s", round, k, g, w)
			}
		}
	}
}

func caseSecretKeyFallbacks(c *mgr) {
	if c.h.Caps.Unsigned {
		c.t.Skip("the engine's stored format is not signed (Capabilities.Unsigned)")
	}
	old := c.manager(func(s *sessions.Settings) { s.SecretKey = "old-secret" })
	key := c.saved(old, map[string]any{"user": "alice"})
	rotated := c.manager(func(s *sessions.Settings) { s.SecretKey = "new-secret"; s.SecretKeyFallbacks = []string{"old-secret"} })
	if rotated.Load(c.ctx, key).Get("user") != "alice" {
		c.t.Error("fallback key not accepted")
	}
	without := c.manager(func(s *sessions.Settings) { s.SecretKey = "new-secret" })
	if without.Load(c.ctx, key).Len() != 0 {
		c.t.Error("session accepted without the fallback")
	}
}
