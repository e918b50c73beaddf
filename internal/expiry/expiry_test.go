package expiry

import (
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
		if got := Isoformat(in); got != want {
			t.Errorf("Isoformat(%v) = %s, want %s", in, got, want)
		}
		back, ok := ParseISO(want)
		if !ok || !back.Equal(in.Truncate(time.Microsecond)) {
			t.Errorf("ParseISO(%s) = %v, %v", want, back, ok)
		}
	}
	for in, want := range map[string]time.Time{
		"2030-01-02T03:04:05":         time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		"2030-01-02 03:04:05.5+01:00": time.Date(2030, 1, 2, 2, 4, 5, 5e8, time.UTC),
		"2030-01-02T03:04:05Z":        time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		"2030-01-02":                  time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC),
	} {
		got, ok := ParseISO(in)
		if !ok || !got.Equal(want) {
			t.Errorf("ParseISO(%q) = %v, %v", in, got, ok)
		}
	}
	if _, ok := ParseISO("next tuesday"); ok {
		t.Error("garbage parsed")
	}
}
