package filestore

import (
	"context"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testutil"
)

// Configuration mistakes are errors, never silently ignored, and the
// errors quote no password and no endless string.
func TestConfigMistakes(t *testing.T) {
	dir := newDir(t)
	s := sessions.DefaultSettings()
	s.SecretKey = testSecret
	long := strings.Repeat("d", 5000)
	for cfg, want := range map[string]string{
		"file://" + dir + "?sync=true&sync=false":                  "sync is given 2 times",
		"file://" + dir + "?allow_shared_dir=0&allow_shared_dir=1": "allow_shared_dir is given 2 times",
		"file://otherhost" + dir:                                   `host "otherhost"`,
		"file://app:pwS3cr3t@localhost" + dir:                      "no user or password",
		"file://" + dir + "#S3cr3t":                                "'#'",
		"file://u:12/S3cr3t@localhost" + dir:                       "'@' after the host",
		"file://" + dir + "?sync=1;password=S3cr3t":                "';'",
		"file://" + dir + "?password=S3cr3t":                       "unknown parameter password",
		"file://" + dir + "/" + long:                               "",
		"file:" + long + "/x":                                      "",
		"file://" + long + "/x":                                    "host",
	} {
		e, err := sessions.OpenEngine(context.Background(), cfg, s)
		if err == nil {
			e.Close()
		}
		testutil.Refused(t, cfg, err, want, 800)
	}
}
