package interop

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/messages"
)

// messageSetups are the stores the flash-message tests share with Django:
// the messages live inside the session data, so two server-side engines
// with different codecs' paths and the signed cookie cover the formats.
func messageSetups() []engineSetup {
	var out []engineSetup
	for _, es := range engineSetups() {
		if es.name == "db-sqlite" || es.name == "file" {
			out = append(out, es)
		}
	}
	return append(out, engineSetup{name: "signed_cookies", prepare: func(t *testing.T, dj Django) (map[string]any, string) {
		return map[string]any{"DATABASES": sqliteDatabases(userDB(t)), "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies"}, "signed-cookies:"
	}})
}

// everyKind is one message of each level, with the extra-tags forms
// (default "", given, None) and a mark_safe text, as Django adds them.
var everyKind = []map[string]any{
	{"level": int64(10), "message": "debug: kept with set_level(10)"},
	{"level": int64(20), "message": "plain info"},
	{"level": int64(25), "message": "Added 1 × Gopher mug 🐹 to your cart", "extra_tags": "sticky big"},
	{"level": int64(30), "message": "tags None", "extra_tags": nil},
	{"level": int64(40), "message": "<b>Payment</b> refused", "safe": true},
	{"level": int64(35), "message": "custom level \"q\" \\ \n\t\x7f\u2028 </script>", "extra_tags": ""},
}

// djangoMessage is how django_messages.py describes a message.
func djangoMessage(level messages.Level, text, tags string, tagsNone, safe bool, levelTag string) map[string]any {
	var et any = tags
	if tagsNone {
		et = nil
	}
	full := levelTag
	if tags != "" && levelTag != "" {
		full = tags + " " + levelTag
	} else if tags != "" {
		full = tags
	}
	return map[string]any{"level": int64(level), "message": text, "extra_tags": et, "safe": safe, "tags": full, "level_tag": levelTag}
}

func goDescribe(msgs []messages.Message) []any {
	out := []any{}
	for _, m := range msgs {
		out = append(out, djangoMessage(m.Level, m.Text, m.ExtraTags, false, m.Safe, m.LevelTag))
	}
	return out
}

// withoutNone turns Django's extra_tags None into "", as Go reads it.
func withoutNone(v any) []any {
	list, _ := v.([]any)
	out := []any{}
	for _, x := range list {
		m, _ := x.(map[string]any)
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		if c["extra_tags"] == nil {
			c["extra_tags"] = ""
		}
		out = append(out, c)
	}
	return out
}

