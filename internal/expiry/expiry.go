// Package expiry interprets Django's "_session_expiry" entry: an integer
// number of seconds counted from each save (0: at browser close), or an
// ISO-8601 date, as SessionBase.get_expiry_age and get_expiry_date read
// it. The root package and engines whose format carries the expiry (the
// file engine) share it.
package expiry

import (
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/sessionkit/sessions/codec"
)

// Key is the session entry holding a custom expiry.
const Key = "_session_expiry"

// Lifetime tells how the expiry value v counts: an absolute date (ok),
// or a lifetime from each save: the relative number of seconds, else the
// cookie age.
func Lifetime(v any, cookieAge time.Duration) (abs time.Time, life time.Duration, ok bool) {
	if t, ok := Time(v); ok {
		return t, 0, true
	}
	if n, ok := Seconds(v); ok && n != 0 {
		return time.Time{}, Age(n), false
	}
	return time.Time{}, cookieAge.Truncate(time.Second), false
}

// maxSeconds is the largest number of whole seconds a time.Duration holds
// (about 292 years).
const maxSeconds = int64(math.MaxInt64 / time.Second)

// Age is n seconds as a time.Duration, held within what a Duration can
// count (about 292 years either way) rather than wrapping around: Django
// stores any Python int, and a wrapped value would turn a session meant to
// live for centuries into one already expired, or the other way round.
func Age(n int64) time.Duration {
	return time.Duration(max(-maxSeconds, min(n, maxSeconds))) * time.Second
}

// IsFalsy reports whether v is "no custom expiry" as Python tests it
// (None, "", False, 0).
func IsFalsy(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	}
	n, ok := Seconds(v)
	return ok && n == 0
}

// Seconds reads a numeric expiry as Python compares it: Django stores
// ints; floats are truncated, except that a fraction of a second, which
// Python keeps as a non-zero expiry (not "at browser close"), counts as a
// whole second either way; a bool is the int Python takes it for (True
// 1, False 0).
func Seconds(v any) (int64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case float64:
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			return 0, false
		case x >= math.MaxInt64: // beyond int64: converting would wrap
			return math.MaxInt64, true
		case x <= math.MinInt64:
			return math.MinInt64, true
		case x > 0 && x < 1:
			return 1, true
		case x < 0 && x > -1:
			return -1, true
		}
		return int64(x), true
	case *big.Int:
		switch {
		case x.IsInt64():
			return x.Int64(), true
		case x.Sign() > 0: // a Python int beyond int64: as large as it gets
			return math.MaxInt64, true
		}
		return math.MinInt64, true
	}
	return 0, false
}

// Time reads an absolute expiry (an ISO-8601 string or a time.Time).
func Time(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		return ParseISO(x)
	}
	return time.Time{}, false
}

// Isoformat writes t as Python's datetime.isoformat() of an aware UTC
// datetime: microseconds only when non-zero, "+00:00" for UTC.
func Isoformat(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += t.Format(".000000")
	}
	return s + "+00:00"
}

// ParseISO reads what Python's datetime.fromisoformat accepts in practice
// for session expiries. A date without an offset is taken as UTC.
func ParseISO(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "Z") {
		s = s[:len(s)-1] + "+00:00"
	}
	for _, layout := range []string{
		"2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04Z07:00",
		"2006-01-02T15:04",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// OfData decodes session data with c and tells how their expiry
// counts, as the Manager counts it ([Session.ExpiryDate] as of the save):
// an absolute "_session_expiry" (abs, with absolute true), or else a
// lifetime from each save: the relative "_session_expiry" in seconds
// (possibly negative), or cookieAge when there is none, it is 0, or the
// data cannot be decoded. Engines that keep the save time and derive
// expiry from it, as Django's file engine does, use it.
func OfData(c codec.Codec, data []byte, cookieAge time.Duration) (abs time.Time, life time.Duration, absolute bool) {
	d, err := c.Decode(data)
	if err != nil {
		return time.Time{}, cookieAge.Truncate(time.Second), false
	}
	v, _ := d.Get(Key)
	return Lifetime(v, cookieAge)
}

// AbsoluteOfData decodes session data with c and returns the absolute expiry
// stored in it (an ISO-8601 "_session_expiry", as Django's set_expiry with
// a datetime writes). It reports false when the data carry no absolute
// expiry or cannot be decoded. Engines that derive expiry from the data,
// as Django's file engine does, use it.
func AbsoluteOfData(c codec.Codec, data []byte) (time.Time, bool) {
	d, err := c.Decode(data)
	if err != nil {
		return time.Time{}, false
	}
	v, _ := d.Get(Key)
	if s, ok := v.(string); ok {
		return ParseISO(s)
	}
	return time.Time{}, false
}
