package sessions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/internal/testutil"
)

// TestRequestAllocations pins issue 17's allocation budget: a read-write
// request on the memory engine, with a logged-in Django session and a
// cart (about 260 bytes of JSON), allocates at most 50 times beyond the
// same request through a handler without sessions; a read-only one at
// most 30.
func TestRequestAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts: not under -short or the race detector (which allocates on its own)")
	}
	m, err := sessions.New(memstore.New(nil), testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	s := m.NewSession(ctx)
	s.Update(map[string]any{
		"_auth_user_id":      "1042",
		"_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
		"_auth_user_hash":    "9f4b2c1e7a3d5f60b8e2d4c6a1f3e5d7c9b0a2e4f6d8c1b3a5e7f9d0c2b4a6e8",
		"cart":               []any{map[string]any{"sku": "BK-1042", "qty": 2}, map[string]any{"sku": "MG-0007", "qty": 1}},
		"theme":              "dark",
		"n":                  0,
	})
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	cookie := &http.Cookie{Name: m.Settings().CookieName, Value: s.Key()}
	serve := func(h http.Handler) func() {
		return func() {
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(cookie)
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
	bare := testing.AllocsPerRun(200, serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	read := testing.AllocsPerRun(200, serve(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sessions.FromContext(r.Context()).Get("_auth_user_id") == nil {
			t.Error("session not loaded")
		}
	}))))
	write := testing.AllocsPerRun(200, serve(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		n, _ := sessions.Get[int](s, "n")
		s.Set("n", n+1)
	}))))
	t.Logf("allocations beyond the bare request (%.0f): read-only %.0f, read-write %.0f", bare, read-bare, write-bare)
	if read-bare > 30 {
		t.Errorf("a read-only request allocates %.0f times beyond the bare request, want at most 30", read-bare)
	}
	if write-bare > 50 {
		t.Errorf("a read-write request allocates %.0f times beyond the bare request, want at most 50", write-bare)
	}
}

// TestCodecAllocations pins what loading and saving the same session
// costs in the two formats Django's engines store: a read-write request
// decodes it, reads one value, sets one and encodes it again. A value's
// stored form escaping to the heap for every key (6 allocations on this
// session, fixed in the pickle encoder) or a map per decode shows here
// before it shows in a whole request.
func TestCodecAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts: not under -short or the race detector (which allocates on its own)")
	}
	d := codec.NewDict(map[string]any{
		"_auth_user_id":      "1042",
		"_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
		"_auth_user_hash":    "9f4b2c1e7a3d5f60b8e2d4c6a1f3e5d7c9b0a2e4f6d8c1b3a5e7f9d0c2b4a6e8",
		"cart":               []any{map[string]any{"sku": "BK-1042", "qty": int64(2)}, map[string]any{"sku": "MG-0007", "qty": int64(1)}},
		"theme":              "dark",
		"n":                  int64(0),
	})
	for _, c := range []struct {
		name        string
		codec       codec.Codec
		read, write float64
	}{
		{"signed JSON", codec.Signed{Key: "k"}, 7, 11},
		{"pickle", pickle.Codec{}, 20, 24},
	} {
		stored, err := c.codec.Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		read := testing.AllocsPerRun(200, func() {
			d, err := c.codec.Decode(stored)
			if err != nil {
				t.Fatal(err)
			}
			d.Get("_auth_user_id")
		})
		write := testing.AllocsPerRun(200, func() {
			d, err := c.codec.Decode(stored)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := d.Get("n")
			d.Set("n", n.(int64)+1)
			if _, err := c.codec.Encode(d); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: read %.0f allocations, read and write %.0f", c.name, read, write)
		if read > c.read || write > c.write {
			t.Errorf("%s: read %.0f allocations (want at most %.0f), read and write %.0f (want at most %.0f)", c.name, read, c.read, write, c.write)
		}
	}
}
