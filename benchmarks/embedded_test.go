package benchmarks

import (
	"os"
	"path/filepath"
	"testing"

	gsessions "github.com/gorilla/sessions"
	"github.com/sessionkit/sessions"
	bolt "go.etcd.io/bbolt"
)

func BenchmarkFile(b *testing.B) {
	dir := b.TempDir()
	mk := func(name string) string {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			b.Fatal(err)
		}
		return d
	}
	b.Run("ours", func(b *testing.B) {
		oursPair(b, openManager(b, "file://"+mk("ours")), sessionData())
	})
	b.Run("ours-nosync", func(b *testing.B) {
		oursPair(b, openManager(b, "file://"+mk("ours-nosync")+"?sync=false"), sessionData())
	})
	b.Run("gorilla-nosync", func(b *testing.B) {
		store := gsessions.NewFilesystemStore(mk("gorilla"), []byte(secret))
		gorillaPair(b, store)
	})
	for _, sync := range []bool{true, false} {
		name := map[bool]string{true: "floor", false: "floor-nosync"}[sync]
		b.Run(name, func(b *testing.B) {
			d := mk(name)
			path := filepath.Join(d, "sessionid"+sessions.NewKey())
			data := encoded(b)
			os.WriteFile(path, data, 0o600)
			write := func(data []byte) {
				f, err := os.CreateTemp(d, "tmp_")
				if err != nil {
					b.Fatal(err)
				}
				f.Write(data)
				if sync {
					f.Sync()
				}
				f.Close()
				if err := os.Rename(f.Name(), path); err != nil {
					b.Fatal(err)
				}
				if sync {
					df, _ := os.Open(d)
					df.Sync()
					df.Close()
				}
			}
			b.Run("read", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := os.ReadFile(path); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("write", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					got, err := os.ReadFile(path)
					if err != nil {
						b.Fatal(err)
					}
					write(got)
				}
			})
		})
	}
}

func BenchmarkBolt(b *testing.B) {
	dir := b.TempDir()
	b.Run("ours", func(b *testing.B) {
		oursPair(b, openManager(b, "bolt://"+filepath.Join(dir, "ours.db")), sessionData())
	})
	b.Run("floor", func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(dir, "floor.db"), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		key := []byte(sessions.NewKey())
		data := encoded(b)
		db.Update(func(tx *bolt.Tx) error {
			bk, _ := tx.CreateBucketIfNotExists([]byte("s"))
			return bk.Put(key, data)
		})
		b.Run("read", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				db.View(func(tx *bolt.Tx) error {
					_ = append([]byte(nil), tx.Bucket([]byte("s")).Get(key)...)
					return nil
				})
			}
		})
		b.Run("write", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				db.Update(func(tx *bolt.Tx) error {
					bk := tx.Bucket([]byte("s"))
					v := append([]byte(nil), bk.Get(key)...)
					return bk.Put(key, v)
				})
			}
		})
	})
}
