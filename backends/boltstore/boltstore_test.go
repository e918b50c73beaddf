package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

func newPath(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "sessions.db")
}

func openTest(t *testing.T, mod ...func(*Options)) *Store {
	t.Helper()
	o := Options{}
	for _, f := range mod {
		f(&o)
	}
	s, err := Open(newPath(t), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func hour() time.Time { return time.Now().Add(time.Hour) }

// checkIndex verifies that the expiry index holds exactly one entry per
// session, with the session's expiry, and that bbolt finds the file sound.
func checkIndex(t *testing.T, db *bbolt.DB, bucket string) (records int) {
	t.Helper()
	// A write transaction: Check reads the freelist, which concurrent
	// writers change.
	tx, err := db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	err = func() error {
		for err := range tx.Check() {
			return fmt.Errorf("bbolt check: %w", err)
		}
		b, idx := tx.Bucket([]byte(bucket)), tx.Bucket([]byte(bucket+indexSuffix))
		if b == nil || idx == nil {
			return errors.New("buckets missing")
		}
		want := map[string]bool{}
		err := b.ForEach(func(k, v []byte) error {
			if len(v) < headerLen {
				return fmt.Errorf("record of %d bytes", len(v))
			}
			want[string(indexKey(binary.BigEndian.Uint64(v), k))] = true
			records++
			return nil
		})
		if err != nil {
			return err
		}
		n := 0
		err = idx.ForEach(func(k, v []byte) error {
			if !want[string(k)] {
				return fmt.Errorf("index entry %x indexes no record", k)
			}
			n++
			return nil
		})
		if err != nil {
			return err
		}
		if n != len(want) {
			return fmt.Errorf("%d index entries for %d records", n, len(want))
		}
		return nil
	}()
	if err != nil {
		t.Fatal(err)
	}
	return records
}

func TestContract(t *testing.T) {
	ctx := context.Background()
	past := func() time.Time { return time.Now().Add(-time.Second) }
	type step struct {
		op     string
		data   string
		old    string
		expiry func() time.Time
		want   error
		loaded string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"load unknown", []step{{op: "load", want: sessions.ErrNotFound}}},
		{"create load", []step{{op: "create", data: "v1"}, {op: "load", loaded: "v1"}}},
		{"create empty data", []step{{op: "create", data: ""}, {op: "load", loaded: ""}}},
		{"create existing refused, unchanged", []step{{op: "create", data: "v1"}, {op: "create", data: "v2", want: sessions.ErrExists}, {op: "load", loaded: "v1"}}},
		{"create over expired replaces", []step{{op: "create", data: "v1", expiry: past}, {op: "create", data: "v2"}, {op: "load", loaded: "v2"}}},
		{"create with past expiry is not found", []step{{op: "create", data: "v1", expiry: past}, {op: "load", want: sessions.ErrNotFound}}},
		{"update replaces", []step{{op: "create", data: "v1"}, {op: "update", data: "v2"}, {op: "load", loaded: "v2"}}},
		{"update missing", []step{{op: "update", data: "v1", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
		{"update expired", []step{{op: "create", data: "v1", expiry: past}, {op: "update", data: "v2", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
		{"update after delete does not resurrect", []step{{op: "create", data: "v1"}, {op: "delete"}, {op: "update", data: "v2", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
		{"update to past expiry", []step{{op: "create", data: "v1"}, {op: "update", data: "v2", expiry: past}, {op: "load", want: sessions.ErrNotFound}}},
		{"delete absent", []step{{op: "delete"}}},
		{"delete twice", []step{{op: "create", data: "v1"}, {op: "delete"}, {op: "delete"}, {op: "load", want: sessions.ErrNotFound}}},
		{"swap matching", []step{{op: "create", data: "v1"}, {op: "swap", old: "v1", data: "v2"}, {op: "load", loaded: "v2"}}},
		{"swap conflict", []step{{op: "create", data: "v1"}, {op: "swap", old: "vX", data: "v2", want: sessions.ErrConflict}, {op: "load", loaded: "v1"}}},
		{"swap missing", []step{{op: "swap", old: "v1", data: "v2", want: sessions.ErrNotFound}}},
		{"swap expired", []step{{op: "create", data: "v1", expiry: past}, {op: "swap", old: "v1", data: "v2", want: sessions.ErrNotFound}}},
		{"swap same bytes", []step{{op: "create", data: "v1"}, {op: "swap", old: "v1", data: "v1"}, {op: "load", loaded: "v1"}}},
		{"touch keeps data", []step{{op: "create", data: "v1"}, {op: "touch"}, {op: "load", loaded: "v1"}}},
		{"touch to past expires", []step{{op: "create", data: "v1"}, {op: "touch", expiry: past}, {op: "load", want: sessions.ErrNotFound}}},
		{"touch missing", []step{{op: "touch", want: sessions.ErrNotFound}}},
		{"touch expired", []step{{op: "create", data: "v1", expiry: past}, {op: "touch", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			key := sessions.NewKey()
			for i, st := range tc.steps {
				exp := hour()
				if st.expiry != nil {
					exp = st.expiry()
				}
				var err error
				var got []byte
				switch st.op {
				case "create":
					err = s.Create(ctx, key, []byte(st.data), exp)
				case "update":
					err = s.Update(ctx, key, []byte(st.data), exp)
				case "swap":
					err = s.Swap(ctx, key, []byte(st.old), []byte(st.data), exp)
				case "touch":
					err = s.Touch(ctx, key, exp)
				case "delete":
					err = s.Delete(ctx, key)
				case "load":
					got, err = s.Load(ctx, key)
				}
				if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
					t.Fatalf("step %d %s: error %v, want %v", i, st.op, err, st.want)
				}
				if st.op == "load" && err == nil && string(got) != st.loaded {
					t.Fatalf("step %d load: %q, want %q", i, got, st.loaded)
				}
				checkIndex(t, s.DB(), defaultBucket)
			}
		})
	}
}

func TestRecordLayout(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	key := sessions.NewKey()
	exp := time.Now().Add(time.Hour).Round(0)
	if err := s.Create(ctx, key, []byte("data"), exp); err != nil {
		t.Fatal(err)
	}
	s.DB().View(func(tx *bbolt.Tx) error {
		v := tx.Bucket([]byte("sessions")).Get([]byte(key))
		if binary.BigEndian.Uint64(v) != uint64(exp.UnixNano()) || string(v[8:]) != "data" {
			t.Errorf("record %x, want expiry %d + data", v, exp.UnixNano())
		}
		if tx.Bucket([]byte("sessions.expiry")).Get(indexKey(uint64(exp.UnixNano()), []byte(key))) == nil {
			t.Error("no index entry")
		}
		return nil
	})
	fi, err := os.Stat(s.DB().Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestExpiryPassesAndClock(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	base := time.Now()
	now.Store(base.UnixNano())
	s := openTest(t, func(o *Options) { o.Now = func() time.Time { return time.Unix(0, now.Load()) } })
	key := sessions.NewKey()
	if err := s.Create(ctx, key, []byte("x"), base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	now.Store(base.Add(time.Minute - 1).UnixNano())
	if _, err := s.Load(ctx, key); err != nil {
		t.Fatalf("Load a nanosecond before expiry: %v", err)
	}
	now.Store(base.Add(time.Minute).UnixNano())
	if _, err := s.Load(ctx, key); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Load at the expiry instant: %v, want ErrNotFound", err)
	}
	for _, tc := range []struct {
		expiry time.Time
		live   bool
	}{
		{time.Time{}, false},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		k := sessions.NewKey()
		if err := s.Create(ctx, k, []byte("x"), tc.expiry); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(ctx, k); tc.live != (err == nil) {
			t.Errorf("expiry %v: %v, want live=%v", tc.expiry, err, tc.live)
		}
	}
	checkIndex(t, s.DB(), defaultBucket)
}

func TestLoadCopiesOutOfTheMap(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	key := sessions.NewKey()
	s.Create(ctx, key, []byte("original"), hour())
	got, _ := s.Load(ctx, key)
	copy(got, "xxxxxxxx")
	// Writes that remap the file must not change what Load returned.
	keep, _ := s.Load(ctx, key)
	for range 200 {
		s.Create(ctx, sessions.NewKey(), bytes.Repeat([]byte("z"), 8000), hour())
	}
	if string(keep) != "original" {
		t.Fatalf("Load result changed to %q", keep)
	}
	if again, _ := s.Load(ctx, key); string(again) != "original" {
		t.Fatalf("stored data changed to %q", again)
	}
}

func TestOpenTimeout(t *testing.T) {
	path := newPath(t)
	first, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	start := time.Now()
	second, err := Open(path, &Options{Timeout: 150 * time.Millisecond})
	took := time.Since(start)
	if err == nil {
		second.Close()
		t.Fatal("a second open of a locked file succeeded")
	}
	if !errors.Is(err, bolterrors.ErrTimeout) || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("error %q, want a clear one matching bolterrors.ErrTimeout", err)
	}
	// bbolt retries every 50ms and gives up when the next retry would
	// pass the timeout.
	if took < 100*time.Millisecond || took > 3*time.Second {
		t.Fatalf("gave up after %v, want about 150ms", took)
	}
	// Through the registry, with the default timeout of one second.
	settings := sessions.DefaultSettings()
	settings.SecretKey = "k"
	start = time.Now()
	_, err = sessions.OpenEngine(context.Background(), "bolt://"+path, settings)
	if !errors.Is(err, bolterrors.ErrTimeout) {
		t.Fatalf("OpenEngine on a locked file: %v", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond || took > 5*time.Second {
		t.Fatalf("default timeout took %v, want about 1s", took)
	}
	// Once the first is closed, the file opens.
	first.Close()
	again, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

func TestOpenErrors(t *testing.T) {
	parent := t.TempDir()
	if _, err := Open(filepath.Join(parent, "missing", "x.db"), nil); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open in a missing directory: %v", err)
	}
	if _, err := Open(parent, nil); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
	garbage := filepath.Join(parent, "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a bolt file "), 1000), 0o600)
	if _, err := Open(garbage, nil); err == nil {
		t.Fatal("Open of a garbage file succeeded")
	}
	if _, err := New(nil, nil); !errors.Is(err, sessions.ErrBadConfig) {
		t.Fatalf("New(nil): %v", err)
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	wd, _ := os.Getwd()
	rel, _ := filepath.Rel(wd, path)
	settings := sessions.DefaultSettings()
	settings.SecretKey = "k"
	for _, tc := range []struct {
		config  string
		path    string
		bucket  string
		purge   bool
		nosync  bool
		wantErr string
	}{
		{config: "bolt://" + path, path: path, bucket: "sessions"},
		{config: "bbolt://" + path, path: path, bucket: "sessions"},
		{config: "bolt://localhost" + path, path: path, bucket: "sessions"},
		{config: "bolt:" + filepath.ToSlash(rel), path: rel, bucket: "sessions"},
		{config: "bolt://" + path + "?bucket=app1&timeout=2s&nosync=true&purge_interval=1m", path: path, bucket: "app1", purge: true, nosync: true},
		{config: "bolt://" + path + "?timeout=0", wantErr: "timeout must be between"},
		{config: "bolt://" + path + "?purge_interval=10ms", wantErr: "purge_interval must be 0"},
		{config: "bolt://" + path + "?nosinc=true", wantErr: "unknown parameter nosinc"},
		{config: "bolt://otherhost/x.db", wantErr: "host"},
		{config: "bolt:", wantErr: "needs a file"},
		{config: "bolt://" + filepath.Dir(path) + "/", wantErr: "needs a file"},
	} {
		t.Run(tc.config, func(t *testing.T) {
			e, err := sessions.OpenEngine(ctx, tc.config, settings)
			if tc.wantErr != "" {
				if err == nil {
					e.Close()
					t.Fatalf("opened, want an error containing %q", tc.wantErr)
				}
				if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q, want ErrBadConfig containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := e.(*Store)
			defer s.Close()
			if s.DB().Path() != tc.path || string(s.data) != tc.bucket || (s.stopPurge != nil) != tc.purge || s.DB().NoSync != tc.nosync {
				t.Fatalf("path %q bucket %q purge %v nosync %v", s.DB().Path(), s.data, s.stopPurge != nil, s.DB().NoSync)
			}
			if !strings.Contains(s.Describe(), tc.path) {
				t.Errorf("Describe() = %q", s.Describe())
			}
		})
	}
}

func TestNewOverExistingDB(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := New(db, &Options{Bucket: "app-a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(db, &Options{Bucket: "app-b"})
	if err != nil {
		t.Fatal(err)
	}
	key := sessions.NewKey()
	if err := a.Create(ctx, key, []byte("a"), hour()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(ctx, key); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("buckets are not separate: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// The caller's database stays open.
	if err := b.Create(ctx, key, []byte("b"), hour()); err != nil {
		t.Fatalf("the database was closed with the store: %v", err)
	}
	b.Close()
	if err := db.View(func(tx *bbolt.Tx) error { return nil }); err != nil {
		t.Fatalf("db closed by Store.Close: %v", err)
	}
	// A second store over the same bucket sees the sessions.
	c, _ := New(db, &Options{Bucket: "app-a"})
	if got, err := c.Load(ctx, key); err != nil || string(got) != "a" {
		t.Fatalf("Load = %q, %v", got, err)
	}
}

func TestReadOnlyDB(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	s, err := New(ro, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, sessions.NewKey()); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Load: %v", err)
	}
	if err := s.Create(ctx, sessions.NewKey(), nil, hour()); err == nil {
		t.Fatal("Create on a read-only database succeeded")
	}
	n, err := s.DeleteExpired(ctx)
	if err == nil || n != 0 {
		t.Fatalf("DeleteExpired on a read-only database: %d, %v", n, err)
	}
	if err := s.List(ctx, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteExpiredBatches(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, func(o *Options) { o.NoSync = true })
	s.batch = 7
	now := time.Now()
	var live []string
	expired := 0
	for i := range 2500 {
		key := sessions.NewKey()
		exp := now.Add(time.Hour + time.Duration(i)*time.Second)
		if i%2 == 0 {
			exp = now.Add(-time.Duration(i+1) * time.Second)
			expired++
		} else {
			live = append(live, key)
		}
		if err := s.Create(ctx, key, []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
	}
	// Stale index entries (from a bug or another writer) do not remove
	// the record they no longer index.
	stale := live[0]
	s.DB().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(s.index).Put(indexKey(1, []byte(stale)), []byte{})
	})

	var listed []string
	if err := s.List(ctx, func(k string) bool { listed = append(listed, k); return true }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	slices.Sort(live)
	if !slices.Equal(listed, live) {
		t.Fatalf("List gave %d keys, want the %d live ones", len(listed), len(live))
	}
	count := 0
	if err := s.List(ctx, func(string) bool { count++; return count < 1005 }); err != nil || count != 1005 {
		t.Fatalf("List stopped after %d (%v), want 1005", count, err)
	}
	if err := s.List(ctx, func(k string) bool { return s.Touch(ctx, k, hour()) == nil }); err != nil {
		t.Fatal(err)
	}

	n, err := s.DeleteExpired(ctx)
	if err != nil || n != int64(expired) {
		t.Fatalf("DeleteExpired = %d, %v; want %d", n, err, expired)
	}
	if got := checkIndex(t, s.DB(), defaultBucket); got != len(live) {
		t.Fatalf("%d records left, want %d", got, len(live))
	}
	if _, err := s.Load(ctx, stale); err != nil {
		t.Fatalf("a stale index entry removed a live session: %v", err)
	}
	if n, err := s.DeleteExpired(ctx); n != 0 || err != nil {
		t.Fatalf("second DeleteExpired = %d, %v", n, err)
	}
}

func TestBackgroundPurge(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, func(o *Options) { o.PurgeInterval = 20 * time.Millisecond })
	key := sessions.NewKey()
	if err := s.Create(ctx, key, []byte("v"), time.Now().Add(30*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for checkIndex(t, s.DB(), defaultBucket) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background purge never removed the expired session")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptRecord(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	key := sessions.NewKey()
	s.DB().Update(func(tx *bbolt.Tx) error { return tx.Bucket(s.data).Put([]byte(key), []byte("abc")) })
	if _, err := s.Load(ctx, key); err == nil || errors.Is(err, sessions.ErrNotFound) || strings.Contains(err.Error(), key) {
		t.Fatalf("Load of a corrupt record: %v", err)
	}
	if err := s.Update(ctx, key, []byte("x"), hour()); err == nil {
		t.Fatal("Update of a corrupt record succeeded")
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete of a corrupt record: %v", err)
	}
	if err := s.Create(ctx, key, []byte("x"), hour()); err != nil {
		t.Fatal(err)
	}
	checkIndex(t, s.DB(), defaultBucket)
}

func TestConcurrency(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, func(o *Options) { o.NoSync = true; o.PurgeInterval = 5 * time.Millisecond })
	shared := sessions.NewKey()
	s.Create(ctx, shared, []byte("0"), hour())
	var wg sync.WaitGroup
	errc := make(chan error, 1000)
	for g := range 16 {
		wg.Go(func() {
			own := sessions.NewKey()
			for i := range 60 {
				v := []byte(fmt.Sprintf("g%d-%d", g, i))
				var err error
				switch i % 8 {
				case 0:
					if err = s.Create(ctx, own, v, hour()); errors.Is(err, sessions.ErrExists) {
						err = nil
					}
				case 1, 2:
					if err = s.Update(ctx, shared, v, hour()); errors.Is(err, sessions.ErrNotFound) {
						err = nil
					}
				case 3:
					var got []byte
					if got, err = s.Load(ctx, shared); err == nil && !bytes.HasPrefix(got, []byte("g")) && string(got) != "0" {
						err = fmt.Errorf("bad read %q", got)
					} else if errors.Is(err, sessions.ErrNotFound) {
						err = nil
					}
				case 4:
					if err = s.Touch(ctx, shared, time.Now().Add(time.Duration(i)*time.Minute)); errors.Is(err, sessions.ErrNotFound) {
						err = nil
					}
				case 5:
					var old []byte
					if old, err = s.Load(ctx, shared); err == nil {
						err = s.Swap(ctx, shared, old, v, hour())
					}
					if errors.Is(err, sessions.ErrNotFound) || errors.Is(err, sessions.ErrConflict) {
						err = nil
					}
				case 6:
					if g%4 == 0 {
						s.Delete(ctx, shared)
						s.Create(ctx, shared, v, hour())
					}
					// A short-lived one for the purge.
					s.Create(ctx, sessions.NewKey(), v, time.Now().Add(time.Millisecond))
					err = s.Update(ctx, own, v, hour())
				case 7:
					var got []byte
					if got, err = s.Load(ctx, own); err == nil && !bytes.HasPrefix(got, []byte(fmt.Sprintf("g%d-", g))) {
						err = fmt.Errorf("own key holds %q", got)
					}
				}
				if err != nil {
					errc <- err
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := s.DeleteExpired(ctx); err != nil {
				errc <- err
			}
			if err := s.List(ctx, func(string) bool { return true }); err != nil {
				errc <- err
			}
		}
	})
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	checkIndex(t, s.DB(), defaultBucket)
}

func TestSwapContention(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, func(o *Options) { o.NoSync = true })
	for round := range 20 {
		key := sessions.NewKey()
		if err := s.Create(ctx, key, []byte("start"), hour()); err != nil {
			t.Fatal(err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 12 {
			wg.Go(func() {
				<-start
				err := s.Swap(ctx, key, []byte("start"), []byte(fmt.Sprint("winner", i)), hour())
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, sessions.ErrConflict):
					t.Errorf("Swap: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d swaps from the same old value won, want exactly 1", round, wins.Load())
		}
	}
}

func TestCloseWaitsForPurge(t *testing.T) {
	// Close while the purge runs: no panic, no race, the DB is closed.
	for range 5 {
		s := openTest(t, func(o *Options) { o.PurgeInterval = time.Millisecond; o.NoSync = true })
		for range 50 {
			s.Create(context.Background(), sessions.NewKey(), []byte("x"), time.Now())
		}
		time.Sleep(3 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().View(func(*bbolt.Tx) error { return nil }); !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			t.Fatalf("the database after Close: %v, want bolterrors.ErrDatabaseNotOpen", err)
		}
	}
}
