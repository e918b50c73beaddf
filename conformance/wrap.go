package conformance

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

//go:generate go run genmirror.go

// BaseOnly returns e with every optional interface hidden: the result
// implements sessions.Engine and nothing else (no Swapper, Toucher,
// ExpiryReader, ExpiredDeleter, Lister, UserIndexer, nor Codecer or
// Describer, so a Manager over it uses the default codec). Run
// [RunManager] over it to cover the Manager's path for an engine with the
// base methods only, the path a minimal third-party engine takes:
//
//	conformance.RunManager(t, conformance.Harness{
//		New: func(t *testing.T) sessions.Backend { return conformance.BaseOnly(newEngine(t)) },
//	})
func BaseOnly(e sessions.Engine) sessions.Engine { return baseOnly{e} }

type baseOnly struct{ e sessions.Engine }

func (b baseOnly) Load(ctx context.Context, key string) ([]byte, error) { return b.e.Load(ctx, key) }

func (b baseOnly) Create(ctx context.Context, key string, data []byte, exp time.Time) error {
	return b.e.Create(ctx, key, data, exp)
}

func (b baseOnly) Update(ctx context.Context, key string, data []byte, exp time.Time) error {
	return b.e.Update(ctx, key, data, exp)
}

func (b baseOnly) Delete(ctx context.Context, key string) error { return b.e.Delete(ctx, key) }

func (b baseOnly) Close() error { return b.e.Close() }

// call is one engine call, as a hook sees it.
type call struct {
	op      string          // the method, "Load", "Swap", "Close"...
	ctx     context.Context // nil for Close
	keys    []string        // the session keys it names
	user    string          // the user ID, when hasUser
	hasUser bool
}

// hooked passes every call to an engine through hook first; an error
// from hook is returned instead of calling the engine. [mirror] gives it
// the optional interfaces of the engine, so that a Manager over it takes
// the same paths as over the engine itself.
type hooked struct {
	e    sessions.Engine
	hook func(call) error

	swap   sessions.Swapper
	touch  sessions.Toucher
	expiry sessions.ExpiryReader
	purge  sessions.ExpiredDeleter
	list   sessions.Lister
	users  sessions.UserIndexer
}

// wrapEngine returns e behind hook, with e's optional interfaces.
func wrapEngine(e sessions.Engine, hook func(call) error) sessions.Engine {
	h := &hooked{e: e, hook: hook}
	h.swap, _ = e.(sessions.Swapper)
	h.touch, _ = e.(sessions.Toucher)
	h.expiry, _ = e.(sessions.ExpiryReader)
	h.purge, _ = e.(sessions.ExpiredDeleter)
	h.list, _ = e.(sessions.Lister)
	h.users, _ = e.(sessions.UserIndexer)
	return mirror(h)
}

// The bits of mirror's mask, one for each optional interface.
const (
	hasSwap = 1 << iota
	hasTouch
	hasExpiry
	hasPurge
	hasList
	hasUsers
)

func (h *hooked) mask() int {
	m := 0
	set := func(bit int, ok bool) {
		if ok {
			m |= bit
		}
	}
	set(hasSwap, h.swap != nil)
	set(hasTouch, h.touch != nil)
	set(hasExpiry, h.expiry != nil)
	set(hasPurge, h.purge != nil)
	set(hasList, h.list != nil)
	set(hasUsers, h.users != nil)
	return m
}

func (h *hooked) Load(ctx context.Context, key string) ([]byte, error) {
	if err := h.hook(call{op: "Load", ctx: ctx, keys: []string{key}}); err != nil {
		return nil, err
	}
	return h.e.Load(ctx, key)
}

func (h *hooked) Create(ctx context.Context, key string, data []byte, exp time.Time) error {
	if err := h.hook(call{op: "Create", ctx: ctx, keys: []string{key}}); err != nil {
		return err
	}
	return h.e.Create(ctx, key, data, exp)
}

