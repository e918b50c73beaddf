package memcachestore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memcachestore"
)

// Sessions in memcached, shared with a Django site whose settings say
//
//	SESSION_ENGINE = "django.contrib.sessions.backends.cache"
//	CACHES = {"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
//	                      "LOCATION": ["10.0.0.1:11211", "10.0.0.2:11211"]}}
func Example() {
	s := sessions.DefaultSettings()
	s.SecretKey = os.Getenv("SECRET_KEY")
	m, err := sessions.Open(context.Background(), "memcached://10.0.0.1:11211,10.0.0.2:11211?timeout=250ms", s)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	http.Handle("/", m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := sessions.FromContext(r.Context())
		n, _ := sessions.Get[int](sess, "visits")
		sess.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d\n", n+1)
	})))
}

// New wraps a client you configured yourself. To share sessions with
// Django over several servers, place keys as pymemcache does.
func ExampleNew() {
	sel, err := memcachestore.NewPymemcacheSelector("10.0.0.1:11211", "10.0.0.2:11211")
	if err != nil {
		log.Fatal(err)
	}
	client := memcache.NewFromSelector(sel)
	client.MaxIdleConns = 64
	store, err := memcachestore.New(client, &memcachestore.Options{KeyPrefix: "myapp"})
	if err != nil {
		log.Fatal(err)
	}
	s := sessions.DefaultSettings()
	s.SecretKey = os.Getenv("SECRET_KEY")
	m, err := sessions.New(store, s)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
}
