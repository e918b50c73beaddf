package sessions

import "github.com/sessionkit/sessions/internal/textutil"

// Internals the external tests of this package reach.
var (
	QuoteConfig     = quoteConfig
	Quote           = textutil.Quote
	CheckNoLocation = checkNoLocation
	ResolveConfig   = resolveConfig
)
