package sessions

import (
	"errors"
	"fmt"
	"github.com/sessionkit/sessions/codec"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestIsoformatMatchesPython(t *testing.T) {
	cases := map[time.Time]string{
		time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC):                  "2030-01-02T03:04:05+00:00",
		time.Date(2026, 11, 21, 22, 13, 20, 123456789, time.UTC):     "2026-11-21T22:13:20.123456+00:00",
		time.Date(2030, 1, 2, 5, 4, 5, 0, time.FixedZone("x", 7200)): "2030-01-02T03:04:05+00:00",
	}
	for in, want := range cases {
		if got := isoformat(in); got != want {
			t.Errorf("isoformat(%v) = %s, want %s", in, got, want)
		}
		back, ok := parseISO(want)
		if !ok || !back.Equal(in.Truncate(time.Microsecond)) {
			t.Errorf("parseISO(%s) = %v, %v", want, back, ok)
		}
	}
	for in, want := range map[string]time.Time{
		"2030-01-02T03:04:05":         time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		"2030-01-02 03:04:05.5+01:00": time.Date(2030, 1, 2, 2, 4, 5, 5e8, time.UTC),
		"2030-01-02T03:04:05Z":        time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		"2030-01-02":                  time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC),
	} {
		got, ok := parseISO(in)
		if !ok || !got.Equal(want) {
			t.Errorf("parseISO(%q) = %v, %v", in, got, ok)
		}
	}
	if _, ok := parseISO("next tuesday"); ok {
		t.Error("garbage parsed")
	}
}

func TestExpiryAgeFloorsLikePython(t *testing.T) {
	m := &Manager{s: DefaultSettings(), clock: time.Now}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Session{m: m}
	s.ensureLoadedForTest()
	s.data.Set(ExpiryKey, isoformat(now.Add(1500*time.Millisecond)))
	if got := s.expiryAge(now); got != time.Second {
		t.Errorf("1.5 s ahead: %v", got)
	}
	s.data.Set(ExpiryKey, isoformat(now.Add(-500*time.Millisecond)))
	if got := s.expiryAge(now); got != -time.Second {
		t.Errorf("0.5 s behind: %v, want -1s (Python floors)", got)
	}
	s.data.Set(ExpiryKey, 1.9)
	if got := s.expiryAge(now); got != time.Second {
		t.Errorf("float seconds: %v", got)
	}
	s.data.Set(ExpiryKey, "not a date")
	if got := s.expiryAge(now); got != DefaultCookieAge {
		t.Errorf("unparsable: %v", got)
	}
}

func (s *Session) ensureLoadedForTest() {
	if s.data == nil {
		s.data = &codec.Dict{}
	}
}

func TestPatchVary(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{nil, "Cookie"},
		{[]string{"Accept-Encoding"}, "Accept-Encoding, Cookie"},
		{[]string{"accept-encoding, COOKIE"}, "accept-encoding, COOKIE"},
		{[]string{"Accept", "Origin"}, "Accept, Origin, Cookie"},
		{[]string{"*"}, "*"},
		{[]string{"Accept, *"}, "*"},
	}
	for _, c := range cases {
		h := http.Header{}
		for _, v := range c.in {
			h.Add("Vary", v)
		}
		PatchVary(h, "Cookie")
		if got := strings.Join(h.Values("Vary"), "|"); got != c.want {
			t.Errorf("PatchVary(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestErrorWrapping(t *testing.T) {
	base := fmt.Errorf("dial tcp: connection refused")
	err := wrap("load", "redis", base)
	var se *Error
	if !errors.As(err, &se) || se.Op != "load" || se.Engine != "redis" || !errors.Is(err, base) {
		t.Fatalf("wrap: %#v", err)
	}
	if err.Error() != "sessions: redis load: dial tcp: connection refused" {
		t.Errorf("text %q", err.Error())
	}
	if wrap("x", "y", nil) != nil {
		t.Error("wrap(nil) != nil")
	}
	if again := wrap("update", "redis", err); again != err {
		t.Error("double wrap")
	}
	if RedactKey("abcdefghijklmnop") != "abcd…" || RedactKey("ab") != "…" {
		t.Error("RedactKey")
	}
}
