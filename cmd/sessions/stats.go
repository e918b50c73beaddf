package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// --- stats -----------------------------------------------------------------------

// statsOutput is what "sessions stats --json" prints; a null count is one
// the engine could not count.
type statsOutput struct {
	Engine      string `json:"engine"`
	Where       string `json:"where,omitempty"`
	CountedBy   string `json:"counted_by"` // "engine", "listing" or "none"
	Sessions    *int64 `json:"sessions"`
	Expired     *int64 `json:"expired"`
	Users       *int64 `json:"users"`
	UserEntries *int64 `json:"user_entries"`
	TookMS      int64  `json:"took_ms"`
	Note        string `json:"note,omitempty"`

	took time.Duration
}

// known returns n, or nil when it is unknown (negative).
func known(n int64) *int64 {
	if n < 0 {
		return nil
	}
	return &n
}

// runStats is "sessions stats".
func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("stats", "stats [--engine URL] [--list] [--json]", `
Print what the session store holds, as far as the engine can count it
cheaply: the live sessions, the expired ones kept until clearsessions
removes them, and the users and entries of the user index ("log out
everywhere"). A count the engine cannot make is printed as unknown.

The database engines count with one COUNT query per table; bbolt walks its
expiry index; the file engine reads every session file (an expiry can be
written inside the data), as clearsessions does; the memory engine counts
its map. Redis cannot count its sessions cheaply: --list counts the live
ones by listing every key (SCAN by the engine's prefix, in pages, never
blocking the server, but a read of the whole key space). Memcached can
neither count nor list its keys, and signed cookies keep no sessions on
the server. On a terminal, progress shows on stderr while a count runs.

`+settingsHelp, args, stdout, stderr)
	engine := fs.String("engine", "", engineFlagHelp)
	list := fs.Bool("list", false, "for an engine that cannot count (Redis), count the live sessions by listing every key")
	asJSON := fs.Bool("json", false, `print the counts as JSON (unknown counts are null; counted_by is "engine", "listing" or "none")`)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sessions stats: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	m, _, err := openConfigured(ctx, *engine, stderr)
	if err != nil {
		return fail(stderr, "stats", err)
	}
	defer m.Close()
	d := m.Describe()
	out := statsOutput{Engine: d.Name, Where: d.Where, CountedBy: "none"}
	switch {
	case d.ClientSide:
		out.Note = fmt.Sprintf("the %s engine keeps each session in its cookie: the server stores none to count", d.Name)
	case !d.Counts && !d.Lists:
		out.Note = fmt.Sprintf("the %s engine can neither count nor list its sessions", d.Name)
	case !d.Counts && !*list:
		out.Note = fmt.Sprintf("the %s engine cannot count its sessions cheaply; --list counts the live ones by listing every key (a read of the whole store)", d.Name)
	}
	if out.Note != "" {
		return printStats(stdout, stderr, describe(m), out, *asJSON)
	}
	out.CountedBy = "engine"
	if !d.Counts {
		out.CountedBy = "listing"
	}
	p := &countProgress{}
	if isTerminal(stderr) {
		p.start(stderr, "Counting sessions in "+d.Name)
	}
	start := time.Now()
	n, err := m.Stats(ctx, p.update)
	p.stop()
	if err != nil {
		return fail(stderr, "stats", err)
	}
	out.took = time.Since(start)
	out.TookMS = out.took.Milliseconds()
	out.Sessions, out.Expired, out.Users, out.UserEntries = known(n.Sessions), known(n.Expired), known(n.Users), known(n.UserEntries)
	if out.CountedBy == "listing" {
		out.Note = "listing every key counts the live sessions only"
	}
	return printStats(stdout, stderr, describe(m), out, *asJSON)
}

