package benchmarks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/sessionkit/sessions"
	ourmem "github.com/sessionkit/sessions/backends/memstore"
)

func BenchmarkMemory(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		m, err := sessions.New(ourmem.New(nil), settings())
		if err != nil {
			b.Fatal(err)
		}
		oursPair(b, m, baseData(0))
	})
	b.Run("scs", func(b *testing.B) {
		sm := scs.New()
		sm.Store = memstore.NewWithCleanupInterval(time.Hour)
		token := scsSeed(b, sm)
		b.Run("read", func(b *testing.B) {
			h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if sm.GetString(r.Context(), "user") == "" {
					w.WriteHeader(500)
				}
			}))
			b.ReportAllocs()
			for b.Loop() {
				request(b, h, sm.Cookie.Name, token)
			}
		})
		b.Run("write", func(b *testing.B) {
			h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sm.Put(r.Context(), "n", sm.GetInt(r.Context(), "n")+1)
			}))
			b.ReportAllocs()
			for b.Loop() {
				request(b, h, sm.Cookie.Name, token)
			}
		})
	})
}

// scsSeed creates an scs session with the same data and returns its token.
func scsSeed(b *testing.B, sm *scs.SessionManager) string {
	var token string
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range baseData(0) {
			sm.Put(r.Context(), k, v)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == sm.Cookie.Name {
			token = c.Value
		}
	}
	if token == "" {
		b.Fatal("scs set no cookie")
	}
	_ = context.Background()
	return token
}
