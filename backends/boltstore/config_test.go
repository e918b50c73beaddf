package boltstore

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
	path := newPath(t)
	s := sessions.DefaultSettings()
	s.SecretKey = "k"
	long := strings.Repeat("d", 5000)
	for cfg, want := range map[string]string{
		"bolt://" + path + "?timeout=1s&timeout=abc":   "timeout is given 2 times",
		"bolt://" + path + "?bucket=a&bucket=b":        "bucket is given 2 times",
		"bolt://otherhost" + path:                      `host "otherhost"`,
		"bolt://app:pwS3cr3t@localhost" + path:         "no user or password",
		"bolt://" + path + "#S3cr3t":                   "'#'",
		"bolt://u:12/S3cr3t@localhost" + path:          "'@' after the host",
		"bolt://" + path + "?nosync=1;password=S3cr3t": "';'",
		"bolt://" + path + "?password=S3cr3t":          "unknown parameter password",
		"bolt://" + path + "x/" + long + "/x.db":       "",
		"bolt:" + long + "/x.db":                       "",
		"bolt://" + long + "/x.db":                     "host",
	} {
		e, err := sessions.OpenEngine(context.Background(), cfg, s)
		if err == nil {
			e.Close()
		}
		testutil.Refused(t, cfg, err, want, 800)
	}
}
