package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/cookiestore"
	_ "github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

func TestResolveConfigDjangoAliases(t *testing.T) {
	s := testutil.Settings()
	s.FilePath = "/var/lib/sessions"
	s.CacheURL = "redis://127.0.0.1:6379/0"
	cases := map[string]string{
		"db":                                    "sqlite:db.sqlite3",
		"django.contrib.sessions.backends.db":   "sqlite:db.sqlite3",
		"file":                                  "file:///var/lib/sessions",
		"django.contrib.sessions.backends.file": "file:///var/lib/sessions",
		"cache":                                 "redis://127.0.0.1:6379/0",
		"cached_db":                             "cached-db:",
		"signed_cookies":                        "signed-cookies:",
		"django.contrib.sessions.backends.signed_cookies": "signed-cookies:",
		"memcached://a:1,b:2":                             "memcached://a:1,b:2",
		"":                                                "sqlite:db.sqlite3",
	}
	for in, want := range cases {
		got, err := sessions.ResolveConfig(in, s)
		if err != nil || got != want {
			t.Errorf("ResolveConfig(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	s.DatabaseURL = "postgres://u@h/db"
	if got, _ := sessions.ResolveConfig("db", s); got != "postgres://u@h/db" {
		t.Errorf("db with DatabaseURL = %q", got)
	}
	for _, alias := range []string{"file", "cache"} {
		if _, err := sessions.ResolveConfig(alias, testutil.Settings()); !errors.Is(err, sessions.ErrBadConfig) {
			t.Errorf("%s without its setting: %v", alias, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := sessions.Open(ctx, "redis://:hunter2@127.0.0.1:6379/0", testutil.Settings())
	if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "backends/redisstore") ||
		!strings.Contains(err.Error(), "memory") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("unregistered scheme: %v", err)
	}
	_, err = sessions.Open(ctx, "nonsense without scheme", testutil.Settings())
	if !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("no scheme: %v", err)
	}
	_, err = sessions.Open(ctx, "memory:?purge_intervall=1s", testutil.Settings())
	if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "purge_intervall") || !strings.Contains(err.Error(), "purge_interval") {
		t.Errorf("typo in a parameter: %v", err)
	}
	_, err = sessions.Open(ctx, "memory:?purge_interval=forever", testutil.Settings())
	if !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("bad value: %v", err)
	}
	bad := testutil.Settings()
	bad.SecretKey = ""
	if _, err := sessions.Open(ctx, "memory:", bad); !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("no secret key: %v", err)
	}
	m, err := sessions.Open(ctx, "MEMORY:", testutil.Settings())
	if err != nil || m.Describe().Name != "memory" {
		t.Errorf("scheme case: %v", err)
	}
}

func TestEnginesListed(t *testing.T) {
	var schemes []string
	for _, e := range sessions.Engines() {
		schemes = append(schemes, e.Scheme)
		if e.Doc == "" || len(e.Forms) == 0 {
			t.Errorf("%s lacks Doc or Forms", e.Scheme)
		}
	}
	if !strings.Contains(strings.Join(schemes, ","), "memory") || !strings.Contains(strings.Join(schemes, ","), "signed-cookies") {
		t.Errorf("Engines() = %v", schemes)
	}
}

func TestRegisterDuplicatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	sessions.Register(sessions.EngineInfo{Scheme: "memory"}, func(context.Context, *url.URL, sessions.Settings) (sessions.Backend, error) {
		return nil, nil
	})
}

func TestRedact(t *testing.T) {
	for in, secret := range map[string]string{
		"postgres://app:s3cret@db:5432/app":             "s3cret",
		"redis://:hunter2@127.0.0.1:6379/0":             "hunter2",
		"mysql://u:pw@h/db?password=pw2":                "pw2",
		"memcached://h1:11211,h2:11211?token=abc123xyz": "abc123xyz",
	} {
		if got := sessions.Redact(in); strings.Contains(got, secret) {
			t.Errorf("Redact(%q) = %q", in, got)
		}
	}
}

func TestParams(t *testing.T) {
	u, _ := url.Parse("x:?a=1&d=250ms&b=true&s=v&n=5")
	p := sessions.ParseParams(u)
	if p.Int("a", 0, 0, 10) != 1 || p.Duration("d", 0, 0, time.Second) != 250*time.Millisecond || !p.Bool("b", false) || p.String("s", "") != "v" {
		t.Error("values")
	}
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "n") {
		t.Errorf("unread parameter not reported: %v", err)
	}
	if r := p.Rest(); r.Get("n") != "5" || len(r) != 1 {
		t.Errorf("Rest = %v", r)
	}
	p = sessions.ParseParams(u)
	p.Int("a", 0, 5, 10)
	p.Duration("d", 0, time.Second, time.Minute)
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "between") {
		t.Errorf("range errors: %v", err)
	}
}

func TestParamsEmptyValues(t *testing.T) {
	u, _ := url.Parse("x:?n=&d=&b=")
	p := sessions.ParseParams(u)
	p.Int("n", 1, 0, 5)
	p.Duration("d", time.Second, 0, time.Minute)
	p.Bool("b", true)
	err := p.Err()
	for _, name := range []string{"n is empty", "d is empty", "b is empty"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Err = %v, want it to mention %q", err, name)
		}
	}
}

