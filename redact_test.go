package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testutil"
)

// marker is in every password of these tests: no output may contain it,
// in any encoding (it is plain ASCII letters and digits, so every
// percent-encoding of a password keeps it).
const marker = "S3cr3t"

// leakForms are the ways a password can show up in a text: raw,
// percent-encoded for a query or a path, and encoded twice.
func leakForms(pw string) []string {
	return []string{pw, url.QueryEscape(pw), url.PathEscape(pw), url.QueryEscape(url.QueryEscape(pw)), marker}
}

func wantNoLeak(t *testing.T, what, text string, pws ...string) {
	t.Helper()
	for _, pw := range pws {
		for _, f := range leakForms(pw) {
			if strings.Contains(text, f) {
				t.Errorf("%s leaks %q: %s", what, f, text)
				return
			}
		}
	}
}

// redactCases are config strings an attacker would love to read in a
// log, an error or a page, with (part of) the password each hides.
var redactCases = []struct{ name, config, pw string }{
	{"userinfo", "postgres://app:pgS3cr3t@db:5432/app", "pgS3cr3t"},
	{"password only", "redis://:rdS3cr3t@127.0.0.1:6379/0", "rdS3cr3t"},
	{"encoded userinfo", "postgres://app:p%40S3cr3t%2F%3F@db/app", "p@S3cr3t/?"},
	{"unencoded @ in password", "redis://:p@S3cr3t@h:6379/0", "p@S3cr3t"},
	{"colon in password", "redis://u:a:S3cr3t@h/0", "a:S3cr3t"},
	{"password=", "mysql://u@h/db?password=myS3cr3t", "myS3cr3t"},
	{"Password= upper case", "postgres://u@h/db?Password=myS3cr3t", "myS3cr3t"},
	{"pass=", "redis://h/0?pass=S3cr3tpass", "S3cr3tpass"},
	{"pwd=", "redis://h/0?pwd=S3cr3tpwd", "S3cr3tpwd"},
	{"secret=", "memory:?secret=S3cr3tsec", "S3cr3tsec"},
	{"token=", "memcached://h1:11211,h2:11211?token=abcS3cr3t", "abcS3cr3t"},
	{"sslpassword=", "postgres://u@h/db?sslpassword=sslS3cr3t&sslmode=require", "sslS3cr3t"},
	{"sentinel_password=", "redis+sentinel://m@h:26379/0?sentinel_password=snS3cr3t", "snS3cr3t"},
	{"api_key=", "x://h?api_key=S3cr3tkey", "S3cr3tkey"},
	{"& in password=", "postgres://h/db?password=ab&cdS3cr3t&sslmode=disable", "cdS3cr3t"},
	{"% in password=", "postgres://h/db?password=50%S3cr3t", "50%S3cr3t"},
	{"cached-db redis", "cached-db:?cache=redis%3A%2F%2F%3ApwS3cr3t%40h%2F0&db=sqlite%3Adb.sqlite3", "pwS3cr3t"},
	{"cached-db postgres", "cached-db:?cache=redis%3A%2F%2Fh%2F0&db=" + url.QueryEscape("postgres://app:pgS3cr3t@db/app?sslmode=disable"), "pgS3cr3t"},
	{"cached-db mysql", "cached-db:?cache=redis%3A%2F%2Fh%2F0&db=" + url.QueryEscape("mysql://app:myS3cr3t@db/app"), "myS3cr3t"},
	{"cached-db nested password=", "cached-db:?db=" + url.QueryEscape("mysql://app@db/app?password=myS3cr3t"), "myS3cr3t"},
	{"cached-db unencoded", "cached-db:?cache=redis://:pwS3cr3t@h/0&db=postgres://u:pgS3cr3t@h/db", "pwS3cr3t"},
	{"cached-db unencoded 2", "cached-db:?cache=redis://:pwS3cr3t@h/0&db=postgres://u:pgS3cr3t@h/db", "pgS3cr3t"},
	{"double-encoded", "cached-db:?cache=" + url.QueryEscape(url.QueryEscape("redis://:pwS3cr3t@h/0")), "pwS3cr3t"},
	{"double-encoded path escape", "cached-db:?db=" + url.PathEscape(url.QueryEscape("postgres://u:pgS3cr3t@h/db")), "pgS3cr3t"},
	{"nested three deep", "x:?a=" + url.QueryEscape("y:?b="+url.QueryEscape("redis://:deepS3cr3t@h")), "deepS3cr3t"},
	{"postgres key=value DSN", "host=db user=app password=kvS3cr3t dbname=app", "kvS3cr3t"},
	{"postgres key=value DSN quoted", "host=db password='kv S3cr3t \\' x' dbname=app", "kv S3cr3t \\' x"},
	{"key=value DSN nested", "cached-db:?db=" + url.QueryEscape("host=db password=kvS3cr3t dbname=app"), "kvS3cr3t"},
	{"semicolon DSN", "Server=db;User Id=app;Password=adoS3cr3t;Database=app", "adoS3cr3t"},
	{"mysql DSN", "app:dsnS3cr3t@tcp(127.0.0.1:3306)/app?parseTime=true", "dsnS3cr3t"},
	{"mysql DSN nested", "cached-db:?db=" + url.QueryEscape("app:dsnS3cr3t@tcp(db:3306)/app"), "dsnS3cr3t"},
	{"bad escape in userinfo", "postgres://u:p%zzS3cr3t@h/db", "p%zzS3cr3t"},
	{"bad escape nested", "cached-db:?db=" + url.QueryEscape("postgres://u:p%zzS3cr3t@h/db"), "p%zzS3cr3t"},
	{"slash in password", "redis://:12/abS3cr3t@h:6379/0", "12/abS3cr3t"},
	{"slash in password 2", "redis://u:a@b/cS3cr3t@h:6379/0", "a@b/cS3cr3t"},
	{"hash in password", "postgres://u:12#abS3cr3t@h/db", "12#abS3cr3t"},
	{"question mark in password", "postgres://u:12?x=abS3cr3t@h/db", "12?x=abS3cr3t"},
	{"question mark in password 2", "postgres://u:12?abS3cr3t@h/db", "12?abS3cr3t"},
	{"leading space", " postgres://u:pwS3cr3t@h/db", "pwS3cr3t"},
	{"space in scheme", "post gres://u:pwS3cr3t@h/db", "pwS3cr3t"},
	{"no scheme", "u:pwS3cr3t@h/db", "pwS3cr3t"},
	{"bad escape in query name", "cached-db:?%zz=1&cache=" + url.QueryEscape("redis://:pwS3cr3t@h"), "pwS3cr3t"},
	{"control character", "postgres://u:pw\x7fS3cr3t@h/db", "pw\x7fS3cr3t"},
	{"newline", "postgres://u:pwS3cr3t@h/db\n", "pwS3cr3t"},
}

