package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/counttest"
	bbolt "go.etcd.io/bbolt"
)

func TestCount(t *testing.T) {
	counttest.Check(t, openTest(t))
}

// A count larger than one read transaction's batch resumes where the
// previous batch stopped: every entry is counted once, users spanning two
// batches once.
func TestCountBatches(t *testing.T) {
	ctx := context.Background()
	old := countBatch
	countBatch = 100
	t.Cleanup(func() { countBatch = old })
	s := openTest(t, func(o *Options) { o.NoSync = true })
	n := 2*countBatch + 50
	exp := stamp(time.Now().Add(time.Hour))
	past := stamp(time.Now().Add(-time.Hour))
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, idx := tx.Bucket(s.data), tx.Bucket(s.index)
		users, err := tx.CreateBucketIfNotExists(s.usersBucket())
		if err != nil {
			return err
		}
		var v [headerLen]byte
		binary.BigEndian.PutUint64(v[:], exp)
		for i := range n {
			e := exp
			if i%10 == 0 {
				e = past
			}
			key := []byte(sessions.NewKey())
			if err := put(b, idx, key, record{}, e, []byte("x")); err != nil {
				return err
			}
			// Three users share the entries: each user's run of
			// entries crosses a batch boundary.
			if err := users.Put(append(userPrefix(fmt.Sprint("user", i%3)), key...), v[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	got, err := s.Count(ctx, func(done, total int64) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	want := sessions.Counts{Sessions: int64(n - (n+9)/10), Expired: int64((n + 9) / 10), Users: 3, UserEntries: int64(n)}
	if got != want {
		t.Fatalf("Count = %+v, want %+v", got, want)
	}
	if calls < 3 {
		t.Errorf("progress reported %d times over more than two batches", calls)
	}
}
