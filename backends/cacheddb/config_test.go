package cacheddb_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testutil"
)

// Configuration mistakes are errors, never silently ignored, and the
// errors quote no password (of the cached-db URL, of the URLs nested in
// it, of the settings) and no endless string.
func TestConfigMistakes(t *testing.T) {
	q := url.QueryEscape
	db := q("sqlite://" + filepath.Join(t.TempDir(), "s.db") + "?create_table=true")
	long := strings.Repeat("d", 5000)
	rc := q("redis://:rdS3cr3t@127.0.0.1:1/0")
	for cfg, want := range map[string]string{
		"cached-db://host?cache=memory%3A&db=" + db:                                                                    "takes no host",
		"cached-db:x?cache=memory%3A&db=" + db:                                                                         "takes no path",
		"cached-db://u:pwS3cr3t@?cache=memory%3A&db=" + db:                                                             "takes no user or password",
		"cached-db:?cache=memory%3A&cache=memory%3A&db=" + db:                                                          "cache is given 2 times",
		"cached-db:?cache=memory%3A&db=" + db + "&db=" + db:                                                            "db is given 2 times",
		"cached-db:?cache=memory%3A&db=" + db + "#S3cr3t":                                                              "'#'",
		"cached-db:?cache=memory%3A&db=" + db + "&sync_install=maybe":                                                  "sync_install",
		"cached-db:?cache=" + q("memory:?purge_interval=1s&purge_interval=2s") + "&db=" + db:                           "purge_interval is given 2 times",
		"cached-db:?cache=" + q("redis://:12#S3cr3t@127.0.0.1:1/0") + "&db=" + db:                                      "'#'",
		"cached-db:?cache=" + q("redis://127.0.0.1:1/0?pool_size=1;x=S3cr3t") + "&db=" + db:                            "';'",
		"cached-db:?cache=" + q("redis://127.0.0.1:1/0?pool_size=%zzS3cr3t") + "&db=" + db:                             "invalid %-escape",
		"cached-db:?cache=" + q("redis://127.0.0.1:1/0?pool_size=1&pool_size=2") + "&db=" + db:                         "pool_size is given 2 times",
		"cached-db:?cache=" + q("redis://:p%zzS3cr3t@127.0.0.1:1/0") + "&db=" + db:                                     "does not parse",
		"cached-db:?cache=" + q(q("redis://:pwS3cr3t@127.0.0.1:1/0")) + "&db=" + db:                                    "neither a Django engine name nor a URL",
		"cached-db:?cache=" + rc + "&db=" + q("root:dsnS3cr3t@tcp(127.0.0.1:1)/db"):                                    "unknown session engine",
		"cached-db:?cache=" + rc + "&db=" + q("host=127.0.0.1 password=kvS3cr3t dbname=x"):                             "neither a Django engine name nor a URL",
		"cached-db:?cache=" + rc + "&db=" + q("postgres://u:pgS3cr3t@127.0.0.1:1/x?sslmode=disable&connect_timeout=1"): "cannot connect",
		"cached-db:?cache=" + rc + "&db=" + q("mysql://u:myS3cr3t@127.0.0.1:1/x?timeout=1s"):                           "",
		"cached-db:?cache=" + q("memcached://127.0.0.1:1?password=mcS3cr3t") + "&db=" + db:                             "",
		"cached-db:?cache=" + q("redis://127.0.0.1:1/0?"+long+"=1") + "&db=" + db:                                      "",
		"cached-db:?cache=" + rc + "&db=" + q("sqlite:///"+long+"/x.db"):                                               "",
	} {
		e, err := sessions.OpenEngine(context.Background(), cfg, testutil.Settings())
		if err == nil {
			e.Close()
			t.Errorf("%.70s: opened", cfg)
			continue
		}
		if want != "" && !strings.Contains(err.Error(), want) {
			t.Errorf("%.70s: %v, want an error containing %q", cfg, err, want)
		}
		if want != "" && want != "cannot connect" && !errors.Is(err, sessions.ErrBadConfig) {
			t.Errorf("%.70s: %v is not ErrBadConfig", cfg, err)
		}
		if strings.Contains(err.Error(), "S3cr3t") || len(err.Error()) > 1200 {
			t.Errorf("%.70s: error quotes too much (%d bytes): %.1300s", cfg, len(err.Error()), err)
		}
	}
	// Django's cached_db takes both URLs from the settings.
	s := testutil.Settings()
	s.CacheURL = "redis://:cacheS3cr3t@127.0.0.1:1/0?bogus=1"
	s.DatabaseURL = "postgres://u:dbS3cr3t@127.0.0.1:1/x?sslmode=disable"
	_, err := sessions.OpenEngine(context.Background(), "cached_db", s)
	if err == nil || strings.Contains(err.Error(), "S3cr3t") {
		t.Errorf("cached_db from the settings: %v", err)
	}
}
