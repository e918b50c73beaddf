package djcache

import (
	"errors"
	"net/url"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

func TestLayout(t *testing.T) {
	l, err := Layout{}.Resolve("redis")
	if err != nil {
		t.Fatal(err)
	}
	// Django's defaults: make_key("django.contrib.sessions.cache" + key).
	if got := l.Prefix() + "abcdefgh"; got != ":1:django.contrib.sessions.cacheabcdefgh" {
		t.Errorf("default key %q", got)
	}
	if l.Format != Pickle {
		t.Errorf("default format %q", l.Format)
	}
	l, _ = Layout{KeyPrefix: "app", Version: 7, LogicalPrefix: CachedDBPrefix, Format: JSON}.Resolve("redis")
	if got := l.Prefix(); got != "app:7:django.contrib.sessions.cached_db" {
		t.Errorf("key prefix %q", got)
	}
	if _, err := (Layout{Format: "yaml"}).Resolve("memcached"); !errors.Is(err, sessions.ErrBadConfig) || err.Error() != `invalid session configuration: memcached format "yaml": want pickle or json` {
		t.Errorf("unknown format: %v", err)
	}
}

func TestFromParams(t *testing.T) {
	st := sessions.Settings{CacheKeyPrefix: "site", CacheVersion: 3}
	u, _ := url.Parse("redis://h/0")
	if l := FromParams(sessions.ParseParams(u), st); l != (Layout{KeyPrefix: "site", Version: 3, LogicalPrefix: CachePrefix, Format: Pickle}) {
		t.Errorf("from the settings: %+v", l)
	}
	u, _ = url.Parse("redis://h/0?key_prefix=k&version=2&logical_prefix=x&format=json")
	p := sessions.ParseParams(u)
	if l := FromParams(p, st); l != (Layout{KeyPrefix: "k", Version: 2, LogicalPrefix: "x", Format: JSON}) || p.Err() != nil {
		t.Errorf("from the URL: %+v, %v", l, p.Err())
	}
}

func TestCodec(t *testing.T) {
	st := sessions.Settings{SecretKey: "secret"}
	d := codec.NewDict(map[string]any{"a": int64(1)})
	b, err := Pickle.Codec(st).Encode(d)
	if err != nil || !IsPickle(b) {
		t.Fatalf("pickle: %q, %v", b, err)
	}
	j, err := JSON.Codec(st).Encode(d)
	if err != nil || IsPickle(j) {
		t.Fatalf("json: %q, %v", j, err)
	}
	// The JSON format is exactly the Manager's default codec.
	if back, err := sessions.DefaultCodec(st).Decode(j); err != nil || back.Len() != 1 {
		t.Fatalf("the default codec reads the json format: %v, %v", back, err)
	}
	if IsPickle(nil) {
		t.Error("IsPickle(nil)")
	}
}

func TestRowTrailer(t *testing.T) {
	p, err := Pickle.Codec(sessions.Settings{}).Encode(codec.NewDict(map[string]any{"a": 1}))
	if err != nil {
		t.Fatal(err)
	}
	row := []byte("eyJhIjoxfQ:1tQ:sig")
	b := AppendRow(p, row)
	gp, gr, ok := SplitRow(b)
	if !ok || string(gp) != string(p) || string(gr) != string(row) {
		t.Fatalf("SplitRow = %q, %q, %v", gp, gr, ok)
	}
	if _, gr, ok := SplitRow(AppendRow(p, nil)); !ok || len(gr) != 0 {
		t.Errorf("empty row: %q, %v", gr, ok)
	}
	// The pickle codec reads the copy as the pickle alone.
	d, err := Pickle.Codec(sessions.Settings{}).Decode(b)
	if err != nil || d.Len() != 1 {
		t.Fatalf("Decode = %v, %v", d, err)
	}
	// Anything else is left whole: a pickle alone (Django's), a claim
	// marker, a trailer whose length runs past the start or whose pickle
	// part does not end with STOP, truncated copies.
	bad := [][]byte{p, nil, []byte("\x80\x05N.sessionkit-cached_db:w:1:x"), []byte(rowMagic), b[:len(b)-1], b[1:]}
	long := append([]byte{}, b...)
	long[len(long)-rowTrailerSize] = 0xff
	bad = append(bad, long)
	noStop := AppendRow(p[:len(p)-1], row)
	bad = append(bad, noStop)
	for _, x := range bad {
		if gp, _, ok := SplitRow(x); ok || string(gp) != string(x) {
			t.Errorf("SplitRow(%q) = %q, %v", x, gp, ok)
		}
	}
}

func FuzzSplitRow(f *testing.F) {
	f.Add([]byte("\x80\x05}.row\x00\x00\x00\x03" + rowMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, row, ok := SplitRow(b)
		if !ok {
			return
		}
		if got := AppendRow(p, row); string(got) != string(b) {
			t.Fatalf("AppendRow(SplitRow(%q)) = %q", b, got)
		}
	})
}
