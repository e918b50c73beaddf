package sessions

import "github.com/sessionkit/sessions/codec"

// mergeFunc is a merge function set with Session.SetMerge.
type mergeFunc = func(base, theirs, ours any) (merged any, keep bool)

// SetMerge makes Save resolve a concurrent change to key with merge
// instead of overwriting it, for this request's Session only; a nil merge
// restores the default. Package messages uses it so that two requests
// adding flash messages at once both keep theirs.
//
// On engines with compare-and-swap ([Swapper]), when Save finds that
// another request saved the session after this one loaded it, it reloads
// the stored data and re-applies this request's changes key by key. By
// default a key this request set or deleted overwrites the other
// request's value for that key (the other keys keep their changes). A
// merge function is called instead, with the key's value as this request
// loaded it (base), as it is stored now (theirs) and as this request
// wants it (ours); a missing key is passed as nil. It returns the value
// to store, or keep false to remove the key. It may be called several
// times during one Save (once per conflict; base is then the value of the
// previous round's theirs), so it must be a pure function of its
// arguments: it must not use the session. Engines without compare-and-swap
// never call it (the last writer wins, as in Django).
func (s *Session) SetMerge(key string, merge func(base, theirs, ours any) (merged any, keep bool)) {
	f := merge
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		delete(s.merges, key)
		return
	}
	if s.merges == nil {
		s.merges = make(map[string]mergeFunc)
	}
	s.merges[key] = f
}

// reapply re-applies this request's changes onto theirs, the data another
// request stored after this one loaded s.raw, and returns the result.
// Callers hold s.mu and call it before replacing s.raw with their bytes.
func (s *Session) reapply(c codec.Codec, theirs *codec.Dict) *codec.Dict {
	var base *codec.Dict
	for k, set := range s.changed {
		var ours any
		if set {
			ours, _ = s.data.Get(k)
		}
		f := s.merges[k]
		if f == nil {
			if set {
				theirs.Set(k, ours)
			} else {
				theirs.Delete(k)
			}
			continue
		}
		if base == nil {
			base = &codec.Dict{}
			if len(s.raw) > 0 {
				if d, err := c.Decode(s.raw); err == nil {
					base = d
				}
			}
		}
		b, _ := base.Get(k)
		t, _ := theirs.Get(k)
		if v, keep := f(b, t, ours); keep {
			theirs.Set(k, v)
		} else {
			theirs.Delete(k)
		}
	}
	return theirs
}