// printStats writes out as text or JSON and returns the exit status.
func printStats(stdout, stderr io.Writer, where string, out statsOutput, asJSON bool) int {
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(stderr, "stats", err)
		}
		return 0
	}
	var b strings.Builder
	if out.CountedBy == "none" {
		fmt.Fprintf(&b, "Sessions in %s: not counted: %s.\n", where, out.Note)
		io.WriteString(stdout, b.String())
		return 0
	}
	how := "counted"
	if out.CountedBy == "listing" {
		how = "counted by listing every key"
	}
	took := "under a millisecond"
	if out.took >= time.Millisecond {
		took = out.took.Round(time.Millisecond).String()
	}
	fmt.Fprintf(&b, "Sessions in %s, %s in %s:\n", where, how, took)
	for _, row := range []struct {
		label string
		n     *int64
	}{
		{"live sessions", out.Sessions},
		{"expired, awaiting clearsessions", out.Expired},
		{"users in the user index", out.Users},
		{"user index entries", out.UserEntries},
	} {
		v := "unknown"
		if row.n != nil {
			v = group(*row.n)
		}
		fmt.Fprintf(&b, "  %-33s %12s\n", row.label, v)
	}
	if out.Note != "" {
		fmt.Fprintf(&b, "(%s.)\n", strings.ToUpper(out.Note[:1])+out.Note[1:])
	}
	if out.Expired != nil && *out.Expired > 0 {
		fmt.Fprintf(&b, "Run \"sessions clearsessions\" to remove the %s expired %s.\n", group(*out.Expired), plural(*out.Expired, "session", "sessions"))
	}
	io.WriteString(stdout, b.String())
	return 0
}

// group writes n with a comma between groups of three digits.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// countProgress shows how a count goes on a terminal: a bar when the
// engine knows the total, the number examined when it does not, a
// spinner while it reports nothing. Its zero value shows nothing, and
// update is safe to call from the counting goroutine.
type countProgress struct {
	done, total atomic.Int64
	quit        chan struct{}
	wg          sync.WaitGroup
}

// update records the engine's progress (sessions.Counter's progress).
func (p *countProgress) update(done, total int64) {
	p.done.Store(done)
	p.total.Store(total)
}

// start shows the progress line on w once spinnerDelay has passed, until
// stop.
func (p *countProgress) start(w io.Writer, label string) {
	p.quit = make(chan struct{})
	p.total.Store(-1)
	p.wg.Go(func() {
		begin := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		shown := false
		for i := 0; ; i++ {
			select {
			case <-p.quit:
				if shown {
					fmt.Fprint(w, "\r\x1b[K")
				}
				return
			case <-tick.C:
				el := time.Since(begin)
				if el < spinnerDelay {
					continue
				}
				shown = true
				fmt.Fprint(w, "\r\x1b[K"+progressLine(i, label, p.done.Load(), p.total.Load(), el))
			}
		}
	})
}

// stop erases the progress line.
func (p *countProgress) stop() {
	if p.quit == nil {
		return
	}
	close(p.quit)
	p.wg.Wait()
}

// barWidth is the width of the progress bar, in characters.
const barWidth = 30

// progressLine is one frame of the progress line: label, then a bar and
// the percentage when the total is known, else the count so far, then
// the time elapsed.
func progressLine(frame int, label string, done, total int64, elapsed time.Duration) string {
	el := elapsed.Truncate(100 * time.Millisecond)
	switch {
	case total > 0:
		done = min(done, total)
		full := int(done * barWidth / total)
		return fmt.Sprintf("%s [%s%s] %3d%% %s of %s, %s", label, strings.Repeat("#", full), strings.Repeat(".", barWidth-full),
			done*100/total, group(done), group(total), el)
	case done > 0:
		return fmt.Sprintf("%s %s… %s so far, %s", spinnerFrame(frame), label, group(done), el)
	}
	return fmt.Sprintf("%s %s… %s", spinnerFrame(frame), label, el)
}

// spinnerFrame is frame i of the spinner clearsessions shows too.
func spinnerFrame(i int) string { return []string{"|", "/", "-", `\`}[i%4] }
