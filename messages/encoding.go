package messages

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sessionkit/sessions/internal/pyjson"
)

// marker is MessageEncoder.message_key, the first element of every
// encoded message.
const marker = "__json_message"

// entry is a message as stored. noTags records a message stored without
// extra tags (Django's extra_tags=None, or "" written by Django 3.2), so
// that rewriting the list keeps it as Django would re-encode it.
type entry struct {
	level  Level
	text   string
	tags   string
	safe   bool
	noTags bool
}

func (e entry) message(levelTag string) Message {
	return Message{Level: e.level, Text: e.text, ExtraTags: e.tags, Safe: e.safe, LevelTag: levelTag}
}

// appendEntry appends e as Django's MessageEncoder writes a Message inside
// json.dumps with the default separators and ensure_ascii:
// ["__json_message", 0, 25, "text", "tags"].
func appendEntry(dst []byte, e entry) []byte {
	dst = append(dst, `["`+marker+`", `...)
	if e.safe {
		dst = append(dst, '1')
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, ", "...)
	dst = strconv.AppendInt(dst, int64(e.level), 10)
	dst = append(dst, ", "...)
	dst = appendText(dst, e.text)
	if !e.noTags {
		dst = append(dst, ", "...)
		dst = appendText(dst, e.tags)
	}
	return append(dst, ']')
}

// appendText appends s as a JSON string; a lone surrogate read from
// Django is kept, any other invalid UTF-8 is written as U+FFFD.
func appendText(dst []byte, s string) []byte {
	out, err := pyjson.AppendString(dst, s)
	if err != nil {
		out, _ = pyjson.AppendString(dst, strings.ToValidUTF8(s, "\uFFFD"))
	}
	return out
}

// encodeEntries returns the list as SessionStorage.serialize_messages
// writes it.
func encodeEntries(es []entry) string {
	n := 2
	for _, e := range es {
		n += len(e.text) + len(e.tags) + 40
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, e := range es {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendEntry(b, e)
	}
	return string(append(b, ']'))
}

// Encode returns msgs as Django's SessionStorage stores them under [Key]:
// the JSON text of MessageEncoder with Python's default separators and
// non-ASCII characters escaped, byte for byte what Django 4.2 and later
// write (Django 3.2 leaves out an empty ExtraTags; every version reads
// both forms). Invalid UTF-8 in a text is written as U+FFFD. LevelTag is
// not stored.
func Encode(msgs []Message) string {
	es := make([]entry, len(msgs))
	for i, m := range msgs {
		es[i] = entry{level: m.Level, text: m.Text, tags: m.ExtraTags, safe: m.Safe}
	}
	return encodeEntries(es)
}

// Decode reads the value Django's SessionStorage keeps under [Key], as
// MessageDecoder does, with Django's default level tags. An empty data is
// no messages. When some elements are not Django messages, it returns the
// valid ones with an error matching [ErrMalformed] that describes the
// first invalid one (never its content). A lone UTF-16 surrogate in a text
// (which a Python string can hold and a Go string cannot) reads as U+FFFD.
func Decode(data string) ([]Message, error) {
	es, err := decodeEntries(data)
	var c *Config
	return c.messages(es), err
}

func decodeEntries(data string) ([]entry, error) {
	if data == "" {
		return nil, nil // Django: "if data and isinstance(data, str)"
	}
	v, err := pyjson.DecodeUTF8([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: not a JSON list", ErrMalformed)
	}
	out := make([]entry, 0, len(list))
	var first error
	bad := 0
	for i, x := range list {
		e, err := decodeEntry(x)
		if err != nil {
			bad++
			if first == nil {
				first = fmt.Errorf("element %d: %w", i, err)
			}
			continue
		}
		out = append(out, e)
	}
	if bad > 0 {
		return out, fmt.Errorf("%w: %d of %d elements are not messages; %w", ErrMalformed, bad, len(list), first)
	}
	return out, nil
}

// decodeEntry reads one encoded Message: ["__json_message", is_safe,
// level, message] with an optional extra_tags.
func decodeEntry(x any) (entry, error) {
	a, ok := x.([]any)
	if !ok || len(a) == 0 || a[0] != marker {
		return entry{}, errors.New("not a message (no " + marker + " marker)")
	}
	if len(a) != 4 && len(a) != 5 {
		return entry{}, fmt.Errorf("a message has 4 or 5 elements, not %d", len(a))
	}
	var e entry
	switch s := a[1].(type) {
	case int64:
		e.safe = s != 0
	case bool:
		e.safe = s
	default:
		return entry{}, errors.New("the safe flag is not 0 or 1")
	}
	level, ok := a[2].(int64)
	if !ok || int64(Level(level)) != level {
		return entry{}, errors.New("the level is not an integer")
	}
	e.level = Level(level)
	if e.text, ok = a[3].(string); !ok {
		return entry{}, errors.New("the text is not a string")
	}
	e.noTags = true
	if len(a) == 5 && a[4] != nil {
		if e.tags, ok = a[4].(string); !ok {
			return entry{}, errors.New("the extra tags are not a string")
		}
		e.noTags = false
	}
	return e, nil
}
