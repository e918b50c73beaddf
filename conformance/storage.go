package conformance

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/sessionkit/sessions"
)

// storageCases are the base methods of sessions.Engine.
func storageCases() []storeCase {
	return []storeCase{
		{name: "LoadUnknown", quick: true, reason: "Load of a key that was never stored returns ErrNotFound", run: storeLoadUnknown},
		{name: "CreateLoad", quick: true, reason: "Create stores the bytes exactly and Load returns them", run: storeCreateLoad},
		{name: "BinaryData", reason: "data are opaque bytes: NUL bytes, high bytes and the empty value round-trip", run: storeBinaryData},
		{name: "LargeValue", reason: "a large session (up to 1 MiB or the declared maximum) round-trips", run: storeLargeValue},
		{name: "LoadReturnsCopy", reason: "changing the slice Load returned does not change what is stored", run: storeLoadReturnsCopy},
		{name: "CreateExisting", quick: true, reason: "Create on a live key returns ErrExists and leaves the record unchanged (Django's must_create)", run: storeCreateExisting},
		{name: "UpdateReplaces", quick: true, reason: "Update replaces the data and the expiry of a live record", run: storeUpdateReplaces},
		{name: "UpdateMissing", quick: true, reason: "Update of a key that does not exist returns ErrNotFound and stores nothing", run: storeUpdateMissing},
		{name: "UpdateAfterDeleteNoResurrection", quick: true, reason: "a slow request's Update after another request's Delete returns ErrNotFound: a logged-out session is never brought back", run: storeUpdateAfterDeleteNoResurrection},
		{name: "Delete", quick: true, reason: "Delete removes the record; deleting an absent key is not an error", run: storeDelete},
		{name: "KeyIsolation", quick: true, reason: "keys that share prefixes or differ in one character or in length are distinct records", run: storeKeyIsolation},
		{name: "KeyLengths", reason: "keys of 8 to 40 characters from [a-z0-9] are accepted (Django's range and column width)", run: storeKeyLengths},
		{name: "SharedAcrossInstances", reason: "two engine instances over one store see each other's writes and deletes", run: storeSharedAcrossInstances},
	}
}

func storeLoadUnknown(t tb, ev *env) {
	_, err := ev.e.Load(ev.ctx, sessions.NewKey())
	wantErr(t, "Load", err, sessions.ErrNotFound)
}

func storeCreateLoad(t tb, ev *env) {
	k := sessions.NewKey()
	data := []byte("eyJhIjoiYiJ9:1r31eq:signature")
	noErr(t, "Create", ev.e.Create(ev.ctx, k, data, future(ev)))
	defer ev.e.Delete(ev.ctx, k)
	got, err := ev.e.Load(ev.ctx, k)
	noErr(t, "Load", err)
	wantData(t, "Load", got, data)
}

func storeBinaryData(t tb, ev *env) {
	for _, data := range [][]byte{{0, 1, 2, 0, 255, '\r', '\n'}, []byte("\xff\xfe{\"x\":\x00}"), {}} {
		k := sessions.NewKey()
		noErr(t, "Create", ev.e.Create(ev.ctx, k, data, future(ev)))
		got, err := ev.e.Load(ev.ctx, k)
		noErr(t, "Load", err)
		wantData(t, "Load", got, data)
	}
}

func storeLargeValue(t tb, ev *env) {
	k := sessions.NewKey()
	data := bytes.Repeat([]byte("0123456789abcdef"), ev.caps.maxValue()/16)
	noErr(t, "Create", ev.e.Create(ev.ctx, k, data, future(ev)))
	got, err := ev.e.Load(ev.ctx, k)
	noErr(t, "Load", err)
	wantData(t, "Load", got, data)
}

func storeLoadReturnsCopy(t tb, ev *env) {
	k := sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("original"), future(ev)))
	got, _ := ev.e.Load(ev.ctx, k)
	for i := range got {
		got[i] = 'x'
	}
	again, err := ev.e.Load(ev.ctx, k)
	noErr(t, "Load", err)
	wantData(t, "Load", again, []byte("original"))
}

func storeCreateExisting(t tb, ev *env) {
	k := sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("first"), future(ev)))
	defer ev.e.Delete(ev.ctx, k)
	wantErr(t, "second Create", ev.e.Create(ev.ctx, k, []byte("second"), future(ev)), sessions.ErrExists)
	got, err := ev.e.Load(ev.ctx, k)
	noErr(t, "Load", err)
	wantData(t, "Load after failed Create", got, []byte("first"))
}

