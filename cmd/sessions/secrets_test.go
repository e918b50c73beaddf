package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessions/internal/syncbuf"
	"github.com/sessionkit/sessions/internal/testservers"
)

// The demo with password-bearing config strings, for every engine: on
// servers that check passwords (Redis requirepass and ACL users, a Redis
// Cluster and a Sentinel-monitored master with requirepass, PostgreSQL
// and MariaDB users with passwords), with passwords nested in cached-db,
// through Django's engine names, wrong, unreachable, malformed, and on the
// engines that take none. No page (the about page needs no login), no
// log line, no error and no output of the commands may show a password,
// raw or encoded.

// secretPassword returns a password for a test: core (letters and
// digits, so that every encoding of the password contains it) and the
// characters that URLs must escape.
func secretPassword(core string) string { return core + "/@:%?&#+ x" }

// leaks returns the forms of the passwords found in text: raw,
// percent-encoded as a query value or a path, encoded twice, or the core.
func leaks(text string, cores []string) []string {
	var found []string
	for _, core := range cores {
		pw := secretPassword(core)
		for _, f := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw), url.QueryEscape(url.QueryEscape(pw)),
			strings.TrimPrefix(url.UserPassword("", pw).String(), ":"), core} {
			if strings.Contains(text, f) {
				found = append(found, f)
			}
		}
	}
	return found
}

// withPassword returns rawURL with user and password set.
func withPassword(rawURL, user, pw string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	u.User = url.UserPassword(user, pw)
	return u.String()
}

// redisDo runs one command on a Redis server.
func redisDo(t *testing.T, addr, password string, args ...any) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("redis %v: %v", args[:2], err)
	}
}

// secretServers starts the servers with password-checking users.
type secretServers struct {
	redis, redisACL, cluster, sentinel string // URLs with passwords
	redisWrong                         string // a wrong password
	postgres, postgresParam            string
	postgresWrong                      string
	mysql, mysqlWrong                  string
	memcached                          string // no password: the address
	sqlite                             string
}