func TestRedactHidesEveryPassword(t *testing.T) {
	for _, c := range redactCases {
		t.Run(c.name, func(t *testing.T) {
			got := sessions.Redact(c.config)
			wantNoLeak(t, fmt.Sprintf("Redact(%q)", c.config), got, c.pw)
			q := sessions.QuoteConfig(c.config)
			wantNoLeak(t, "QuoteConfig", q, c.pw)
		})
	}
}

// Redact keeps what is not secret, so that messages stay useful.
func TestRedactKeepsTheRest(t *testing.T) {
	same := []string{
		"memory:", "memory:?purge_interval=30s", "signed-cookies:", "db", "cached_db",
		"sqlite:///var/lib/app/sessions.sqlite3?create_table=true", "sqlite:db.sqlite3", "sqlite::memory:",
		"file:///var/lib/app/sessions", "file:odd%20dir/50%25", "bolt:///var/lib/x%23y.db",
		"postgres://app@db:5432/app?sslmode=disable", "postgres://user@/dbname?host=/var/run/postgresql",
		"redis://127.0.0.1:6379/0?key_prefix=shop&version=2", "memcached://h1:11211,h2:11211",
		"redis+sentinel://mymaster@h1:26379,h2:26379/0",
		"cached-db:?cache=redis%3A%2F%2F127.0.0.1%3A6379%2F0&db=postgres%3A%2F%2Fapp%40db%2Fapp",
	}
	for _, c := range same {
		if got := sessions.Redact(c); got != c {
			t.Errorf("Redact(%q) = %q, want it unchanged", c, got)
		}
	}
	for in, want := range map[string][]string{
		"postgres://app:pw@db:5432/app?sslmode=disable":                     {"postgres://app:xxxxx@db:5432/app", "sslmode=disable"},
		"cached-db:?cache=redis%3A%2F%2F%3Apw%40cachehost%2F0&db=sqlite%3A": {"cachehost", "db=sqlite%3A", "xxxxx"},
		"mysql://u@h/db?password=pw&charset=utf8mb4":                        {"mysql://u@h/db?", "password=xxxxx", "charset=utf8mb4"},
		"u:pw@tcp(127.0.0.1:3306)/app":                                      {"tcp(127.0.0.1:3306)/app", "xxxxx"},
		"host=db user=app password=pw dbname=app":                           {"host=db user=app password=xxxxx dbname=app"},
		"redis://:12/abc@h:6379/0":                                          {"redis:"},
	} {
		got := sessions.Redact(in)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("Redact(%q) = %q, want it to contain %q", in, got, w)
			}
		}
	}
}

