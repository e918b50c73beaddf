package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/redisstore"
)

// Sessions in Redis, shared with a Django site whose settings say
//
//	SESSION_ENGINE = "django.contrib.sessions.backends.cache"
//	CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
//	                      "LOCATION": "redis://127.0.0.1:6379/0"}}
func Example() {
	s := sessions.DefaultSettings()
	s.SecretKey = os.Getenv("SECRET_KEY")
	m, err := sessions.Open(context.Background(), "redis://127.0.0.1:6379/0", s)
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

// Django's "cache" engine name takes its location, key prefix and version
// from the settings, as Django's CACHES does.
func Example_djangoSettings() {
	s := sessions.DefaultSettings()
	s.SecretKey = os.Getenv("SECRET_KEY")
	s.CacheURL = "redis+sentinel://mymaster@10.0.0.1:26379,10.0.0.2:26379/0?read_timeout=500ms"
	s.CacheKeyPrefix = "myapp" // KEY_PREFIX
	s.CacheVersion = 2         // VERSION
	m, err := sessions.Open(context.Background(), "django.contrib.sessions.backends.cache", s)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	io.WriteString(os.Stdout, m.Backend().(sessions.Engine).(sessions.Describer).Describe())
}

// New wraps a client you configured yourself, here a Redis Cluster; the
// Store does not close it.
func ExampleNew() {
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7001"}})
	defer client.Close()
	store, err := redisstore.New(client, &redisstore.Options{KeyPrefix: "myapp"})
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
	_ = m
}

// With Sentinel and replicas, wait_replicas makes every write wait until
// a replica has it, so that a failover cannot bring back a session a user
// logged out of. A logout that no replica acknowledged in time is an
// error, not a success.
func Example_waitReplicas() {
	s := sessions.DefaultSettings()
	s.SecretKey = os.Getenv("SECRET_KEY")
	m, err := sessions.Open(context.Background(), "redis+sentinel://mymaster@10.0.0.1:26379,10.0.0.2:26379/0?wait_replicas=1&wait_timeout=200ms", s)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	http.Handle("/logout", m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.FromContext(r.Context()).Flush(r.Context()); errors.Is(err, redisstore.ErrNotReplicated) {
			http.Error(w, "logout not confirmed, try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})))
}