func startSecretServers(t *testing.T) *secretServers {
	t.Helper()
	s := &secretServers{}
	q := url.QueryEscape

	r := testservers.StartRedis(t)
	redisDo(t, r.Addr, "", "ACL", "SETUSER", "shop", "on", ">"+secretPassword("RedisAclPw71"), "~*", "&*", "+@all")
	redisDo(t, r.Addr, "", "CONFIG", "SET", "requirepass", secretPassword("RedisPw71"))
	s.redis = withPassword(r.URL(), "", secretPassword("RedisPw71"))
	s.redisACL = withPassword(r.URL(), "shop", secretPassword("RedisAclPw71"))
	s.redisWrong = withPassword(r.URL(), "", secretPassword("RedisWrongPw71"))

	c := testservers.StartRedisCluster(t, 1)
	redisDo(t, c.Addrs[0], "", "CONFIG", "SET", "requirepass", secretPassword("ClusterPw71"))
	s.cluster = withPassword(c.URL(), "", secretPassword("ClusterPw71"))

	sn := testservers.StartRedisSentinel(t)
	redisDo(t, sn.SentinelAddrs[0], "", "SENTINEL", "SET", sn.MasterName, "auth-pass", secretPassword("SentinelPw71"))
	redisDo(t, sn.Master.Addr, "", "CONFIG", "SET", "requirepass", secretPassword("SentinelPw71"))
	s.sentinel = withPassword(sn.URL(), sn.MasterName, secretPassword("SentinelPw71"))

	pg := testservers.StartPostgres(t)
	for _, sql := range []string{
		"CREATE ROLE shop LOGIN PASSWORD '" + secretPassword("PostgresPw71") + "'",
		"CREATE DATABASE shop OWNER shop",
	} {
		if _, err := pg.SQL("postgres", sql); err != nil {
			t.Fatal(err)
		}
	}
	// The role signs in with its password (the others keep trust).
	hba := filepath.Join(pg.DataDir, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hba, append([]byte("host all shop 127.0.0.1/32 scram-sha-256\n"), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.SQL("postgres", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	pgURL := fmt.Sprintf("postgres://127.0.0.1:%d/shop?sslmode=disable&create_table=true", pg.Port)
	s.postgres = withPassword(pgURL, "shop", secretPassword("PostgresPw71"))
	s.postgresParam = fmt.Sprintf("postgres://shop@127.0.0.1:%d/shop?sslmode=disable&create_table=true&password=%s", pg.Port, q(secretPassword("PostgresPw71")))
	s.postgresWrong = withPassword(pgURL, "shop", secretPassword("PostgresWrongPw71"))

	m := testservers.SharedMariaDB(t)
	db := fmt.Sprintf("shop%d", time.Now().UnixNano()%1e9)
	if _, err := m.SQL("", "CREATE DATABASE "+db+"; CREATE USER '"+db+"'@'%' IDENTIFIED BY '"+secretPassword("MysqlPw71")+"'; GRANT ALL ON "+db+".* TO '"+db+"'@'%'"); err != nil {
		t.Fatal(err)
	}
	myURL := fmt.Sprintf("mysql://127.0.0.1:%d/%s?create_table=true", m.Port, db)
	s.mysql = withPassword(myURL, db, secretPassword("MysqlPw71"))
	s.mysqlWrong = withPassword(myURL, db, secretPassword("MysqlWrongPw71"))

	s.memcached = "memcached://" + testservers.StartMemcached(t).Addr
	s.sqlite = "sqlite://" + filepath.Join(t.TempDir(), "cached.sqlite3") + "?create_table=true"
	return s
}

// startWant says whether the demo must serve, must fail, or may do either
// (engines that connect lazily start and fail on requests).
type startWant int

const (
	mustFail startWant = iota
	mustStart
	either
)

// demoRun is what one run of the demo and the commands showed.
type demoRun struct {
	text    strings.Builder // everything, for the leak search
	started bool
}

func (d *demoRun) add(what, s string) { fmt.Fprintf(&d.text, "\n=== %s\n%s", what, s) }

// runDemoAndCommands runs the demo with the environment set, browses its
// pages if it starts, and runs the commands.
func runDemoAndCommands(t *testing.T, want startWant) *demoRun {
	t.Helper()
	run := &demoRun{}
	var stdout, stderr syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- runDemo(ctx, []string{"--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--debug-api"}, &stdout, &stderr)
	}()
	urlRE := regexp.MustCompile(`URL:\s+(http://\S+)`)
	var base string
	deadline := time.After(60 * time.Second)
wait:
	for {
		select {
		case code := <-done:
			done <- code
			break wait
		case <-deadline:
			cancel()
			t.Fatalf("the demo did not start in 60s:\n%s%s", stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
			if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
				base = strings.TrimSuffix(m[1], "/")
				break wait
			}
		}
	}
	if base != "" {
		run.started = true
		browse(t, base, run)
	}
	cancel()
	select {
	case code := <-done:
		if base == "" && code == 0 {
			t.Errorf("the demo exited 0 without serving")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop")
	}
	run.add("demo stdout", stdout.String())
	run.add("demo stderr", stderr.String())
	if want != either && run.started != (want == mustStart) {
		t.Errorf("demo started: %v, want %v\n%s%s", run.started, want == mustStart, stdout.String(), stderr.String())
	}

	key := regexp.MustCompile(`"key": "([a-z0-9]{32})"`).FindStringSubmatch(run.text.String())
	sessionKey := strings.Repeat("a", 32)
	if key != nil {
		sessionKey = key[1]
	} else if want == mustStart {
		t.Errorf("no session was made")
	}
	for _, args := range [][]string{
		{"engines"}, {"engines", "--json"}, {"check"}, {"inspect", sessionKey}, {"inspect", "--raw", sessionKey},
		{"inspect", strings.Repeat("b", 32)}, {"clearsessions"},
	} {
		code, out, errOut := cli(t, args...)
		run.add(fmt.Sprintf("sessions %s: exit %d", strings.Join(args, " "), code), out+errOut)
		wantOK := args[0] == "engines" || want == mustStart && args[len(args)-1] != strings.Repeat("b", 32)
		if wantOK && code != 0 {
			t.Errorf("sessions %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		if wantOK && args[0] == "inspect" && !strings.Contains(out, "made by the secrets test") {
			t.Errorf("sessions %s does not show the session: %s", strings.Join(args, " "), out)
		}
	}
	return run
}

// browse visits every page of the demo, makes a session through the
// debug API and a form, and records what it got.
func browse(t *testing.T, base string, run *demoRun) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := ""
	tokenRE := regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)
	do := func(method, path, contentType, body string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Referer", base+"/")
		res, err := client.Do(req)
		if err != nil {
			run.add(method+" "+path, "error: "+err.Error())
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var h strings.Builder
		res.Header.Write(&h)
		run.add(fmt.Sprintf("%s %s: %s", method, path, res.Status), h.String()+"\n"+string(b))
		if m := tokenRE.FindSubmatch(b); m != nil {
			token = string(m[1])
		}
	}
	pages := []string{"/about", "/", "/login", "/cart", "/checkout", "/checkout/address", "/preferences", "/logout", "/api/session", "/no-such-page", "/static/no-such-file"}
	for _, p := range pages {
		do("GET", p, "", "")
	}
	do("POST", "/api/session", "application/json", `{"note": "made by the secrets test"}`)
	do("POST", "/cart/add", "application/x-www-form-urlencoded", "sku=mug&qty=1") // no CSRF token: 403
	do("GET", "/cart", "", "")
	do("POST", "/cart/add", "application/x-www-form-urlencoded", url.Values{"sku": {"mug"}, "qty": {"2"}, "csrfmiddlewaretoken": {token}}.Encode())
	do("POST", "/cart/add", "application/x-www-form-urlencoded", url.Values{"sku": {"nope"}, "csrfmiddlewaretoken": {token}}.Encode())
	do("POST", "/preferences", "application/x-www-form-urlencoded", url.Values{"theme": {"dark"}, "csrfmiddlewaretoken": {token}}.Encode())
	for _, p := range pages {
		do("GET", p, "", "")
	}
	u, _ := url.Parse(base)
	for _, c := range jar.Cookies(u) {
		if c.Name == "sessionid" {
			run.add("session cookie", fmt.Sprintf(`"key": %q`, c.Value))
		}
	}
}

func TestDemoShowsNoPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("starts every server")
	}
	s := startSecretServers(t)
	q := url.QueryEscape
	cores := []string{"RedisPw71", "RedisAclPw71", "RedisWrongPw71", "ClusterPw71", "SentinelPw71", "PostgresPw71", "PostgresWrongPw71",
		"MysqlPw71", "MysqlWrongPw71", "MemcachedPw71", "ParamPw71", "MalformedPw71"}
	pw := secretPassword
	dir := t.TempDir()
	cases := []struct {
		name  string
		env   []string // SESSION_ENGINE first
		start startWant
	}{
		{"redis requirepass", []string{"SESSION_ENGINE", s.redis}, mustStart},
		{"redis ACL user", []string{"SESSION_ENGINE", s.redisACL}, mustStart},
		{"redis cluster", []string{"SESSION_ENGINE", s.cluster}, mustStart},
		{"redis sentinel", []string{"SESSION_ENGINE", s.sentinel}, mustStart},
		{"postgres", []string{"SESSION_ENGINE", s.postgres}, mustStart},
		{"postgres password=", []string{"SESSION_ENGINE", s.postgresParam}, mustStart},
		{"mysql", []string{"SESSION_ENGINE", s.mysql}, mustStart},
		{"cached-db redis postgres", []string{"SESSION_ENGINE", "cached-db:?cache=" + q(s.redis) + "&db=" + q(s.postgres)}, mustStart},
		{"cached-db memcached mysql", []string{"SESSION_ENGINE", "cached-db:?cache=" + q(s.memcached) + "&db=" + q(s.mysql)}, mustStart},
		{"cached-db cluster postgres password=", []string{"SESSION_ENGINE", "cached-db:?cache=" + q(s.cluster) + "&db=" + q(s.postgresParam)}, mustStart},
		{"cached-db unencoded", []string{"SESSION_ENGINE", "cached-db:?cache=" + s.redis + "&db=" + q(s.mysql)}, either},
		{"Django cached_db", []string{"SESSION_ENGINE", "cached_db", "SESSION_CACHE_URL", s.redisACL, "SESSION_DATABASE_URL", s.postgres}, mustStart},
		{"Django db", []string{"SESSION_ENGINE", "django.contrib.sessions.backends.db", "SESSION_DATABASE_URL", s.mysql}, mustStart},
		{"Django cache", []string{"SESSION_ENGINE", "cache", "SESSION_CACHE_URL", s.sentinel}, mustStart},

		// The server says no, or is not there.
		{"postgres wrong password", []string{"SESSION_ENGINE", s.postgresWrong}, mustFail},
		{"mysql wrong password", []string{"SESSION_ENGINE", s.mysqlWrong}, mustFail},
		{"redis wrong password", []string{"SESSION_ENGINE", s.redisWrong}, either},
		{"redis unreachable", []string{"SESSION_ENGINE", "redis://:" + q(pw("RedisWrongPw71")) + "@127.0.0.1:1/0?dial_timeout=1s&max_retries=0"}, either},
		{"postgres unreachable", []string{"SESSION_ENGINE", withPassword("postgres://127.0.0.1:1/x?sslmode=disable", "u", pw("PostgresWrongPw71"))}, mustFail},
		{"cached-db wrong nested password", []string{"SESSION_ENGINE", "cached-db:?cache=" + q(s.redis) + "&db=" + q(s.mysqlWrong)}, mustFail},
		{"cached-db double-encoded", []string{"SESSION_ENGINE", "cached-db:?cache=" + q(q(s.redis)) + "&db=" + q(s.postgres)}, mustFail},
		{"Django db wrong password", []string{"SESSION_ENGINE", "db", "SESSION_DATABASE_URL", s.postgresWrong}, mustFail},

		// Malformed: unparsable, or the password moved into the path,
		// the query or a fragment by an unescaped character.
		{"bad escape", []string{"SESSION_ENGINE", "postgres://u:50%MalformedPw71@127.0.0.1/x"}, mustFail},
		{"slash in password", []string{"SESSION_ENGINE", "redis://:12/MalformedPw71@127.0.0.1:1/0"}, mustFail},
		{"hash in password", []string{"SESSION_ENGINE", "mysql://u:12#MalformedPw71@127.0.0.1/x"}, mustFail},
		{"question mark in password", []string{"SESSION_ENGINE", "postgres://u:12?x=MalformedPw71@127.0.0.1/x"}, mustFail},
		{"ampersand in password=", []string{"SESSION_ENGINE", "postgres://u@127.0.0.1:1/x?password=ab&MalformedPw71"}, mustFail},
		{"key=value DSN", []string{"SESSION_ENGINE", "host=127.0.0.1 user=u password=MalformedPw71 dbname=x"}, mustFail},
		{"mysql DSN", []string{"SESSION_ENGINE", "u:MalformedPw71@tcp(127.0.0.1:3306)/x"}, mustFail},
		{"nested bad escape", []string{"SESSION_ENGINE", "cached-db:?cache=" + q("redis://:50%MalformedPw71@127.0.0.1/0") + "&db=" + q(s.sqlite)}, mustFail},
		{"space in scheme", []string{"SESSION_ENGINE", "post gres://u:MalformedPw71@h/x"}, mustFail},

		// Engines without credentials, given some.
		{"memory", []string{"SESSION_ENGINE", "memory:?secret=" + q(pw("ParamPw71"))}, mustFail},
		{"memory user", []string{"SESSION_ENGINE", withPassword("memory://h", "u", pw("ParamPw71"))}, mustFail},
		{"signed cookies", []string{"SESSION_ENGINE", "signed-cookies:?token=" + q(pw("ParamPw71"))}, mustFail},
		{"file", []string{"SESSION_ENGINE", "file://" + dir + "?password=" + q(pw("ParamPw71"))}, mustFail},
		{"file user", []string{"SESSION_ENGINE", withPassword("file://localhost"+dir, "u", pw("ParamPw71"))}, mustFail},
		{"bolt", []string{"SESSION_ENGINE", "bolt://" + dir + "/s.db?pass=" + q(pw("ParamPw71"))}, mustFail},
		{"sqlite", []string{"SESSION_ENGINE", s.sqlite + "&pwd=" + q(pw("ParamPw71"))}, mustFail},
		{"sqlite user", []string{"SESSION_ENGINE", withPassword("sqlite:///"+dir+"/x.db", "u", pw("ParamPw71"))}, mustFail},
		{"memcached password=", []string{"SESSION_ENGINE", s.memcached + "?password=" + q(pw("MemcachedPw71"))}, mustFail},
		{"cached-db memory", []string{"SESSION_ENGINE", "cached-db:?cache=memory%3A&db=" + q(s.sqlite) + "&secret=" + q(pw("ParamPw71"))}, mustFail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setEnv(t, c.env...)
			run := runDemoAndCommands(t, c.start)
			text := run.text.String()
			if found := leaks(text, cores); len(found) > 0 {
				t.Errorf("the password shows (%q):\n%s", found, text)
			}
			if c.start == mustStart && !strings.Contains(text, "Config string") {
				t.Errorf("the about page did not render:\n%.3000s", text)
			}
			if t.Failed() {
				t.Logf("output:\n%.20000s", text)
			}
		})
	}
	// memcached takes no credentials: an error, or a config that works
	// without them; either way the password never shows.
	t.Run("memcached user", func(t *testing.T) {
		setEnv(t, "SESSION_ENGINE", withPassword(s.memcached, "u", pw("MemcachedPw71")))
		run := runDemoAndCommands(t, either)
		if found := leaks(run.text.String(), cores); len(found) > 0 {
			t.Errorf("the password shows (%q):\n%s", found, run.text.String())
		}
	})
}