func TestQuoteConfigCaps(t *testing.T) {
	long := "memory:?" + strings.Repeat("a", 10_000) + "=1"
	q := sessions.QuoteConfig(long)
	if len(q) > 230 || !strings.HasPrefix(q, `"memory:?aaa`) || !strings.Contains(q, "…") {
		t.Errorf("QuoteConfig of %d characters: %d characters: %s", len(long), len(q), q)
	}
	if q := sessions.QuoteConfig("memory:"); q != `"memory:"` {
		t.Errorf("short: %s", q)
	}
	if q := sessions.Quote(strings.Repeat("é", 1000)); len([]rune(q)) > 210 || !strings.Contains(q, "é… (2000 bytes)") {
		t.Errorf("Quote cuts runes: %s", q)
	}
}

// Every error of Open quoting a config string hides its password and
// quotes at most about 200 characters of it.
func TestOpenErrorsHidePasswords(t *testing.T) {
	ctx := context.Background()
	for _, c := range redactCases {
		t.Run(c.name, func(t *testing.T) {
			m, err := sessions.Open(ctx, c.config, testutil.Settings())
			if err == nil {
				m.Close()
				return
			}
			wantNoLeak(t, "Open error", err.Error(), c.pw)
		})
	}
	// Django's names take the URLs from the settings.
	s := testutil.Settings()
	s.DatabaseURL = "nosuch://app:dbS3cr3t@db/app"
	s.CacheURL = "nosuch://:cacheS3cr3t@cache/0"
	for _, alias := range []string{"db", "cache", "django.contrib.sessions.backends.cache"} {
		_, err := sessions.Open(ctx, alias, s)
		if err == nil {
			t.Fatalf("%s: no error", alias)
		}
		wantNoLeak(t, alias, err.Error(), "dbS3cr3t", "cacheS3cr3t")
	}
	s.DatabaseURL = "%zzdbS3cr3t"
	_, err := sessions.Open(ctx, "db", s)
	if !errors.Is(err, sessions.ErrBadConfig) {
		t.Fatalf("unparsable DatabaseURL: %v", err)
	}
	wantNoLeak(t, "unparsable DatabaseURL", err.Error(), "dbS3cr3t")

	long := "memory:?" + strings.Repeat("x", 5000) + "=1"
	_, err = sessions.Open(ctx, long, testutil.Settings())
	if err == nil || len(err.Error()) > 600 {
		t.Errorf("unknown long parameter: %d characters of error", len(err.Error()))
	}
	_, err = sessions.Open(ctx, "nosuch"+strings.Repeat("x", 5000)+":", testutil.Settings())
	if err == nil || strings.Contains(err.Error(), strings.Repeat("x", 250)) {
		t.Errorf("long scheme quoted in full")
	}
}

