// Package messages is Django's django.contrib.messages for Go: one-time
// notifications ("Added to cart", "Wrong password") that a request leaves
// for the next page the visitor sees, kept in the session.
//
// Messages are stored exactly as Django's SessionStorage stores them: under
// the session key "_messages" ([Key]), as a JSON string written by
// Django's MessageEncoder (["__json_message", is_safe, level, message,
// extra_tags] lists, Python's default separators, non-ASCII escaped). A
// Go service and a Django app that share sessions (see the sessions
// package) therefore show each other's messages: a message added by a
// Django view appears on the next Go page, and the other way round.
// Django must use the session storage for that
// (MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage";
// Django's default, FallbackStorage, keeps short messages in a cookie of
// its own).
//
// Add a message with [Add] or a level helper ([Info], [Success], ...); show
// and consume the queued messages with [Get] on the next page, or look
// at them without consuming with [Peek]:
//
//	messages.Success(sess, "Profile saved.")
//	http.Redirect(w, r, "/profile", http.StatusSeeOther)
//	...
//	for _, m := range messages.Get(sess) { // "success": Profile saved.
//		fmt.Fprintf(w, "<li class=%q>%s</li>", m.Tags(), m.HTML())
//	}
//
// The package-level functions use Django's defaults: messages below
// [LevelInfo] are dropped (MESSAGE_LEVEL) and the level tags are Django's
// (MESSAGE_TAGS). A [Config] changes both.
//
// # Concurrent requests
//
// All of a visitor's messages live in one session key, so two requests
// that each add a message at the same time would, with plain
// last-writer-wins saving, lose one of them (and a request that shows
// the messages could bring back the ones another request already showed).
// On engines with compare-and-swap (every server-side engine of this
// module), Add and Get install a merge for that key with
// [sessions.Session.SetMerge]: on a conflict, the messages this request
// added are appended to the ones stored now, and the ones it consumed are
// removed from them, so no message is lost or shown twice. Signed-cookie
// sessions and engines without compare-and-swap keep Django's behaviour
// (the last response wins).
//
// # Malformed data
//
// Data under "_messages" that is not a list of Django messages (a corrupt
// or foreign value) never causes a panic or an error page: the elements
// that are valid messages are kept, the rest is dropped and reported once
// to the Config's logger. [Decode] reports the same problems as an error
// matching [ErrMalformed].
package messages

import (
	"errors"
	"html/template"
	"log/slog"
	"strconv"

	"github.com/sessionkit/sessions"
)

// Key is the session key holding the messages, as Django's
// SessionStorage.session_key.
const Key = "_messages"

// ErrMalformed is matched by the errors of [Decode] for data that is not
// a list of Django messages.
var ErrMalformed = errors.New("messages: malformed stored messages")

// Level is a message's importance, an integer as in Django. Custom levels
// are allowed; they get an empty level tag unless [Config.Tags] names them.
type Level int

// Django's message levels (django.contrib.messages.constants).
const (
	LevelDebug   Level = 10
	LevelInfo    Level = 20
	LevelSuccess Level = 25
	LevelWarning Level = 30
	LevelError   Level = 40
)

// defaultTag returns Django's DEFAULT_TAGS entry for l, or "".
func defaultTag(l Level) string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelSuccess:
		return "success"
	case LevelWarning:
		return "warning"
	case LevelError:
		return "error"
	}
	return ""
}

// String returns Django's tag for the level ("debug", "info", "success",
// "warning", "error"), or the number for any other level.
func (l Level) String() string {
	if t := defaultTag(l); t != "" {
		return t
	}
	return strconv.Itoa(int(l))
}

// Message is one message, with the fields of Django's Message.
type Message struct {
	Level Level
	// Text is the message itself (Django's message). When Safe is false it
	// is plain text, to be escaped when written into HTML.
	Text string
	// ExtraTags are space-separated tags given when the message was added
	// (Django's extra_tags), for example a CSS class.
	ExtraTags string
	// Safe reports that Text is HTML that must not be escaped: the message
	// was added with [Safe], or by Django with a mark_safe string.
	Safe bool
	// LevelTag is the tag of Level under the settings that read the
	// message (Django's level_tag): filled by Get, Peek and Decode, never
	// stored.
	LevelTag string
}

