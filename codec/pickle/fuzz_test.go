package pickle

import (
	"errors"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

// FuzzDecode checks that Decode never panics, that every error matches
// codec.ErrCorrupt, and that whatever it accepts encodes and decodes back
// to the same session. The seed corpus is every CPython vector (good and
// bad) and the hand-written hostile pickles.
//
//	go test -fuzz FuzzDecode ./codec/pickle/
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Unmarshal(data); err != nil && !errors.Is(err, codec.ErrCorrupt) {
			t.Fatalf("Unmarshal error %v does not match ErrCorrupt", err)
		}
		d, err := Codec{}.Decode(data)
		if err != nil {
			if !errors.Is(err, codec.ErrCorrupt) {
				t.Fatalf("Decode error %v does not match ErrCorrupt", err)
			}
			return
		}
		b, err := Codec{MaxSize: -1}.Encode(d)
		if err != nil {
			t.Fatalf("re-encoding a decoded session: %v", err)
		}
		again, err := Codec{MaxSize: -1}.Decode(b)
		if err != nil {
			t.Fatalf("decoding our own encoding: %v", err)
		}
		equalDict(t, "re-decoded", again, d)
	})
}

// addSeeds adds the seed corpus of the decoder's fuzz targets: every
// CPython vector (good and bad), the hand-written hostile pickles, and
// sessions large enough to decode lazily holding values of every shape
// transcoding meets (see transcode.go).
func addSeeds(f *testing.F) {
	for _, h := range pyPlain {
		f.Add(unhex(f, h))
	}
	for _, h := range pyBad {
		f.Add(unhex(f, h))
	}
	for _, v := range oddShapes {
		f.Add(session(v))
	}
	for _, v := range cpythonShapes {
		f.Add(session(v))
	}
	for _, b := range hostile() {
		if len(b) < 4096 {
			f.Add(b)
		}
	}
}
