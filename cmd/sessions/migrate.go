package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/migrate"
)

// migrateHelp is the help of "sessions migrate".
const migrateHelp = `
Move every session from one engine (--from) to another (--to), for the
quiet part of a migration: Django's db engine to Redis, the file engine to
PostgreSQL, a single Redis to a Cluster. Sessions are converted between the
stores' formats (Django's pickle for Redis and memcached, signed JSON for
the others) and keep their expiry.

Each session is moved: once the new store holds it, the old copy is
deleted, so that it cannot come back later. A session the new store holds
already (written by the application through the migrating engine
migrate:?from=...&to=..., or moved by an earlier run) is newer and is
kept. It is safe to run while the application serves requests through
that migrating engine. Interrupted (Ctrl-C, a store failing), it stops
and prints what it did; run the same command again to move the rest.

With --keep-source, the old copies are left in place: for a site that
switches to the new engine right after the copy (a Django site changing
SESSION_ENGINE), or a trial copy. Never use it while a migrating engine
reads the old store.

On a terminal, a progress bar shows on stderr. The summary counts the
sessions copied, skipped because the new store holds a newer one, skipped
because they expired meanwhile, and failed (they stay in the old store:
their data does not decode with SECRET_KEY or SECRET_KEY_FALLBACKS, or
does not fit the new format). Exit status 1 if any failed.

Settings come from the environment under Django's names: SECRET_KEY
(required: the key that signed the sessions), SECRET_KEY_FALLBACKS,
SESSION_COOKIE_AGE, SESSION_FILE_PATH (for "file"), SESSION_DATABASE_URL
(for "db"), SESSION_CACHE_URL (for "cache"), ...`

// migrateTerminal reports whether w is a terminal, where the progress
// bar is shown.
var migrateTerminal = terminal

// runMigrate is "sessions migrate".
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("migrate", "migrate --from URL --to URL [--dry-run] [--keep-source] [--batch N] [--workers N]", migrateHelp, args, stdout, stderr)
	from := fs.String("from", "", "the old engine: a URL such as sqlite:///path/db.sqlite3, or a Django engine name (db, file, cache, cached_db)")
	to := fs.String("to", "", "the new engine, as --from")
	dry := fs.Bool("dry-run", false, "read both stores and report what would be done, writing nothing")
	keep := fs.Bool("keep-source", false, "leave the old copies in place (see above)")
	batch := fs.Int("batch", migrate.DefaultBatchSize, "sessions listed before they are moved and progress shown")
	workers := fs.Int("workers", migrate.DefaultWorkers, "sessions moved at once")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "sessions migrate: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *from == "" || *to == "":
		fmt.Fprintln(stderr, "sessions migrate: --from and --to are required")
		return 2
	case *batch < 1 || *workers < 1 || *workers > 256:
		fmt.Fprintln(stderr, "sessions migrate: --batch must be at least 1 and --workers between 1 and 256")
		return 2
	}
	s, err := sessions.SettingsFromEnv()
	if err != nil {
		return fail(stderr, "migrate", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s.Logger = log
	if s.SecretKey == "" {
		return fail(stderr, "migrate", fmt.Errorf("SECRET_KEY is not set: it must be the SECRET_KEY of the application whose sessions these are (Django's SECRET_KEY), with SECRET_KEY_FALLBACKS for older keys"))
	}
	src, err := sessions.OpenEngine(ctx, *from, s)
	if err != nil {
		return fail(stderr, "migrate", fmt.Errorf("the old engine (--from): %w", err))
	}
	defer src.Close()
	dst, err := sessions.OpenEngine(ctx, *to, s)
	if err != nil {
		return fail(stderr, "migrate", fmt.Errorf("the new engine (--to): %w", err))
	}
	defer dst.Close()

	o := &migrate.CopyOptions{Settings: s, BatchSize: *batch, Workers: *workers, DryRun: *dry, KeepSource: *keep, Logger: log}
	start := time.Now()
	var bar *migrateBar
	if migrateTerminal(stderr) {
		bar = &migrateBar{w: stderr, start: start}
		o.Progress = bar.show
	}
	sum, err := migrate.Copy(ctx, src, dst, o)
	bar.clear()
	took := time.Since(start).Round(time.Millisecond)
	fromName, toName := migrateEngineName(*from), migrateEngineName(*to)
	switch {
	case *dry:
		fmt.Fprintf(stdout, "Dry run from %s to %s, nothing written: %s would be copied, %s skipped (newer in the new store), %s skipped (expired), %s would fail.\n",
			fromName, toName, group(sum.Copied), group(sum.SkippedNewer), group(sum.SkippedExpired), group(sum.Failed))
	default:
		what := map[[2]bool]string{
			{false, false}: "Moved sessions", {true, false}: "Copied sessions",
			{false, true}: "Stopped moving sessions", {true, true}: "Stopped copying sessions",
		}[[2]bool{*keep, err != nil}]
		fmt.Fprintf(stdout, "%s from %s to %s in %s: %s copied, %s skipped (newer in the new store), %s skipped (expired), %s failed.\n",
			what, fromName, toName, took, group(sum.Copied), group(sum.SkippedNewer), group(sum.SkippedExpired), group(sum.Failed))
	}
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintln(stderr, "sessions migrate: interrupted; run the same command again to move the rest (the sessions moved so far are not moved twice)")
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "sessions migrate: stopped: %v\nRun the same command again once the store is back to move the rest.\n", err)
		return 1
	case sum.Failed > 0:
		fmt.Fprintf(stderr, "sessions migrate: %s failed and stayed in the old store (see the warnings above)\n", group(sum.Failed))
		return 1
	}
	return 0
}

// migrateEngineName names a config string for the summary: its scheme,
// or the Django engine name, never a password.
func migrateEngineName(config string) string {
	name := strings.TrimPrefix(strings.TrimSpace(config), "django.contrib.sessions.backends.")
	if scheme, _, ok := strings.Cut(name, ":"); ok {
		name = scheme
	}
	name = strings.ToLower(name)
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789+.-_") != "" {
		return "the engine"
	}
	return name
}

// migrateBar draws the progress of a copy on one terminal line.
type migrateBar struct {
	w     io.Writer
	start time.Time
	shown bool
}

// show draws the bar for s (Copy's Progress callback).
func (p *migrateBar) show(s migrate.Summary) {
	done, total := s.Done(), s.Total
	if total < done {
		total = done // sessions created during the copy
	}
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	fill := int(frac * barWidth)
	bar := strings.Repeat("=", fill)
	if fill < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-fill-1)
	}
	el := time.Since(p.start)
	eta := ""
	if done > 0 && done < total {
		eta = " · ETA " + (time.Duration(float64(el)/frac) - el).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\x1b[K[%s] %3d%% %s/%s · copied %s · newer %s · expired %s · failed %s · %s%s",
		bar, int(frac*100), group(done), group(total), group(s.Copied), group(s.SkippedNewer), group(s.SkippedExpired), group(s.Failed), el.Round(time.Second), eta)
	p.shown = true
}

// clear erases the bar.
func (p *migrateBar) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
