// Command sessions is sessionkit's command line: what Django's manage.py
// does for sessions, plus a demo shop.
//
// Usage:
//
//	sessions <command> [flags] [arguments]
//
// Every command reads Django's settings from the environment
// (SESSION_ENGINE, SECRET_KEY, SECRET_KEY_FALLBACKS, SESSION_COOKIE_AGE,
// SESSION_COOKIE_NAME, SESSION_FILE_PATH, SESSION_DATABASE_URL,
// SESSION_CACHE_URL, ... see sessions.SettingsFromEnv), and takes the
// engine from --engine, else SESSION_ENGINE, else Django's "db". The
// engine is a URL ("sqlite:///var/lib/app/sessions.sqlite3",
// "redis://127.0.0.1:6379/0", "file:///var/lib/app/sessions", ...) or one
// of Django's engine names ("db", "file", "cache", "cached_db",
// "signed_cookies"). Every command has --help.
//
// The commands:
//
//	demo          Run the demo shop: login and logout, a cart, a three-step
//	              checkout, theme and language preferences, "remember me",
//	              and an about panel showing the stored session as Django
//	              sees it. Flags: --engine (default: an SQLite file in the
//	              data directory), --addr (default 127.0.0.1:8000),
//	              --data-dir (default ./sessionkit-demo), --debug-api (adds
//	              GET/POST/DELETE /api/session; /metrics, live counts of
//	              the engine's calls and the session decisions as a page,
//	              JSON or text; and POST /debug/slow-add, an "add to cart"
//	              that holds its request so two tabs collide and the
//	              conflict is merged). Without SECRET_KEY, the demo
//	              makes one and keeps it in <data-dir>/secret_key (mode 0600).
//	              Stops gracefully on SIGINT or SIGTERM.
//
//	clearsessions Remove expired sessions (Django's clearsessions) and print
//	              how many were removed; on a terminal, shows progress while
//	              it runs. Engines that expire sessions by themselves
//	              (Redis, memcached, signed cookies: those without
//	              clean-up) succeed with 0; an engine that reports it
//	              cannot clear fails with Django's message.
//
//	inspect KEY   Print the session stored under KEY as JSON, as Django
//	              decodes it (keys in stored order, nested ones too), with
//	              its expiry. With --raw,
//	              also the stored string. Exit status 1 if there is no such
//	              live session. For the signed-cookie engine, KEY is the
//	              cookie's value.
//
//	stats         Print what the engine can count cheaply: live sessions,
//	              expired ones awaiting clearsessions, users and entries
//	              of the user index (unknown where it cannot). With
//	              --list, an engine that cannot count (Redis) counts its
//	              live sessions by listing every key; --json for scripts.
//	              On a terminal, shows progress while it counts.
//	migrate       Move every session from one engine to another (--from
//	              URL --to URL), converting between Django's formats and
//	              keeping expiries, with a progress bar on a terminal;
//	              --dry-run, --keep-source, --batch, --workers. Resumable:
//	              run it again after an interruption. See
//	              backends/migrate for the live migrating engine.
//
//	engines       List the engines compiled in and their config strings.
//
//	check         Open the configured engine and run the conformance
//	              suite's quick checks against it (creating and deleting a
//	              few sessions of its own), printing OK or FAIL for each;
//	              exit status 1 on any failure.
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "github.com/sessionkit/sessions/all" // every built-in engine
)

// main runs the command line and exits with its status.
func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands are the subcommands, in the order usage lists them.
var commands = []command{
	{"demo", "run the demo shop (login, cart, checkout, preferences) on any engine", runDemo},
	{"clearsessions", "remove expired sessions (Django's clearsessions)", runClearSessions},
	{"inspect", "print a stored session as JSON, with its expiry", runInspect},
	{"stats", "count the sessions stored, the expired ones and the user index", runStats},
	{"migrate", "move every session from one engine to another (--from, --to)", runMigrate},
	{"engines", "list the engines compiled in and their config strings", runEngines},
	{"check", "run the conformance quick checks against the configured engine", runCheck},
}

// run runs the command line args (without the program name) and returns
// the exit status. SIGINT and SIGTERM cancel the command's context.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == name {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "sessions: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

// usage writes the command line's help to w.
func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("sessions: Django's session framework for Go, from the command line.\n\n")
	b.WriteString("Usage:\n  sessions <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-14s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Settings come from the environment, under Django's names: SESSION_ENGINE,
SECRET_KEY, SECRET_KEY_FALLBACKS, SESSION_COOKIE_AGE, SESSION_COOKIE_NAME,
SESSION_FILE_PATH, SESSION_DATABASE_URL, SESSION_CACHE_URL, ...
--engine overrides SESSION_ENGINE. "sessions <command> --help" tells more.

Start here:
  sessions demo       # the demo shop on http://127.0.0.1:8000
`)
	io.WriteString(w, b.String())
}