func (h *hooked) Update(ctx context.Context, key string, data []byte, exp time.Time) error {
	if err := h.hook(call{op: "Update", ctx: ctx, keys: []string{key}}); err != nil {
		return err
	}
	return h.e.Update(ctx, key, data, exp)
}

func (h *hooked) Delete(ctx context.Context, key string) error {
	if err := h.hook(call{op: "Delete", ctx: ctx, keys: []string{key}}); err != nil {
		return err
	}
	return h.e.Delete(ctx, key)
}

func (h *hooked) Close() error {
	if err := h.hook(call{op: "Close"}); err != nil {
		return err
	}
	return h.e.Close()
}

// Codec, Name and Describe answer as the engine does (or as the Manager
// does for an engine without them), so that a Manager over the wrapper
// uses the engine's codec and names it.
func (h *hooked) Codec(s sessions.Settings) codec.Codec {
	if c, ok := h.e.(sessions.Codecer); ok {
		return c.Codec(s)
	}
	return nil
}

func (h *hooked) Name() string {
	if d, ok := h.e.(sessions.Describer); ok {
		return d.Name()
	}
	return fmt.Sprintf("%T", h.e)
}

func (h *hooked) Describe() string {
	if d, ok := h.e.(sessions.Describer); ok {
		return d.Describe()
	}
	return ""
}

// The optional methods, one embeddable type each (see mirror).

type hookedSwap struct{ h *hooked }

func (x hookedSwap) Swap(ctx context.Context, key string, old, data []byte, exp time.Time) error {
	if err := x.h.hook(call{op: "Swap", ctx: ctx, keys: []string{key}}); err != nil {
		return err
	}
	return x.h.swap.Swap(ctx, key, old, data, exp)
}

type hookedTouch struct{ h *hooked }

func (x hookedTouch) Touch(ctx context.Context, key string, exp time.Time) error {
	if err := x.h.hook(call{op: "Touch", ctx: ctx, keys: []string{key}}); err != nil {
		return err
	}
	return x.h.touch.Touch(ctx, key, exp)
}

type hookedExpiry struct{ h *hooked }

func (x hookedExpiry) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	if err := x.h.hook(call{op: "LoadExpiry", ctx: ctx, keys: []string{key}}); err != nil {
		return nil, time.Time{}, err
	}
	return x.h.expiry.LoadExpiry(ctx, key)
}

type hookedPurge struct{ h *hooked }

func (x hookedPurge) DeleteExpired(ctx context.Context) (int64, error) {
	if err := x.h.hook(call{op: "DeleteExpired", ctx: ctx}); err != nil {
		return 0, err
	}
	return x.h.purge.DeleteExpired(ctx)
}

type hookedList struct{ h *hooked }

func (x hookedList) List(ctx context.Context, fn func(key string) bool) error {
	if err := x.h.hook(call{op: "List", ctx: ctx}); err != nil {
		return err
	}
	return x.h.list.List(ctx, fn)
}

type hookedUsers struct{ h *hooked }

func (x hookedUsers) AddUserSession(ctx context.Context, userID, key string, meta []byte, exp time.Time) error {
	if err := x.h.hook(call{op: "AddUserSession", ctx: ctx, keys: []string{key}, user: userID, hasUser: true}); err != nil {
		return err
	}
	return x.h.users.AddUserSession(ctx, userID, key, meta, exp)
}

func (x hookedUsers) UserSessions(ctx context.Context, userID string) ([]sessions.UserEntry, error) {
	if err := x.h.hook(call{op: "UserSessions", ctx: ctx, user: userID, hasUser: true}); err != nil {
		return nil, err
	}
	return x.h.users.UserSessions(ctx, userID)
}

func (x hookedUsers) RemoveUserSessions(ctx context.Context, userID string, keys []string) error {
	if err := x.h.hook(call{op: "RemoveUserSessions", ctx: ctx, keys: keys, user: userID, hasUser: true}); err != nil {
		return err
	}
	return x.h.users.RemoveUserSessions(ctx, userID, keys)
}