func storeUpdateReplaces(t tb, ev *env) {
	k := sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("v1"), future(ev)))
	defer ev.e.Delete(ev.ctx, k)
	noErr(t, "Update", ev.e.Update(ev.ctx, k, []byte("v2"), future(ev)))
	got, err := ev.e.Load(ev.ctx, k)
	noErr(t, "Load", err)
	wantData(t, "Load after Update", got, []byte("v2"))
}

func storeUpdateMissing(t tb, ev *env) {
	k := sessions.NewKey()
	wantErr(t, "Update", ev.e.Update(ev.ctx, k, []byte("x"), future(ev)), sessions.ErrNotFound)
	_, err := ev.e.Load(ev.ctx, k)
	wantErr(t, "Load after failed Update", err, sessions.ErrNotFound)
}

func storeUpdateAfterDeleteNoResurrection(t tb, ev *env) {
	k := sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("v1"), future(ev)))
	noErr(t, "Delete", ev.e.Delete(ev.ctx, k))
	wantErr(t, "Update after Delete", ev.e.Update(ev.ctx, k, []byte("v2"), future(ev)), sessions.ErrNotFound)
	_, err := ev.e.Load(ev.ctx, k)
	wantErr(t, "Load", err, sessions.ErrNotFound)
}

func storeDelete(t tb, ev *env) {
	k := sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("x"), future(ev)))
	noErr(t, "Delete", ev.e.Delete(ev.ctx, k))
	if _, err := ev.e.Load(ev.ctx, k); !errors.Is(err, sessions.ErrNotFound) {
		wantErr(t, "Load after Delete", err, sessions.ErrNotFound)
	}
	noErr(t, "Delete again", ev.e.Delete(ev.ctx, k))
	noErr(t, "Delete of a never-stored key", ev.e.Delete(ev.ctx, sessions.NewKey()))
}

func storeKeyIsolation(t tb, ev *env) {
	base := sessions.NewKey()
	keys := []string{base, base[:31] + flip(base[31]), base[:8], base[:9], base[:20], base + "abcdefgh", flip(base[0]) + base[1:]}
	for i, k := range keys {
		noErr(t, "Create "+k, ev.e.Create(ev.ctx, k, []byte(fmt.Sprint("value-", i)), future(ev)))
	}
	for i, k := range keys {
		got, err := ev.e.Load(ev.ctx, k)
		noErr(t, "Load "+k, err)
		wantData(t, "Load "+k, got, []byte(fmt.Sprint("value-", i)))
	}
	for _, k := range keys {
		ev.e.Delete(ev.ctx, k)
	}
}

func storeKeyLengths(t tb, ev *env) {
	for _, n := range []int{8, 32, 40} {
		k := (sessions.NewKey() + sessions.NewKey())[:n]
		noErr(t, fmt.Sprintf("Create with a %d-character key", n), ev.e.Create(ev.ctx, k, []byte("x"), future(ev)))
		if _, err := ev.e.Load(ev.ctx, k); err != nil {
			noErr(t, "Load", err)
		}
	}
}

func storeSharedAcrossInstances(t tb, ev *env) {
	if ev.pair == nil {
		t.Skipf("the harness has no NewPair")
	}
	a, b := ev.pair()
	k := sessions.NewKey()
	noErr(t, "Create through A", a.Create(ev.ctx, k, []byte("from a"), future(ev)))
	got, err := b.Load(ev.ctx, k)
	noErr(t, "Load through B", err)
	wantData(t, "Load through B", got, []byte("from a"))
	wantErr(t, "Create through B", b.Create(ev.ctx, k, []byte("b"), future(ev)), sessions.ErrExists)
	noErr(t, "Update through B", b.Update(ev.ctx, k, []byte("from b"), future(ev)))
	got, _ = a.Load(ev.ctx, k)
	wantData(t, "Load through A", got, []byte("from b"))
	noErr(t, "Delete through A", a.Delete(ev.ctx, k))
	wantErr(t, "Update through B after Delete through A", b.Update(ev.ctx, k, []byte("x"), future(ev)), sessions.ErrNotFound)
}
