package cookiestore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testutil"
)

// Configuration mistakes are errors, never silently ignored, and the
// errors quote no password and no endless string.
func TestConfigMistakes(t *testing.T) {
	for cfg, want := range map[string]string{
		"signed-cookies://host/x":                       `takes no host (got "host")`,
		"signed-cookies:x":                              "takes no path",
		"signed-cookies:/x":                             "takes no path",
		"signed-cookies://app:pwS3cr3t@":                "takes no user or password",
		"signed-cookies:#S3cr3t":                        "'#'",
		"signed-cookies:?secret=S3cr3t":                 "unknown parameter secret",
		"signed-cookies:?salt=a&salt=b":                 "unknown parameter salt",
		"signed-cookies:?a=1;b=2":                       "';'",
		"signed-cookies://" + strings.Repeat("h", 5000): "takes no host",
	} {
		m, err := sessions.Open(context.Background(), cfg, testutil.Settings())
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
