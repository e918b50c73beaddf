package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/boltstore"
	"go.etcd.io/bbolt"
)

// Open a Manager over a bbolt file, with expired sessions purged in the
// background every ten minutes.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sessions.db")

	settings := sessions.DefaultSettings()
	settings.SecretKey = "change me"
	ctx := context.Background()
	m, err := sessions.Open(ctx, "bolt://"+path+"?purge_interval=10m", settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	s := m.NewSession(ctx)
	s.Set("user", "alice")
	if err := s.Save(ctx); err != nil {
		fmt.Println(err)
		return
	}
	again := m.Load(ctx, s.Key())
	fmt.Println("user:", again.Get("user"))

	// A second open of the file waits for the lock, then gives up.
	_, err = sessions.OpenEngine(ctx, "bolt://"+path+"?timeout=100ms", settings)
	fmt.Println("second open fails:", err != nil)
	// Output:
	// user: alice
	// second open fails: true
}

// Keep sessions in a bbolt database the application already has open.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	db, err := bbolt.Open(filepath.Join(dir, "app.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close() // the store does not close a database it did not open

	store, err := boltstore.New(db, &boltstore.Options{Bucket: "web-sessions"})
	if err != nil {
		fmt.Println(err)
		return
	}
	settings := sessions.DefaultSettings()
	settings.SecretKey = "change me"
	m, _ := sessions.New(store, settings)
	defer m.Close()

	ctx := context.Background()
	s := m.NewSession(ctx)
	s.Set("n", 1)
	s.Save(ctx)
	n, _ := m.ClearExpired(ctx)
	fmt.Println("live:", m.Load(ctx, s.Key()).Get("n"), "expired removed:", n)
	// Output:
	// live: 1 expired removed: 0
}