// Tags returns the extra tags and the level tag separated by a space,
// leaving out empty ones, as Django's Message.tags: "sticky success".
func (m Message) Tags() string {
	switch {
	case m.ExtraTags == "":
		return m.LevelTag
	case m.LevelTag == "":
		return m.ExtraTags
	}
	return m.ExtraTags + " " + m.LevelTag
}

// String returns the text, as Django's str(message).
func (m Message) String() string { return m.Text }

// HTML returns the text for an html/template: as is when it is Safe, else
// escaped, so {{.HTML}} renders the message as Django's {{ message }}
// does.
func (m Message) HTML() template.HTML {
	if m.Safe {
		return template.HTML(m.Text)
	}
	return template.HTML(template.HTMLEscapeString(m.Text))
}

// An Option sets a detail of a message being added.
type Option func(*Message)

// ExtraTags gives a message extra tags (Django's extra_tags argument),
// space-separated.
func ExtraTags(tags string) Option { return func(m *Message) { m.ExtraTags = tags } }

// Safe marks the text as HTML to show unescaped, as Django's mark_safe:
// use it only for text that holds no user input.
func Safe() Option { return func(m *Message) { m.Safe = true } }

// Config holds Django's message settings. The zero Config (and a nil one)
// has Django's defaults; a Config is safe for concurrent use once set up.
type Config struct {
	// MinLevel is the lowest level that is recorded (Django's
	// MESSAGE_LEVEL); messages below it are dropped by Add. Zero means
	// LevelInfo, Django's default, which drops debug messages: set
	// LevelDebug to keep them (or math.MinInt to keep every level).
	MinLevel Level
	// Tags overrides the level tags (Django's MESSAGE_TAGS, merged over
	// the default tags), for example {LevelError: "danger"} for
	// Bootstrap.
	Tags map[Level]string
	// Logger receives a warning when stored messages are malformed. Nil
	// means slog.Default().
	Logger *slog.Logger
}

func (c *Config) minLevel() Level {
	if c == nil || c.MinLevel == 0 {
		return LevelInfo
	}
	return c.MinLevel
}

// LevelTag returns the tag of a level under c: Tags[l] if set, else
// Django's default tag ("" for a custom level).
func (c *Config) LevelTag(l Level) string {
	if c != nil {
		if t, ok := c.Tags[l]; ok {
			return t
		}
	}
	return defaultTag(l)
}

