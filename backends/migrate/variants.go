package migrate

import "github.com/sessionkit/sessions"

// base is what every migrating engine implements.
type base interface {
	sessions.Engine
	sessions.Swapper
	sessions.Toucher
	sessions.ExpiredDeleter
	sessions.Codecer
	sessions.Describer
	inner() *store
}

func (s *store) inner() *store { return s }

// The migrating engine with the optional interfaces its two engines allow
// (the Manager finds them by type assertion, so an interface the engines
// cannot back must be absent, not failing): Lister (L) when both list,
// UserIndexer (U) when the new one indexes, ExpiryReader (X) when both
// tell expiries.
type (
	engineB struct{ base }
	engineL struct {
		base
		sessions.Lister
	}
	engineU struct {
		base
		sessions.UserIndexer
	}
	engineX struct {
		base
		sessions.ExpiryReader
	}
	engineLU struct {
		base
		sessions.Lister
		sessions.UserIndexer
	}
	engineLX struct {
		base
		sessions.Lister
		sessions.ExpiryReader
	}
	engineUX struct {
		base
		sessions.UserIndexer
		sessions.ExpiryReader
	}
	engineLUX struct{ full }
)

// full is base with every optional interface.
type full interface {
	base
	sessions.Lister
	sessions.UserIndexer
	sessions.ExpiryReader
}

// engine returns s with the optional interfaces its engines allow.
func (s *store) engine() sessions.Engine { return variant(s) }

// variant returns s (the store, or a test's wrapper of it) with the
// optional interfaces its engines allow.
func variant(s full) sessions.Engine {
	st := s.inner()
	l := st.srcList != nil && st.dstList != nil
	u := st.dstUsers != nil
	x := st.srcExp != nil && st.dstExp != nil
	switch {
	case l && u && x:
		return engineLUX{s}
	case l && u:
		return engineLU{s, s, s}
	case l && x:
		return engineLX{s, s, s}
	case u && x:
		return engineUX{s, s, s}
	case l:
		return engineL{s, s}
	case u:
		return engineU{s, s}
	case x:
		return engineX{s, s}
	}
	return engineB{s}
}
