// Package testutil holds the helpers the module's tests share: settings
// with the conformance suite's secret key, Managers and engines that
// close with the test, and key prefixes unique to a test, so that tests
// of a shared server never see each other's keys.
package testutil

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/conformance"
)

// SecretKey is the SECRET_KEY of the tests: Django's own test key, so
// vectors from Django's suite apply (conformance.SecretKey).
const SecretKey = conformance.SecretKey

// Settings returns the default settings with SecretKey.
func Settings() sessions.Settings {
	s := sessions.DefaultSettings()
	s.SecretKey = SecretKey
	return s
}

// Quiet discards the Manager's log (for example a client library's lines
// about every failed dial of a fault test). Pass it to Manager or Open,
// or call it on settings.
func Quiet(s *sessions.Settings) {
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
}

// QuietSettings returns Settings with Quiet applied.
func QuietSettings() sessions.Settings {
	s := Settings()
	Quiet(&s)
	return s
}

// apply returns Settings changed by each non-nil change in turn.
func apply(changes []func(*sessions.Settings)) sessions.Settings {
	s := Settings()
	for _, c := range changes {
		if c != nil {
			c(&s)
		}
	}
	return s
}

// Manager returns a Manager over b with Settings changed by changes (nil
// ones are skipped); it fails t on an error and closes the Manager (and
// so b) when the test ends.
func Manager(t testing.TB, b sessions.Backend, changes ...func(*sessions.Settings)) *sessions.Manager {
	t.Helper()
	m, err := sessions.New(b, apply(changes))
	if err != nil {
		t.Fatalf("sessions.New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Open is Manager over the engine a configuration URL names
// (sessions.Open).
func Open(t testing.TB, url string, changes ...func(*sessions.Settings)) *sessions.Manager {
	t.Helper()
	m, err := sessions.Open(context.Background(), url, apply(changes))
	if err != nil {
		t.Fatalf("sessions.Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

var prefixes atomic.Int64

// Prefix returns a key prefix unique in this process and readable in a
// server's key listing: a counter and the end of the test's name.
func Prefix(t testing.TB) string {
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("t%d_%s", prefixes.Add(1), name)
}
