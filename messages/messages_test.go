package messages_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
	"github.com/sessionkit/sessions/messages"
)

func open(t testing.TB, config string) *sessions.Manager {
	t.Helper()
	s := sessions.DefaultSettings()
	s.SecretKey = "django_tests_secret_key"
	m, err := sessions.Open(context.Background(), config, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// request runs fn on the session stored under key, as one request, saves
// it if modified (as the middleware does) and returns the key.
func request(t testing.TB, m *sessions.Manager, key string, fn func(*sessions.Session)) string {
	t.Helper()
	ctx := context.Background()
	s := m.Load(ctx, key)
	fn(s)
	if s.Modified() {
		if err := s.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s.Key()
}

func stored(t testing.TB, m *sessions.Manager, key string) (string, bool) {
	t.Helper()
	v, ok := m.Load(context.Background(), key).Lookup(messages.Key)
	s, _ := v.(string)
	return s, ok
}

// The bytes Django's SessionStorage.serialize_messages writes (4.2 and
// 5.2; interop checks them against a live Django too).
func TestEncodeIsDjangoBytes(t *testing.T) {
	got := messages.Encode([]messages.Message{
		{Level: messages.LevelInfo, Text: "Hello"},
		{Level: messages.LevelSuccess, Text: "Added 1 × Gopher mug 🐹 \"q\" \\ \n\t\x7f\x00</script>"},
		{Level: messages.LevelError, Text: "<b>bold</b>", ExtraTags: "sticky big", Safe: true},
		{Level: 15, Text: "custom", LevelTag: "not stored"},
	})
	want := `[["__json_message", 0, 20, "Hello", ""], ` +
		`["__json_message", 0, 25, "Added 1 \u00d7 Gopher mug \ud83d\udc39 \"q\" \\ \n\t\u007f\u0000</script>", ""], ` +
		`["__json_message", 1, 40, "<b>bold</b>", "sticky big"], ` +
		`["__json_message", 0, 15, "custom", ""]]`
	if got != want {
		t.Errorf("Encode:\n got %s\nwant %s", got, want)
	}
	if got := messages.Encode(nil); got != "[]" {
		t.Errorf("Encode(nil) = %q", got)
	}
}

func TestDecodeDjangoForms(t *testing.T) {
	// Django 3.2 leaves out an empty extra_tags, 4.2 writes it; extra_tags
	// None is left out by both. is_safe may be a bool in foreign data.
	got, err := messages.Decode(`[["__json_message", 0, 20, "Hello"], ["__json_message", 1, 40, "<b>x</b>", "a b"], ` +
		`["__json_message", 0, 25, "\u00d7\ud83d\udc39", ""], ["__json_message", true, 30, "w", null]]`)
	if err != nil {
		t.Fatal(err)
	}
	want := []messages.Message{
		{Level: messages.LevelInfo, Text: "Hello", LevelTag: "info"},
		{Level: messages.LevelError, Text: "<b>x</b>", ExtraTags: "a b", Safe: true, LevelTag: "error"},
		{Level: messages.LevelSuccess, Text: "×🐹", LevelTag: "success"},
		{Level: messages.LevelWarning, Text: "w", Safe: true, LevelTag: "warning"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode:\n got %+v\nwant %+v", got, want)
	}
	for _, empty := range []string{"", "[]"} {
		if got, err := messages.Decode(empty); got != nil || err != nil {
			t.Errorf("Decode(%q) = %v, %v", empty, got, err)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	cases := map[string]int{ // data -> valid messages kept
		`{`:                           0,
		`{"a": 1}`:                    0,
		`"text"`:                      0,
		`[1, "x", [], {}, null]`:      0,
		`[["__json_message", 0, 20]]`: 0,
		`[["__json_message", 0, 20, "x", "", 1]]`:                                   0,
		`[["__json_message", "yes", 20, "x"]]`:                                      0,
		`[["__json_message", 0, "20", "x"]]`:                                        0,
		`[["__json_message", 0, 20.5, "x"]]`:                                        0,
		`[["__json_message", 0, 99999999999999999999999, "x"]]`:                     0,
		`[["__json_message", 0, 20, 5]]`:                                            0,
		`[["__json_message", 0, 20, "x", 5]]`:                                       0,
		`[["__json_message", 0, 20, "ok"], "junk", ["__json_message", 0, 25, "y"]]`: 2,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000):                     0,
	}
	for data, keep := range cases {
		got, err := messages.Decode(data)
		if !errors.Is(err, messages.ErrMalformed) || len(got) != keep {
			t.Errorf("Decode(%.40q) = %d messages, %v; want %d and ErrMalformed", data, len(got), err, keep)
		}
		if err != nil && strings.Contains(err.Error(), `"ok"`) {
			t.Errorf("the error shows stored content: %v", err)
		}
	}
}

func TestAddGetPeek(t *testing.T) {
	m := open(t, "memory:")
	key := request(t, m, "", func(s *sessions.Session) {
		messages.Info(s, "one")
		messages.Success(s, "two", messages.ExtraTags("sticky"))
		messages.Warning(s, "<i>three</i>", messages.Safe())
		messages.Error(s, "four")
		messages.Add(s, 35, "custom")
	})
	want := []messages.Message{
		{Level: messages.LevelInfo, Text: "one", LevelTag: "info"},
		{Level: messages.LevelSuccess, Text: "two", ExtraTags: "sticky", LevelTag: "success"},
		{Level: messages.LevelWarning, Text: "<i>three</i>", Safe: true, LevelTag: "warning"},
		{Level: messages.LevelError, Text: "four", LevelTag: "error"},
		{Level: 35, Text: "custom"},
	}

	// Peek does not consume, and a request that only peeks saves nothing.
	var peeked []messages.Message
	request(t, m, key, func(s *sessions.Session) {
		peeked = messages.Peek(s)
		if s.Modified() {
			t.Error("Peek modified the session")
		}
	})
	if !reflect.DeepEqual(peeked, want) {
		t.Errorf("Peek:\n got %+v\nwant %+v", peeked, want)
	}

	// Get consumes; a message added after Get stays for the next request.
	var got []messages.Message
	request(t, m, key, func(s *sessions.Session) {
		got = messages.Get(s)
		if again := messages.Get(s); again != nil {
			t.Errorf("second Get in one request: %v", again)
		}
		messages.Info(s, "later")
	})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get:\n got %+v\nwant %+v", got, want)
	}
	if data, _ := stored(t, m, key); data != `[["__json_message", 0, 20, "later", ""]]` {
		t.Errorf("after Get and Info: stored %q", data)
	}
	request(t, m, key, func(s *sessions.Session) {
		if got := messages.Get(s); len(got) != 1 || got[0].Text != "later" {
			t.Errorf("next request: %v", got)
		}
	})
	if _, ok := stored(t, m, key); ok {
		t.Error("shown messages are still stored")
	}
	request(t, m, key, func(s *sessions.Session) {
		if got := messages.Get(s); got != nil {
			t.Errorf("nothing queued: Get = %v", got)
		}
		if s.Modified() {
			t.Error("Get with nothing queued modified the session")
		}
	})
}

func TestLevelsAndTags(t *testing.T) {
	m := open(t, "memory:")
	s := m.NewSession(context.Background())
	messages.Debug(s, "dropped: below MESSAGE_LEVEL")
	messages.Info(s, "") // dropped: empty, as Django
	if s.Has(messages.Key) {
		t.Fatal("a debug or empty message was stored with the default settings")
	}

	c := &messages.Config{MinLevel: messages.LevelDebug, Tags: map[messages.Level]string{messages.LevelError: "danger", messages.LevelInfo: ""}}
	c.Debug(s, "kept")
	c.Info(s, "info")
	c.Error(s, "boom", messages.ExtraTags("big"))
	c.Add(s, 5, "below debug") // dropped
	var tags []string
	for _, msg := range c.Peek(s) {
		tags = append(tags, msg.Tags())
	}
	if fmt.Sprint(tags) != "[debug  big danger]" {
		t.Errorf("tags with MESSAGE_TAGS = %q", tags)
	}
	var def []string
	for _, msg := range messages.Peek(s) {
		def = append(def, msg.Tags())
	}
	if fmt.Sprint(def) != "[debug info big error]" {
		t.Errorf("default tags = %q", def)
	}
	all := &messages.Config{MinLevel: math.MinInt}
	all.Add(s, -3, "negative level")
	if got := all.Get(s); len(got) != 4 || got[3].Level != -3 || got[3].LevelTag != "" || got[3].Level.String() != "-3" {
		t.Errorf("MinLevel math.MinInt: %+v", got)
	}
	if messages.LevelWarning.String() != "warning" {
		t.Error(messages.LevelWarning.String())
	}
}

func TestNilSession(t *testing.T) {
	var buf bytes.Buffer
	c := &messages.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	c.Info(nil, "lost")
	if got, peek := c.Get(nil), c.Peek(nil); got != nil || peek != nil {
		t.Errorf("nil session: Get %v, Peek %v", got, peek)
	}
	if !strings.Contains(buf.String(), "middleware") {
		t.Errorf("no warning for a nil session: %q", buf.String())
	}
}

func TestHTML(t *testing.T) {
	plain := messages.Message{Text: `<b>"Tom" & Jerry</b>`}
	if got := plain.HTML(); got != `&lt;b&gt;&#34;Tom&#34; &amp; Jerry&lt;/b&gt;` {
		t.Errorf("plain HTML = %s", got)
	}
	safe := messages.Message{Text: `<b>bold</b>`, Safe: true}
	if got := safe.HTML(); got != `<b>bold</b>` {
		t.Errorf("safe HTML = %s", got)
	}
	if plain.String() != plain.Text {
		t.Error("String is not the text")
	}
}

func TestMalformedStoredDataIsDroppedWithALog(t *testing.T) {
	var buf bytes.Buffer
	c := &messages.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	m := open(t, "memory:")
	bad := map[string]any{
		"number":    int64(5),
		"list":      []any{"x"},
		"bad json":  `[["__json_message", 0, 20, "secret text"`,
		"object":    `{"a": 1}`,
		"mixed":     `[["__json_message", 0, 20, "kept"], ["__json_message", 0, "x", "secret text"]]`,
		"too deep":  strings.Repeat("[", 100000),
		"wrong tag": `[["__json_messagE", 0, 20, "secret text"]]`,
	}
	for name, v := range bad {
		t.Run(name, func(t *testing.T) {
			buf.Reset()
			key := request(t, m, "", func(s *sessions.Session) { s.Set(messages.Key, v) })
			request(t, m, key, func(s *sessions.Session) {
				peek := c.Peek(s)
				got := c.Get(s)
				if !reflect.DeepEqual(got, peek) || name == "mixed" && (len(got) != 1 || got[0].Text != "kept") || name != "mixed" && got != nil {
					t.Errorf("Get = %+v, Peek = %+v", got, peek)
				}
			})
			if _, ok := stored(t, m, key); ok {
				t.Error("Get left the malformed data in the session")
			}
			if !strings.Contains(buf.String(), "malformed") || strings.Contains(buf.String(), "secret text") {
				t.Errorf("log: %q", buf.String())
			}
			// Add over malformed data keeps the valid messages.
			key = request(t, m, "", func(s *sessions.Session) {
				s.Set(messages.Key, v)
				c.Info(s, "new")
			})
			want := `[["__json_message", 0, 20, "new", ""]]`
			if name == "mixed" {
				want = `[["__json_message", 0, 20, "kept"], ["__json_message", 0, 20, "new", ""]]`
			}
			if data, _ := stored(t, m, key); data != want {
				t.Errorf("Add over malformed data stored %q", data)
			}
		})
	}
}

// Rewriting the list keeps a message stored without extra tags as Django
// would re-encode it (4 elements), so a Go Add after a Django Add leaves
// Django's bytes alone.
func TestAddKeepsStoredForm(t *testing.T) {
	m := open(t, "memory:")
	django := `[["__json_message", 0, 20, "from Django"], ["__json_message", 0, 25, "\u00e9", ""]]`
	key := request(t, m, "", func(s *sessions.Session) { s.Set(messages.Key, django) })
	request(t, m, key, func(s *sessions.Session) { messages.Warning(s, "from Go") })
	want := django[:len(django)-1] + `, ["__json_message", 0, 30, "from Go", ""]]`
	if data, _ := stored(t, m, key); data != want {
		t.Errorf("stored %q\nwant   %q", data, want)
	}
}

// engines with compare-and-swap, each a different implementation.
func casEngines(t *testing.T) map[string]string {
	dir := t.TempDir()
	return map[string]string{
		"memory": "memory:",
		"sqlite": "sqlite://" + filepath.Join(dir, "db.sqlite3") + "?create_table=true",
		"file":   "file://" + dir,
		"bolt":   "bolt://" + filepath.Join(dir, "s.db"),
	}
}

// Concurrent requests that each add a message all keep theirs.
func TestConcurrentAddsAreNotLost(t *testing.T) {
	for name, config := range casEngines(t) {
		t.Run(name, func(t *testing.T) {
			m := open(t, config)
			ctx := context.Background()
			key := request(t, m, "", func(s *sessions.Session) { messages.Info(s, "first") })
			const n = 8
			loaded := make([]*sessions.Session, n)
			for i := range loaded {
				loaded[i] = m.Load(ctx, key)
				loaded[i].Len() // every request has read the session before any saves
			}
			var wg sync.WaitGroup
			for i, s := range loaded {
				wg.Go(func() {
					messages.Info(s, fmt.Sprintf("request %d", i))
					if err := s.Save(ctx); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			got := messages.Peek(m.Load(ctx, key))
			seen := map[string]bool{}
			for _, msg := range got {
				seen[msg.Text] = true
			}
			if len(got) != n+1 || !seen["first"] {
				t.Fatalf("after %d concurrent adds: %d messages %v", n, len(got), got)
			}
			for i := range n {
				if !seen[fmt.Sprintf("request %d", i)] {
					t.Errorf("request %d's message was lost", i)
				}
			}
		})
	}
}

// A request that shows the messages while another adds one: the shown
// ones are not shown again and the new one is not lost, whichever saves
// first.
func TestConcurrentGetAndAdd(t *testing.T) {
	for _, getFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("get saves first=%v", getFirst), func(t *testing.T) {
			m := open(t, "sqlite://"+filepath.Join(t.TempDir(), "db.sqlite3")+"?create_table=true")
			ctx := context.Background()
			key := request(t, m, "", func(s *sessions.Session) {
				messages.Info(s, "old")
				messages.Info(s, "old") // duplicates count
			})
			shower, adder := m.Load(ctx, key), m.Load(ctx, key)
			if got := messages.Get(shower); len(got) != 2 {
				t.Fatalf("Get = %v", got)
			}
			messages.Info(shower, "added after showing")
			messages.Success(adder, "new")
			first, second := shower, adder
			if !getFirst {
				first, second = adder, shower
			}
			if err := first.Save(ctx); err != nil {
				t.Fatal(err)
			}
			if err := second.Save(ctx); err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, msg := range messages.Peek(m.Load(ctx, key)) {
				texts = append(texts, msg.Text)
			}
			// In the order the requests saved.
			want := "[added after showing new]"
			if !getFirst {
				want = "[new added after showing]"
			}
			if fmt.Sprint(texts) != want {
				t.Errorf("stored messages %q, want %s", texts, want)
			}
		})
	}
}

// Two requests that both show the same messages: neither brings them back.
func TestConcurrentGets(t *testing.T) {
	m := open(t, "memory:")
	ctx := context.Background()
	key := request(t, m, "", func(s *sessions.Session) { messages.Info(s, "once") })
	a, b := m.Load(ctx, key), m.Load(ctx, key)
	messages.Get(a)
	messages.Get(b)
	if err := a.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := stored(t, m, key); ok {
		t.Error("a shown message came back")
	}
}

// Signed cookies hold no server state: the messages travel in the cookie.
func TestSignedCookies(t *testing.T) {
	m := open(t, "signed-cookies:")
	key := request(t, m, "", func(s *sessions.Session) { messages.Success(s, "saved", messages.ExtraTags("x")) })
	request(t, m, key, func(s *sessions.Session) {
		if got := messages.Get(s); len(got) != 1 || got[0].Tags() != "x success" {
			t.Errorf("signed cookie: %+v", got)
		}
	})
}

// Through the middleware: a message added before a redirect is shown on
// the next page, once.
func TestThroughMiddleware(t *testing.T) {
	m := open(t, "memory:")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /save", func(w http.ResponseWriter, r *http.Request) {
		messages.Success(sessions.FromContext(r.Context()), "Saved & done.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		for _, msg := range messages.Get(sessions.FromContext(r.Context())) {
			fmt.Fprintf(w, "<p class=%q>%s</p>", msg.Tags(), msg.HTML())
		}
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	body := func(r *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	if got := body(c.Post(srv.URL+"/save", "", nil)); got != `<p class="success">Saved &amp; done.</p>` {
		t.Errorf("page after the redirect: %q", got)
	}
	if got := body(c.Get(srv.URL + "/")); got != "" {
		t.Errorf("the message was shown twice: %q", got)
	}
}
