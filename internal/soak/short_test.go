package soak

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestShortSoak is the soak in brief, run with every `make test`: each
// target for a few seconds with one outage (two for cached_db: the cache,
// then the database), about a minute in all.
func TestShortSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak takes about a minute")
	}
	opt := options{
		short:         true,
		duration:      3 * time.Second, // per outage
		outage:        func(int) time.Duration { return time.Second },
		clients:       6,
		shared:        2,
		maxRecovery:   envDuration("SOAK_MAX_RECOVERY", 5*time.Second),
		reqTimeout:    2 * time.Second,
		clientTimeout: 10 * time.Second,
	}
	var reports []report
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			rep := soak(t, tg, opt)
			reports = append(reports, rep)
			verdict(t, rep, opt)
		})
	}
	t.Log("\n" + table(reports))
	writeReport(t, "Short soak (TestShortSoak)", reports)
}

// TestSoakDetectsLostWritesAndUndoneLogouts runs the soak on a store that
// forgets: the application restarts twice, and the second time the SQLite
// file is put back as it was at the first. The writes and logouts made in
// between are undone, and the soak must say so.
func TestSoakDetectsLostWritesAndUndoneLogouts(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak of a few seconds")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "soak.sqlite3")
	snap := filepath.Join(t.TempDir(), "snapshot")
	copyFiles := func(from, to string) {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(to + suffix)
			b, err := os.ReadFile(from + suffix)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(to+suffix, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tg := target{name: "forgetful", setup: func(t *testing.T) rig {
		return rig{
			configs: []string{"sqlite://" + db + "?create_table=true"},
			faults: []fault{
				{name: "snapshot", restart: true, whileDown: func() { copyFiles(db, snap) }},
				{name: "restore snapshot", restart: true, whileDown: func() { copyFiles(snap, db) }},
			},
			short: []int{0, 1},
		}
	}}
	opt := options{
		short:         true,
		duration:      3 * time.Second, // 2 s between the snapshot and its restore
		outage:        func(int) time.Duration { return 200 * time.Millisecond },
		clients:       12, // each one's session at the snapshot may come back
		shared:        2,
		maxRecovery:   5 * time.Second,
		reqTimeout:    2 * time.Second,
		clientTimeout: 10 * time.Second,
	}
	rep := soak(t, tg, opt)
	t.Log("\n" + table([]report{rep}))
	if rep.lost == 0 {
		t.Error("no lost writes reported after the store went back in time")
	}
	if rep.undone == 0 {
		t.Error("no undone logouts reported after the store went back in time")
	}
	if rep.panics > 0 || rep.ok == 0 {
		t.Errorf("%d panics, %d requests succeeded", rep.panics, rep.ok)
	}
}
