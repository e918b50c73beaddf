package sessions

import (
	"errors"
	"fmt"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/expiry"
	"github.com/sessionkit/sessions/internal/textutil"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestExpiryAgeFloorsLikePython(t *testing.T) {
	m := &Manager{s: DefaultSettings(), clock: time.Now}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Session{m: m}
	s.ensureLoadedForTest()
	s.data.Set(ExpiryKey, expiry.Isoformat(now.Add(1500*time.Millisecond)))
	if got := s.expiryAge(now); got != time.Second {
		t.Errorf("1.5 s ahead: %v", got)
	}
	s.data.Set(ExpiryKey, expiry.Isoformat(now.Add(-500*time.Millisecond)))
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
		patchVary(h, "Cookie")
		if got := strings.Join(h.Values("Vary"), "|"); got != c.want {
			t.Errorf("patchVary(%v) = %q, want %q", c.in, got, c.want)
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
	if textutil.RedactKey("abcdefghijklmnop") != "abcd…" || textutil.RedactKey("ab") != "…" {
		t.Error("RedactKey")
	}
}
