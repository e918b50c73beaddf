package memstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

// Configuration mistakes are errors, never silently ignored, and the
// errors quote no password and no endless string.
func TestConfigMistakes(t *testing.T) {
	s := sessions.DefaultSettings()
	s.SecretKey = "k"
	for cfg, want := range map[string]string{
		"memory:?purge_interval=1s&purge_interval=abc": "purge_interval is given 2 times",
		"memory://host":                               `takes no host (got "host")`,
		"memory://host:1/x":                           "takes no host",
		"memory:somewhere":                            "takes no path",
		"memory:///x":                                 "takes no path",
		"memory://app:pwS3cr3t@":                      "takes no user or password",
		"memory:?purge_interval=1s#S3cr3t":            "'#'",
		"memory:?purge_interval=1s;password=S3cr3t":   "';'",
		"memory:?password=S3cr3t":                     "unknown parameter password",
		"memory:?" + strings.Repeat("x", 5000) + "=1": "unknown parameter",
	} {
		m, err := sessions.Open(context.Background(), cfg, s)
		if err == nil {
			m.Close()
		}
		testutil.Refused(t, cfg, err, want, 500)
	}
}