func TestResolveRelativeFilePathEscaped(t *testing.T) {
	s := testutil.Settings()
	s.FilePath = "odd dir/50%?#x"
	got, err := sessions.ResolveConfig("file", s)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil || u.Opaque == "" && u.Path == "" {
		t.Fatalf("%q does not parse: %v", got, err)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		t.Errorf("%q: path leaked into query or fragment", got)
	}
}

// A parameter given twice is an error (which one counts?), for every
// parameter an engine reads, unless it reads all values with Strings.
func TestParamsGivenTwice(t *testing.T) {
	u, _ := url.Parse("x:?pool_size=2&pool_size=abc&addr=a&addr=b&flag=1&flag=1&name=x")
	p := sessions.ParseParams(u)
	p.Int("pool_size", 1, 1, 10)
	p.Bool("flag", false)
	p.String("name", "")
	if got := p.Strings("addr"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Strings = %q", got)
	}
	err := p.Err()
	if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "pool_size is given 2 times") ||
		!strings.Contains(err.Error(), "flag is given 2 times") || strings.Contains(err.Error(), "addr") || strings.Contains(err.Error(), "name") {
		t.Errorf("Err = %v", err)
	}
	for _, cfg := range []string{"memory:?purge_interval=1s&purge_interval=abc", "memory:?purge_interval=1s&purge_interval=1s"} {
		if _, err := sessions.Open(context.Background(), cfg, testutil.Settings()); !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "purge_interval is given 2 times") {
			t.Errorf("%s: %v", cfg, err)
		}
	}
}

// A malformed query is an error, not a parameter silently dropped (as
// url.URL.Query drops it), and the error quotes no value.
func TestParamsMalformedQuery(t *testing.T) {
	for raw, want := range map[string]string{
		"a=1;b=2":                   "';'",
		"a=%zzS3cr3t":               "the value of a has an invalid %-escape",
		"%zzS3cr3t=1":               "a parameter name has an invalid %-escape",
		"password=ab&cdS3cr3t":      "an unknown parameter follows password",
		"password=ab&cd=S3cr3t&x=1": "an unknown parameter follows password",
		"pwd=ab&cdS3cr3t=1&x=1":     "an unknown parameter follows pwd",
		"x=1&cd@S3cr3t=1":           "a parameter name has an '@'",
	} {
		p := sessions.ParseParams(&url.URL{Scheme: "x", RawQuery: raw})
		p.String("a", "")
		p.String("b", "")
		p.String("x", "")
		err := p.Err()
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Err = %v, want %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), marker) {
			t.Errorf("%s: Err quotes a value: %v", raw, err)
		}
	}
	// Long names are cut, and many unknown names summed up.
	long := strings.Repeat("n", 5000)
	var many []string
	for i := range 50 {
		many = append(many, fmt.Sprintf("p%02d=1", i))
	}
	p := sessions.ParseParams(&url.URL{Scheme: "x", RawQuery: long + "=1&" + strings.Join(many, "&")})
	err := p.Err()
	if err == nil || len(err.Error()) > 400 || !strings.Contains(err.Error(), "and 41 more") {
		t.Errorf("long and many: %d characters: %.500v", len(err.Error()), err)
	}
}

// Engines whose config string is only a scheme and parameters reject
// the host, path or user they would ignore.
func TestNoLocation(t *testing.T) {
	for _, cfg := range []string{"memory://host", "memory:x", "memory:///x", "memory://u:pwS3cr3t@h", "memory://u@",
		"signed-cookies://host/x", "signed-cookies:x", "signed-cookies://u:pwS3cr3t@", "signed-cookies:/x"} {
		_, err := sessions.Open(context.Background(), cfg, testutil.Settings())
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "takes no") {
			t.Errorf("%s: %v", cfg, err)
		}
		if err != nil && strings.Contains(err.Error(), marker) {
			t.Errorf("%s: %v", cfg, err)
		}
	}
	for _, cfg := range []string{"memory:", "memory://", "memory:?purge_interval=2s", "signed-cookies:", "signed_cookies", "memory"} {
		m, err := sessions.Open(context.Background(), cfg, testutil.Settings())
		if err != nil {
			t.Errorf("%s: %v", cfg, err)
			continue
		}
		m.Close()
	}
	if err := sessions.CheckNoLocation(&url.URL{Scheme: "memory", Opaque: "pw@x"}); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("opaque with @: %v", err)
	}
}

// A '#' or an '@' after the host is a password with an unescaped
// character: an error for every engine, quoting nothing of it.
func TestOpenRejectsSplitPasswords(t *testing.T) {
	for _, cfg := range []string{"memory:?purge_interval=1s#S3cr3t", "memory://u:12#S3cr3t@h", "memory://:12/abS3cr3t@h", "memory://h/x@S3cr3t"} {
		_, err := sessions.Open(context.Background(), cfg, testutil.Settings())
		if !errors.Is(err, sessions.ErrBadConfig) || strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), "12") {
			t.Errorf("%s: %v", cfg, err)
		}
	}
}