func init() {
	sessions.Register(sessions.EngineInfo{Scheme: "test-careless", Forms: []string{"test-careless://u:pw@h/x"}, Doc: "quotes its URL and settings in its error (for the tests)"},
		func(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
			pw, _ := u.User.Password()
			return nil, fmt.Errorf("%w: cannot open %s (password %s, escaped %s, settings %s %s)", sessions.ErrBadConfig,
				u.String(), pw, url.QueryEscape(pw), s.DatabaseURL, s.CacheURL)
		})
}

// An opener that quotes its config string in an error is caught: Open
// removes the passwords (and cuts long quotes) from whatever an engine
// returns, and errors.Is still sees the sentinel.
func TestOpenScrubsCarelessOpeners(t *testing.T) {
	s := testutil.Settings()
	s.DatabaseURL = "postgres://u:dbS3cr3t@h/db"
	s.CacheURL = "redis://:cacheS3cr3t@h/0"
	_, err := sessions.Open(context.Background(), "test-careless://u:a%2FS3cr3t%40@h/"+strings.Repeat("p", 3000), s)
	if !errors.Is(err, sessions.ErrBadConfig) {
		t.Fatalf("sentinel lost: %v", err)
	}
	wantNoLeak(t, "careless opener", err.Error(), "a/S3cr3t@", "dbS3cr3t", "cacheS3cr3t")
	if strings.Contains(err.Error(), strings.Repeat("p", 300)) {
		t.Errorf("long path quoted in full: %d characters", len(err.Error()))
	}
}

// A password whose '?' moved its start into the host: the host is not
// quoted by any error of Open.
func TestOpenHidesHostOfSplitPassword(t *testing.T) {
	for _, cfg := range []string{"memory://u:12?x=ab@h", "memory://:12?x=ab@h", "signed-cookies://u:98?x=ab@h"} {
		_, err := sessions.Open(context.Background(), cfg, testutil.Settings())
		if err == nil || strings.Contains(err.Error(), "12") || strings.Contains(err.Error(), "98") || strings.Contains(err.Error(), "ab") {
			t.Errorf("%s: %v", cfg, err)
		}
	}
}

// FuzzRedactPassword puts any password, correctly escaped, into the
// places a config string holds one, nested up to three deep: Redact
// never shows any part of it (the password starts and ends with a marker
// found nowhere else).
func FuzzRedactPassword(f *testing.F) {
	for _, s := range []string{"", "pw", "a/b@c:d", "%zz", "x&y=z", "#?", " +", "\x00\xff", "é'\""} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, middle string, shape uint8) {
		pw := "Zq9" + middle + "Zq9"
		configs := []string{
			"postgres://" + url.UserPassword("app", pw).String() + "@db:5432/app?sslmode=disable",
			"redis://" + url.UserPassword("", pw).String() + "@cache:6379/0",
			"mysql://app@db/app?password=" + url.QueryEscape(pw),
			"host=db user=app password='" + strings.ReplaceAll(strings.ReplaceAll(pw, `\`, `\\`), "'", `\'`) + "' dbname=app",
		}
		cfg := configs[int(shape)%len(configs)]
		for range int(shape/4) % 4 {
			cfg = "cached-db:?cache=" + url.QueryEscape(cfg) + "&db=sqlite%3Adb.sqlite3"
		}
		if shape&0x80 != 0 {
			cfg = "cached-db:?db=" + url.QueryEscape(url.QueryEscape(cfg))
		}
		if got := sessions.Redact(cfg); strings.Contains(got, "Zq9") {
			t.Fatalf("Redact(%q) = %q", cfg, got)
		}
		if got := sessions.QuoteConfig(cfg); strings.Contains(got, "Zq9") {
			t.Fatalf("QuoteConfig(%q) = %q", cfg, got)
		}
	})
}
