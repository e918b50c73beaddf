package expiry

import (
	"math"
	"math/big"
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

// TestSecondsSaturate: a number beyond int64 (a float, a Python int) is
// the largest (or smallest) int64, never a wrapped value of the other
// sign; Age holds any of them within what a Duration counts.
func TestSecondsSaturate(t *testing.T) {
	huge := new(big.Int).Lsh(big.NewInt(1), 80)
	const maxAge = time.Duration(math.MaxInt64/int64(time.Second)) * time.Second
	cases := []struct {
		in   any
		n    int64
		ok   bool
		life time.Duration
	}{
		{int64(10), 10, true, 10 * time.Second},
		{10.9, 10, true, 10 * time.Second},
		{int64(math.MaxInt64), math.MaxInt64, true, maxAge},
		{int64(math.MinInt64), math.MinInt64, true, -maxAge},
		{1e300, math.MaxInt64, true, maxAge},
		{-1e300, math.MinInt64, true, -maxAge},
		{float64(math.MaxInt64), math.MaxInt64, true, maxAge},
		{huge, math.MaxInt64, true, maxAge},
		{new(big.Int).Neg(huge), math.MinInt64, true, -maxAge},
		{math.NaN(), 0, false, 0},
		{math.Inf(1), 0, false, 0},
	}
	for _, c := range cases {
		n, ok := Seconds(c.in)
		if n != c.n || ok != c.ok {
			t.Errorf("Seconds(%v) = %d, %v; want %d, %v", c.in, n, ok, c.n, c.ok)
		}
		if !ok {
			continue
		}
		if got := Age(n); got != c.life {
			t.Errorf("Age(%d) = %v, want %v", n, got, c.life)
		}
		if _, life, abs := Lifetime(c.in, time.Hour); abs || life != c.life {
			t.Errorf("Lifetime(%v) = %v, %v; want %v", c.in, life, abs, c.life)
		}
	}
}
