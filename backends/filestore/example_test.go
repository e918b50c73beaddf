package filestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/filestore"
)

// Open a Manager over a session directory, as Django's
// SESSION_ENGINE = "django.contrib.sessions.backends.file" with
// SESSION_FILE_PATH does.
func Example() {
	parent, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(parent)
	dir := filepath.Join(parent, "sessions")
	os.Mkdir(dir, 0o700) // private: the engine refuses a shared directory

	settings := sessions.DefaultSettings()
	settings.SecretKey = "change me"
	settings.FilePath = dir
	ctx := context.Background()
	m, err := sessions.Open(ctx, "file", settings) // or "file://" + dir
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	s := m.NewSession(ctx)
	s.Set("cart", []int{1, 2, 3})
	if err := s.Save(ctx); err != nil {
		fmt.Println(err)
		return
	}
	names, _ := os.ReadDir(dir)
	fmt.Println(len(names), "file:", names[0].Name() == "sessionid"+s.Key())

	again := m.Load(ctx, s.Key())
	fmt.Println("cart:", again.Get("cart"))
	// Output:
	// 1 file: true
	// cart: [1 2 3]
}
