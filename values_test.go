package sessions_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/testutil"
	"github.com/sessionkit/sessions/signing"
)

// storeJSON stores the session JSON under a new key, as Django would have
// written it, and returns the key.
func storeJSON(t *testing.T, m *sessions.Manager, js string) string {
	t.Helper()
	d, err := codec.UnmarshalPython([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Codec().Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	key := sessions.NewKey()
	if err := m.Backend().(sessions.Engine).Create(context.Background(), key, b, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return key
}

// storedJSON returns the session JSON the store holds for key.
func storedJSON(t *testing.T, m *sessions.Manager, key string) string {
	t.Helper()
	raw, err := m.Backend().(sessions.Engine).Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := signing.LoadsBytes(string(raw), signing.Options{Key: testutil.Settings().SecretKey, Salt: codec.DjangoSessionSalt})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const storedSession = `{"s":"x\ud800y","prefs":{"zebra":1,"apple":{"z":1,"a":2}},"n":1E5}`

// TestSessionEditKeepsOtherValues: a request that sets one key leaves the
// others exactly as stored, lone surrogates, spellings and nested order
// included, and a nested dict read and set back keeps its order.
func TestSessionEditKeepsOtherValues(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	key := storeJSON(t, m, storedSession)
	s := m.Load(ctx, key)
	prefs := s.Get("prefs").(map[string]any)
	prefs["kiwi"] = true
	s.Set("prefs", prefs)
	s.Set("x", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	want := `{"s":"x\ud800y","prefs":{"zebra":1,"apple":{"z":1,"a":2},"kiwi":true},"n":1E5,"x":1}`
	if got := storedJSON(t, m, key); got != want {
		t.Errorf("stored\n got %s\nwant %s", got, want)
	}
}

// TestMergeKeepsNestedOrder: when a save meets a concurrent write, the
// merge re-applies this request's changes, and a nested dict it set back
// still keeps its order.
func TestMergeKeepsNestedOrder(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	key := storeJSON(t, m, storedSession)
	s1 := m.Load(ctx, key)
	s2 := m.Load(ctx, key)
	prefs := s1.Get("prefs").(map[string]any)
	prefs["kiwi"] = true
	s1.Set("prefs", prefs)
	s2.Set("other", "theirs")
	if err := s2.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s1.Save(ctx); err != nil { // conflict: merged
		t.Fatal(err)
	}
	want := `{"s":"x\ud800y","prefs":{"zebra":1,"apple":{"z":1,"a":2},"kiwi":true},"n":1E5,"other":"theirs"}`
	if got := storedJSON(t, m, key); got != want {
		t.Errorf("stored\n got %s\nwant %s", got, want)
	}
}

// TestSaveFailsNamingKey: a value that could not be read back fails the
// save with an error naming its key (the README's promise), instead of
// being saved and then lost.
func TestSaveFailsNamingKey(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	var deep any = "x"
	for range codec.MaxDepth {
		deep = []any{deep}
	}
	for name, v := range map[string]any{"deep": deep, "bad": "a\xffb"} {
		s := m.NewSession(ctx)
		s.Set("ok", 1)
		s.Set(name, v)
		err := s.Save(ctx)
		var ee *codec.EncodeError
		if !errors.Is(err, codec.ErrUnencodable) || !errors.As(err, &ee) || ee.Key != name || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("%s: Save error %v", name, err)
		}
	}
}
