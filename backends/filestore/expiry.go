package filestore

// The expiry rule of a session file (see Expiry in the package
// documentation).

import (
	"time"

	"github.com/sessionkit/sessions/internal/expiry"
)

// Bounds of the modification times the engine writes.
var (
	minMtime = time.Unix(1, 0)
	maxMtime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// lifetimeOf tells how the expiry of a file holding data counts: an
// absolute _session_expiry (absolute true), or else a lifetime from the
// file's mtime: the relative _session_expiry in seconds, or the cookie
// age when there is none (or it is 0, or the data are empty or cannot be
// decoded, which Django reads as an empty session).
func (s *Store) lifetimeOf(data []byte) (abs time.Time, life time.Duration, absolute bool) {
	if s.codec == nil || len(data) == 0 {
		return time.Time{}, s.age, false
	}
	return expiry.OfData(s.codec, data, s.age)
}

// expiryFrom is the one expiry rule, for every file whoever wrote it (see
// Expiry in the package documentation): the absolute date; expired for a
// negative relative expiry, whatever the mtime (Django's expiry age is
// then negative); else mtime + the lifetime.
func expiryFrom(abs time.Time, life time.Duration, absolute bool, mtime time.Time) time.Time {
	switch {
	case absolute:
		return abs
	case life < 0:
		return time.Time{}
	}
	return mtime.Add(life)
}

// mtimeFor returns the modification time for a file whose data count
// their expiry as absolute and life say (lifetimeOf), when the session
// should expire at expiry: expiry minus the lifetime, which is the save
// time whenever expiry is what the data imply (the Manager computes it as
// the save time plus the same lifetime), and earlier when expiry is
// sooner (an idle timeout), so that the rule yields exactly expiry. For
// an absolute expiry, which no mtime can move, and for a negative
// lifetime, it is the save time.
func (s *Store) mtimeFor(absolute bool, life time.Duration, expiry time.Time) time.Time {
	m := expiry.Add(-life)
	if absolute || life < 0 {
		m = s.now()
	}
	if m.Before(minMtime) {
		return minMtime
	}
	if m.After(maxMtime) {
		return maxMtime
	}
	return m
}
