package conformance

import (
	"bytes"
	"strings"

	"github.com/sessionkit/sessions"
)

// clientSideCases are the cases of a client-side engine (Capabilities.ClientSide).
func clientSideCases() []storeCase {
	return []storeCase{
		{name: "SealOpen", quick: true, reason: "ClientSide: Seal turns data into a cookie value and Open gives the same data back", run: storeSealOpen},
		{name: "SealTooLarge", quick: true, reason: "ClientSide: data too large for a cookie is refused with ErrTooLarge, never sent for the browser to drop", run: storeSealTooLarge},
		{name: "NoServerState", reason: "ClientSide: nothing is kept on the server: the engine is no sessions.Engine, a Manager over it stores nothing (Exists false, Keys and DeleteUser unsupported, ClearExpired 0) and Flush is harmless", run: storeNoServerState},
	}
}

// client returns the case's client-side engine.
func client(t tb, ev *env) sessions.ClientSide {
	t.Helper()
	if ev.c == nil {
		t.Fatalf("Capabilities.ClientSide is set but the engine does not implement sessions.ClientSide")
	}
	return ev.c
}

func storeSealOpen(t tb, ev *env) {
	c := client(t, ev)
	data := []byte("eyJhIjoiYiJ9:1r31eq:signature")
	v, err := c.Seal(ev.ctx, data)
	noErr(t, "Seal", err)
	if strings.ContainsAny(v, " ;,\"\\\r\n") {
		t.Fatalf("Seal produced a value that is not a valid cookie value: %q", v)
	}
	got, err := c.Open(ev.ctx, v)
	noErr(t, "Open", err)
	wantData(t, "Open", got, data)
}

func storeSealTooLarge(t tb, ev *env) {
	_, err := client(t, ev).Seal(ev.ctx, bytes.Repeat([]byte("a"), 5000))
	wantErr(t, "Seal of 5000 bytes", err, sessions.ErrTooLarge)
}

// keepOpen hides Close from a Manager, so that a case can use a Manager
// over an engine it does not own (Check's live engine).
type keepOpen struct{ sessions.ClientSide }

func (keepOpen) Close() error { return nil }

func storeNoServerState(t tb, ev *env) {
	c := client(t, ev)
	if _, ok := c.(sessions.Engine); ok {
		t.Fatalf("%T is both a sessions.ClientSide and a sessions.Engine: the Manager keeps its sessions in the cookie and never calls its storage methods", c)
	}
	s := sessions.DefaultSettings()
	s.SecretKey = SecretKey
	m, err := sessions.New(keepOpen{c}, s)
	noErr(t, "sessions.New", err)
	if ok, err := m.Exists(ev.ctx, sessions.NewKey()); ok || err != nil {
		t.Fatalf("Exists = %v, %v; want false, nil", ok, err)
	}
	wantErr(t, "Keys", m.Keys(ev.ctx, func(string) bool { return true }), sessions.ErrUnsupported)
	_, err = m.DeleteUser(ev.ctx, "alice")
	wantErr(t, "DeleteUser", err, sessions.ErrUnsupported)
	if n, err := m.ClearExpired(ev.ctx); n != 0 || err != nil {
		t.Fatalf("ClearExpired = %d, %v; want 0, nil", n, err)
	}
	sess := m.NewSession(ev.ctx)
	sess.Set("a", "1")
	noErr(t, "Save", sess.Save(ev.ctx))
	noErr(t, "Flush", sess.Flush(ev.ctx))
}
