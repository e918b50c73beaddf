package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sessionkit/sessions/codec"
)

// The debug API (sessions demo --debug-api) lets scripts and tests read
// and change the caller's session:
//
//	GET    /api/session   {"data": {...}, "expiry_age": N}
//	POST   /api/session   a JSON object: its keys are set; answers as GET
//	DELETE /api/session   flushes the session; answers as GET
//
// POST takes only application/json, which a form on another site cannot
// send, so the API needs no CSRF token.

// maxAPIBody bounds a POST body.
const maxAPIBody = 1 << 20

// apiGet answers GET /api/session with the caller's session.
func (s *shop) apiGet(w http.ResponseWriter, r *http.Request) {
	s.apiRespond(w, r, http.StatusOK)
}

// apiPost sets the keys of a JSON object in the caller's session.
func (s *shop) apiPost(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		apiError(w, http.StatusUnsupportedMediaType, "send a JSON object with Content-Type: application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			apiError(w, http.StatusRequestEntityTooLarge, "body over "+strconv.Itoa(maxAPIBody)+" bytes")
			return
		}
		apiError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	if !utf8.Valid(body) {
		apiError(w, http.StatusBadRequest, "the body is not UTF-8")
		return
	}
	d, err := codec.UnmarshalPython(asciiJSON(body))
	if err != nil {
		apiError(w, http.StatusBadRequest, "the body must be a JSON object: "+err.Error())
		return
	}
	sess := sessionOf(r)
	for k, v := range d.All() {
		sess.Set(k, v)
	}
	s.apiRespond(w, r, http.StatusOK)
}

// apiDelete flushes the caller's session.
func (s *shop) apiDelete(w http.ResponseWriter, r *http.Request) {
	if err := sessionOf(r).Flush(r.Context()); err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.apiRespond(w, r, http.StatusOK)
}

// apiRespond writes {"data": {...}, "expiry_age": N}, data in Python's
// JSON with the keys in order.
func (s *shop) apiRespond(w http.ResponseWriter, r *http.Request, status int) {
	sess := sessionOf(r)
	data, err := sessionJSON(sess, false)
	if err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]byte, 0, len(data)+40)
	out = append(out, `{"data": `...)
	out = append(out, data...)
	out = append(out, `, "expiry_age": `...)
	out = strconv.AppendInt(out, int64(sess.ExpiryAge()/time.Second), 10)
	out = append(out, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(out)
}

// asciiJSON escapes every non-ASCII character of UTF-8 JSON as \uXXXX,
// so that a parser reading bytes as Latin-1 (as Django's session
// serializer does, and codec.UnmarshalPython with it) reads the text
// that was sent. Outside strings such characters are invalid JSON either
// way.
func asciiJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

// apiError answers {"error": msg}.
func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