// TestMessages: flash messages cross between Django's
// django.contrib.messages (SessionStorage) and package messages, in both
// directions, on every installed Django.
func TestMessages(t *testing.T) {
	versions := Versions(t)
	for _, es := range messageSetups() {
		for _, dj := range versions {
			t.Run(es.name+"/django-"+dj.Major(), func(t *testing.T) {
				conf, goConfig := es.prepare(t, dj)
				dj := dj.Pooled(t)
				dj.with(t, conf, Cmd{"op": "migrate"})
				m := goManager(t, goConfig, nil)
				ctx := context.Background()
				// Every session keeps another key: Django's middleware deletes
				// the cookie of an emptied session without touching the store.
				newSession := func() string {
					s := m.NewSession(ctx)
					s.Set("anchor", true)
					if err := s.Save(ctx); err != nil {
						t.Fatal(err)
					}
					return s.Key()
				}
				view := func(key string, steps ...map[string]any) Result {
					t.Helper()
					list := make([]any, len(steps))
					for i, s := range steps {
						list[i] = s
					}
					return dj.with(t, conf, Cmd{"op": "messages_view", "key": key, "steps": list})[0]
				}
				request := func(key string, fn func(*sessions.Session)) string {
					t.Helper()
					s := m.Load(ctx, key)
					fn(s)
					if s.Modified() {
						if err := s.Save(ctx); err != nil {
							t.Fatal(err)
						}
					}
					return s.Key()
				}

				t.Run("DjangoAddsGoReads", func(t *testing.T) {
					steps := []map[string]any{{"set_level": int64(10)}}
					for _, k := range everyKind {
						steps = append(steps, map[string]any{"add": k})
					}
					r := view(newSession(), steps...)
					key, _ := r["key"].(string)
					raw, _ := r["stored"].(string)
					if raw == "" {
						t.Fatalf("Django stored no messages: %v", r)
					}

					// Go sees Django's bytes, and decodes them to what
					// Django itself decodes.
					s := m.Load(ctx, key)
					if got := s.Get(messages.Key); got != raw {
						t.Errorf("Go loads _messages %q\nDjango stored  %q", got, raw)
					}
					djRead := dj.with(t, conf, Cmd{"op": "messages_deserialize", "value": raw})[0]["messages"]
					peek := messages.Peek(s)
					if got, want := Canon(goDescribe(peek)), Canon(withoutNone(djRead)); got != want {
						t.Errorf("Go reads  %s\nDjango reads %s", got, want)
					}
					if len(peek) != len(everyKind) || !peek[4].Safe || peek[4].HTML() != "<b>Payment</b> refused" || peek[0].HTML() != "debug: kept with set_level(10)" {
						t.Errorf("Go messages: %+v", peek)
					}

					// Go adds one: Django's bytes are kept as they are and
					// the list is what Django 4.2+ would write for all.
					key = request(key, func(s *sessions.Session) { messages.Warning(s, "from Go") })
					goRaw, _ := m.Load(ctx, key).Get(messages.Key).(string)
					if want := raw[:len(raw)-1] + `, ["__json_message", 0, 30, "from Go", ""]]`; goRaw != want {
						t.Errorf("after a Go Add: %q\nwant %q", goRaw, want)
					}
					if dj.Major() != "3.2" {
						all := []any{}
						for _, k := range everyKind {
							all = append(all, k)
						}
						all = append(all, map[string]any{"level": int64(30), "message": "from Go"})
						if djRaw := dj.with(t, conf, Cmd{"op": "messages_serialize", "messages": all})[0]["value"]; djRaw != goRaw {
							t.Errorf("after a Go Add: %q\nDjango would write %q", goRaw, djRaw)
						}
					}

					// Go's Get consumes: Django sees none afterwards.
					key = request(key, func(s *sessions.Session) {
						got := messages.Get(s)
						if len(got) != len(peek)+1 || !reflect.DeepEqual(got[:len(peek)], peek) || got[len(peek)].Text != "from Go" {
							t.Errorf("Get = %+v, Peek was %+v", got, peek)
						}
					})
					if r := view(key, map[string]any{"get": true}); Canon(r["seen"]) != "[[]]" || r["stored"] != nil {
						t.Errorf("Django after Go's Get: %v", r)
					}
				})

				t.Run("GoAddsDjangoReads", func(t *testing.T) {
					flash := &messages.Config{MinLevel: messages.LevelDebug}
					var specs []any
					key := request(newSession(), func(s *sessions.Session) {
						for _, k := range everyKind {
							var opts []messages.Option
							tags, _ := k["extra_tags"].(string)
							if tags != "" {
								opts = append(opts, messages.ExtraTags(tags))
							}
							if k["safe"] == true {
								opts = append(opts, messages.Safe())
							}
							flash.Add(s, messages.Level(k["level"].(int64)), k["message"].(string), opts...)
							spec := map[string]any{"level": k["level"], "message": k["message"], "extra_tags": tags, "safe": k["safe"] == true}
							specs = append(specs, spec)
						}
					})

					// The bytes Django's encoder writes for these messages
					// (Django 3.2 leaves out an empty extra_tags).
					goRaw, _ := m.Load(ctx, key).Get(messages.Key).(string)
					djRaw := dj.with(t, conf, Cmd{"op": "messages_serialize", "messages": specs})[0]["value"]
					want := goRaw
					if dj.Major() == "3.2" {
						want = strings.ReplaceAll(goRaw, `, ""]`, `]`)
					}
					if djRaw != want {
						t.Errorf("Go stored   %q\nDjango writes %q", goRaw, djRaw)
					}

					// Django's get_messages(request) reads them exactly, and
					// consumes them.
					r := view(key, map[string]any{"len": true}, map[string]any{"get": true})
					seen, _ := r["seen"].([]any)
					var expect []any
					for _, sp := range specs {
						sp := sp.(map[string]any)
						l := messages.Level(sp["level"].(int64))
						expect = append(expect, djangoMessage(l, sp["message"].(string), sp["extra_tags"].(string), false, sp["safe"].(bool), flash.LevelTag(l)))
					}
					if len(seen) != 2 || fmt.Sprint(seen[0]) != fmt.Sprint(len(specs)) || Canon(seen[1]) != Canon(expect) {
						t.Errorf("Django read %s\nGo added    %s", Canon(seen), Canon(expect))
					}
					if r["stored"] != nil {
						t.Errorf("Django left %v after showing the messages", r["stored"])
					}
					if got := messages.Peek(m.Load(ctx, r["key"].(string))); got != nil {
						t.Errorf("Go still sees %v after Django showed them", got)
					}
				})

				t.Run("ConsumeSemanticsAgree", func(t *testing.T) {
					// Django adds A; Go peeks (no consumption), Django counts
					// (no consumption) and Go still sees A.
					r := view(newSession(), map[string]any{"add": map[string]any{"level": int64(20), "message": "A"}})
					key := r["key"].(string)
					key = request(key, func(s *sessions.Session) {
						if got := messages.Peek(s); len(got) != 1 || got[0].Text != "A" {
							t.Errorf("Go Peek: %v", got)
						}
					})
					r = view(key, map[string]any{"len": true})
					key = r["key"].(string)
					if Canon(r["seen"]) != "[1]" || r["stored"] == nil {
						t.Errorf("Django's len consumed: %v", r)
					}

					// Go shows A and adds B after showing: B is kept, as
					// Django keeps messages added after iterating.
					key = request(key, func(s *sessions.Session) {
						if got := messages.Get(s); len(got) != 1 || got[0].Text != "A" {
							t.Errorf("Go Get: %v", got)
						}
						messages.Warning(s, "B")
					})
					// Django shows B, then adds C: C stays for Go.
					r = view(key, map[string]any{"get": true}, map[string]any{"add": map[string]any{"level": int64(40), "message": "C"}})
					key = r["key"].(string)
					if seen := Canon(r["seen"]); !strings.Contains(seen, `"message":"B"`) || strings.Contains(seen, `"A"`) {
						t.Errorf("Django showed %s, want only B", seen)
					}
					got := messages.Peek(m.Load(ctx, key))
					if len(got) != 1 || got[0].Text != "C" || got[0].Level != messages.LevelError {
						t.Errorf("Go sees %+v, want only C", got)
					}

					// Both drop debug messages by default, and empty ones.
					r = view(key, map[string]any{"add": map[string]any{"level": int64(10), "message": "dbg"}},
						map[string]any{"add": map[string]any{"level": int64(20), "message": ""}})
					key = r["key"].(string)
					request(key, func(s *sessions.Session) {
						messages.Debug(s, "dbg")
						messages.Info(s, "")
						if got := messages.Get(s); len(got) != 1 || got[0].Text != "C" {
							t.Errorf("after debug and empty adds: %+v", got)
						}
					})
				})
			})
		}
	}

	// Format edge cases, without a store: Django and Go read the same
	// texts the same way, and write the same bytes.
	for _, dj := range versions {
		t.Run("format/django-"+dj.Major(), func(t *testing.T) {
			inputs := []string{
				`[["__json_message", 0, 20, "Hello"]]`,
				`[["__json_message", 1, 25, "<i>x</i>", ""], ["__json_message", 0, 40, "\u00e9\ud83d\udc39", "a b"]]`,
				`[["__json_message",0,30,"compact",null]]`,
				`[["__json_message", true, 10, "bool flag"], ["__json_message", false, 99, "custom"]]`,
				`[]`,
			}
			var texts []string
			for r := rune(0); r < 0x80; r++ {
				texts = append(texts, string(r))
			}
			texts = append(texts, "é", "\u2028\u2029", "\ufeff", "😀", "\U0010ffff", "a\\b\"c/d", "</script><!--")
			var cmds []Cmd
			for _, in := range inputs {
				cmds = append(cmds, Cmd{"op": "messages_deserialize", "value": in})
			}
			var specs []any
			var goMsgs []messages.Message
			for i, tx := range texts {
				specs = append(specs, map[string]any{"level": int64(20 + i), "message": tx, "extra_tags": "t" + tx})
				goMsgs = append(goMsgs, messages.Message{Level: messages.Level(20 + i), Text: tx, ExtraTags: "t" + tx})
			}
			cmds = append(cmds, Cmd{"op": "messages_serialize", "messages": specs})
			res := dj.Run(t, cmds...)
			for i, in := range inputs {
				got, err := messages.Decode(in)
				if err != nil {
					t.Errorf("Decode(%s): %v", in, err)
				}
				if g, w := Canon(goDescribe(got)), Canon(withoutNone(res[i]["messages"])); g != w {
					t.Errorf("%s\nGo reads     %s\nDjango reads %s", in, g, w)
				}
			}
			if got, want := messages.Encode(goMsgs), res[len(inputs)]["value"]; got != want {
				t.Errorf("Encode differs from Django's serialize_messages:\nGo     %q\nDjango %q", got, want)
			}
		})
	}
}
