package memstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/memstore"
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
			t.Errorf("%.40s: opened", cfg)
			continue
		}
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40s: %v, want ErrBadConfig containing %q", cfg, err, want)
		}
		if strings.Contains(err.Error(), "S3cr3t") || len(err.Error()) > 500 {
			t.Errorf("%.40s: error quotes too much: %.600s", cfg, err)
		}
	}
}
