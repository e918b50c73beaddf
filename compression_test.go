package sessions_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

// Server-side stores get uncompressed data unless CompressAbove asks
// otherwise (Django reads both forms).
func TestServerSideCompression(t *testing.T) {
	ctx := context.Background()
	cart := strings.Repeat("apple,pear,", 100)
	for _, above := range []int{0, 200} {
		store := memstore.New(nil)
		st := testutil.Settings()
		st.CompressAbove = above
		m, err := sessions.New(store, st)
		if err != nil {
			t.Fatal(err)
		}
		s := m.NewSession(ctx)
		s.Set("cart", cart)
		if err := s.Save(ctx); err != nil {
			t.Fatal(err)
		}
		raw, _ := store.Load(ctx, s.Key())
		if got, want := strings.HasPrefix(string(raw), "."), above > 0; got != want {
			t.Errorf("CompressAbove %d: stored compressed = %v, want %v", above, got, want)
		}
		if v := m.Load(ctx, s.Key()).Get("cart"); v != cart {
			t.Errorf("CompressAbove %d: read back %.20q", above, v)
		}
	}
}

// A signed cookie is compressed when it would not fit otherwise.
func TestCookieCompressesToFit(t *testing.T) {
	ctx := context.Background()
	m, err := sessions.New(cookiestore.New(nil), testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession(ctx)
	big := strings.Repeat("apple,pear,", 600) // 6.6 KB: fits only compressed
	s.Set("cart", big)
	if err := s.Save(ctx); err != nil {
		t.Fatalf("a compressible 6.6 KB session did not fit: %v", err)
	}
	if !strings.HasPrefix(s.Key(), ".") || len(s.Key()) > sessions.MaxCookieSize {
		t.Errorf("cookie of %d bytes, compressed %v", len(s.Key()), strings.HasPrefix(s.Key(), "."))
	}
	if v := m.Load(ctx, s.Key()).Get("cart"); v != big {
		t.Error("the compressed cookie did not read back")
	}
	small := m.NewSession(ctx)
	small.Set("theme", "dark")
	small.Save(ctx)
	if strings.HasPrefix(small.Key(), ".") {
		t.Error("a tiny cookie was compressed")
	}
}

// A signed cookie of up to a kilobyte of data is sent as it is, however
// well it would compress (a deflate per save and an inflate per load cost
// more than the few hundred bytes it saves on the wire); above that it is
// compressed when that saves CookieCompressSaving.
func TestCookieCompressesAboveAKilobyte(t *testing.T) {
	ctx := context.Background()
	m, err := sessions.New(cookiestore.New(nil), testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		size       int
		compressed bool
	}{{300, false}, {900, false}, {2000, true}} {
		s := m.NewSession(ctx)
		v := strings.Repeat("apple,pear,", c.size/11)
		s.Set("cart", v)
		if err := s.Save(ctx); err != nil {
			t.Fatal(err)
		}
		if got := strings.HasPrefix(s.Key(), "."); got != c.compressed {
			t.Errorf("%d bytes of repetitive data: compressed %v, want %v", c.size, got, c.compressed)
		}
		if got := m.Load(ctx, s.Key()).Get("cart"); got != v {
			t.Errorf("%d bytes: did not read back", c.size)
		}
	}
}
