package main

import (
	"encoding/json"

	"github.com/sessionkit/sessions"
)

// One-time messages ("Added to cart") are kept as django.contrib.messages'
// SessionStorage keeps them: a JSON string under "_messages" holding
// ["__json_message", is_safe, level, text] lists, so Django shows the
// messages the demo left and the other way round.

// Django's message levels.
const (
	levelInfo    = 20
	levelSuccess = 25
	levelWarning = 30
	levelError   = 40
)

// flash is a message as the layout shows it.
type flash struct {
	Level string // info, success, warning or error: a CSS class
	Text  string
}

// levelName returns the CSS class of a Django message level.
func levelName(level int) string {
	switch {
	case level >= levelError:
		return "error"
	case level >= levelWarning:
		return "warning"
	case level >= levelSuccess:
		return "success"
	}
	return "info"
}

// storedMessages returns the queued messages as Django stores them.
func storedMessages(sess *sessions.Session) [][]any {
	s, _ := sess.Get(messagesKey).(string)
	if s == "" {
		return nil
	}
	var out [][]any
	if json.Unmarshal([]byte(s), &out) != nil {
		return nil
	}
	return out
}

// addMessage queues a message for the next page the visitor sees.
func addMessage(sess *sessions.Session, level int, text string) {
	msgs := append(storedMessages(sess), []any{"__json_message", 0, level, text})
	b, err := json.Marshal(msgs)
	if err != nil {
		return
	}
	sess.Set(messagesKey, string(b))
}

// popMessages returns the queued messages and removes them.
func popMessages(sess *sessions.Session) []flash {
	if !sess.Has(messagesKey) {
		return nil
	}
	msgs := storedMessages(sess)
	sess.Delete(messagesKey)
	var out []flash
	for _, m := range msgs {
		if len(m) < 4 || m[0] != "__json_message" {
			continue
		}
		level, _ := m[2].(float64)
		text, _ := m[3].(string)
		out = append(out, flash{Level: levelName(int(level)), Text: text})
	}
	return out
}