func (c *Config) logger() *slog.Logger {
	if c == nil || c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

// Add queues a message for the next page the visitor sees, as Django's
// add_message. An empty text, or a level below MinLevel, is dropped, as
// Django does. The session is modified and saved with the response. A nil
// session (a request that did not pass through the sessions middleware)
// drops the message with a warning to the logger.
func (c *Config) Add(s *sessions.Session, level Level, text string, opts ...Option) {
	if text == "" || level < c.minLevel() {
		return
	}
	if s == nil {
		c.logger().Warn("messages: no session to add a message to; is the handler wrapped by the sessions middleware?")
		return
	}
	m := Message{Level: level, Text: text}
	for _, o := range opts {
		o(&m)
	}
	stored, _ := c.load(s)
	stored = append(stored, entry{level: m.Level, text: m.Text, tags: m.ExtraTags, safe: m.Safe})
	s.SetMerge(Key, c.merge)
	s.Set(Key, encodeEntries(stored))
}

// Debug adds a message with LevelDebug (dropped unless MinLevel allows it).
func (c *Config) Debug(s *sessions.Session, text string, opts ...Option) {
	c.Add(s, LevelDebug, text, opts...)
}

// Info adds a message with LevelInfo.
func (c *Config) Info(s *sessions.Session, text string, opts ...Option) {
	c.Add(s, LevelInfo, text, opts...)
}

// Success adds a message with LevelSuccess.
func (c *Config) Success(s *sessions.Session, text string, opts ...Option) {
	c.Add(s, LevelSuccess, text, opts...)
}

// Warning adds a message with LevelWarning.
func (c *Config) Warning(s *sessions.Session, text string, opts ...Option) {
	c.Add(s, LevelWarning, text, opts...)
}

// Error adds a message with LevelError.
func (c *Config) Error(s *sessions.Session, text string, opts ...Option) {
	c.Add(s, LevelError, text, opts...)
}

// Get returns the queued messages, oldest first, and removes them from the
// session, as iterating over Django's get_messages(request) does: they are
// shown once. Messages added after Get in the same request are kept for
// the next one. It returns nil when there are none (or s is nil).
func (c *Config) Get(s *sessions.Session) []Message {
	if s == nil {
		return nil
	}
	stored, present := c.load(s)
	if present {
		s.SetMerge(Key, c.merge)
		s.Delete(Key)
	}
	return c.messages(stored)
}

// Peek returns the queued messages without consuming them: they are still
// there for Get (Django's len(storage), or reading its loaded messages
// without iterating the storage).
func (c *Config) Peek(s *sessions.Session) []Message {
	if s == nil {
		return nil
	}
	stored, _ := c.load(s)
	return c.messages(stored)
}

func (c *Config) messages(stored []entry) []Message {
	if len(stored) == 0 {
		return nil
	}
	out := make([]Message, len(stored))
	for i, e := range stored {
		out[i] = e.message(c.LevelTag(e.level))
	}
	return out
}

// load reads the stored messages of s, reporting whether the key is
// present. Malformed data is logged; its valid messages are returned.
func (c *Config) load(s *sessions.Session) ([]entry, bool) {
	v, present := s.Lookup(Key)
	if !present || v == nil {
		return nil, present
	}
	str, ok := v.(string)
	if !ok {
		c.logMalformed(errors.New("the stored value is not a string"))
		return nil, true
	}
	stored, err := decodeEntries(str)
	if err != nil {
		c.logMalformed(err)
	}
	return stored, true
}

func (c *Config) logMalformed(err error) {
	c.logger().Warn("messages: dropping malformed stored messages", slog.String("key", Key), slog.String("error", err.Error()))
}

// merge is the session's MergeFunc for Key (see the package doc): theirs,
// without the messages this request consumed, plus the ones it added.
// Messages are compared as whole values, counting duplicates.
func (c *Config) merge(base, theirs, ours any) (any, bool) {
	removed := make(map[entry]int)
	for _, e := range c.entriesOf(base) {
		removed[e]++
	}
	var added []entry
	for _, e := range c.entriesOf(ours) {
		if removed[e] > 0 {
			removed[e]-- // kept
		} else {
			added = append(added, e)
		}
	}
	var out []entry
	for _, e := range c.entriesOf(theirs) {
		if removed[e] > 0 {
			removed[e]--
			continue
		}
		out = append(out, e)
	}
	out = append(out, added...)
	if len(out) == 0 {
		return nil, false
	}
	return encodeEntries(out), true
}

func (c *Config) entriesOf(v any) []entry {
	str, ok := v.(string)
	if !ok {
		return nil
	}
	stored, err := decodeEntries(str)
	if err != nil {
		c.logMalformed(err)
	}
	return stored
}

// The package-level functions use the default Config (Django's
// settings).
var std *Config

// Add queues a message with Django's default settings; see [Config.Add].
func Add(s *sessions.Session, level Level, text string, opts ...Option) {
	std.Add(s, level, text, opts...)
}

// Debug adds a message with LevelDebug. With the default settings debug
// messages are dropped, as in Django; use a [Config] to keep them.
func Debug(s *sessions.Session, text string, opts ...Option) { std.Add(s, LevelDebug, text, opts...) }

// Info adds a message with LevelInfo.
func Info(s *sessions.Session, text string, opts ...Option) { std.Add(s, LevelInfo, text, opts...) }

// Success adds a message with LevelSuccess.
func Success(s *sessions.Session, text string, opts ...Option) {
	std.Add(s, LevelSuccess, text, opts...)
}

// Warning adds a message with LevelWarning.
func Warning(s *sessions.Session, text string, opts ...Option) {
	std.Add(s, LevelWarning, text, opts...)
}

// Error adds a message with LevelError.
func Error(s *sessions.Session, text string, opts ...Option) { std.Add(s, LevelError, text, opts...) }

// Get returns the queued messages and removes them; see [Config.Get].
func Get(s *sessions.Session) []Message { return std.Get(s) }

// Peek returns the queued messages without removing them; see
// [Config.Peek].
func Peek(s *sessions.Session) []Message { return std.Peek(s) }
