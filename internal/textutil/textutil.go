// Package textutil holds the small text helpers that the root package and
// the engines share for error messages and logs: quoting with a length
// cap, and the loggable form of a session key.
package textutil

import (
	"strconv"
	"unicode/utf8"
)

// MaxQuote is about the most characters of a config string (or of a part
// of one) that an error message quotes; longer strings are cut with an
// ellipsis.
const MaxQuote = 200

// Quote returns s quoted as strconv.Quote does, cut to about [MaxQuote]
// characters with an ellipsis, for error messages. s must hold no secret.
func Quote(s string) string { return strconv.Quote(Shorten(s)) }

// Shorten returns s cut to about [MaxQuote] characters (at a character
// boundary) followed by an ellipsis and the length cut, or s itself when
// it is short enough.
func Shorten(s string) string {
	if len(s) <= MaxQuote {
		return s
	}
	cut := MaxQuote - 20
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// RedactKey returns a form of a session key that is safe to log: its
// first four characters followed by an ellipsis. It never reveals enough
// of the key to hijack the session.
func RedactKey(key string) string {
	if len(key) <= 4 {
		return "…"
	}
	return key[:4] + "…"
}
