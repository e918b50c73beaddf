package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
)

// The shared rules hold on the network engines too (their own tests are
// in their packages; these need no server, the config is refused first):
// a repeated parameter, a fragment, an '@' after the host, a ';' in the
// query are errors quoting no password.
func TestConfigMistakesNetworkEngines(t *testing.T) {
	for cfg, want := range map[string]string{
		"redis://127.0.0.1:1/0?pool_size=2&pool_size=abc":                  "pool_size is given 2 times",
		"redis://127.0.0.1:1/0?key_prefix=a&key_prefix=b":                  "key_prefix is given 2 times",
		"rediss://127.0.0.1:1/0?dial_timeout=1s&dial_timeout=2s":           "dial_timeout is given 2 times",
		"redis+cluster://127.0.0.1:1?max_retries=1&max_retries=2":          "max_retries is given 2 times",
		"redis+sentinel://m@127.0.0.1:1/0?read_timeout=1s&read_timeout=2s": "read_timeout is given 2 times",
		"redis://:pwS3cr3t@127.0.0.1:1/0#frag":                             "'#'",
		"redis://:12/S3cr3t@127.0.0.1:1/0":                                 "'@' after the host",
		"redis://:pwS3cr3t@127.0.0.1:1/0?pool_size=1;x=2":                  "';'",
		"redis://127.0.0.1:1/0?password=ab&cdS3cr3t":                       "unexpected option", // go-redis names it; Open scrubs it
		"memcached://127.0.0.1:1?timeout=1s&timeout=2s":                    "timeout is given 2 times",
		"memcached://127.0.0.1:1?key_prefix=a&key_prefix=a":                "key_prefix is given 2 times",
		"memcached://127.0.0.1:1#S3cr3t":                                   "'#'",
		"memcached://127.0.0.1:1?timeout=1s;x=S3cr3t":                      "';'",
		"memcached://127.0.0.1:1?timeout=%zzS3cr3t":                        "invalid %-escape",
	} {
		e, err := sessions.OpenEngine(context.Background(), cfg, testSettings())
		if err == nil {
			e.Close()
			t.Errorf("%s: opened", cfg)
			continue
		}
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrBadConfig containing %q", cfg, err, want)
		}
		if strings.Contains(err.Error(), "S3cr3t") {
			t.Errorf("%s: %v", cfg, err)
		}
	}
}
