package all_test

import (
	"fmt"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
)

// One blank import registers every built-in engine: sessions.Engines
// lists them, as `sessions engines` does (with their aliases and URL
// forms).
func Example() {
	for _, e := range sessions.Engines() {
		fmt.Print(e.Scheme, " ")
	}
	fmt.Println()
	// Output: bolt cached-db file memcached memory migrate mysql postgres redis signed-cookies sqlite
}
