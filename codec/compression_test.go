package codec_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

// compressed reports whether a signed value carries a compressed payload
// (Django marks it with a leading '.').
func compressed(b []byte) bool { return len(b) > 0 && b[0] == '.' }

func TestCompressionPolicy(t *testing.T) {
	repetitive := codec.NewDict(map[string]any{"cart": strings.Repeat("apple,", 200)})
	// Random printable text: deflate saves some 10-20 %, not a quarter.
	rnd := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for range 2000 {
		c := byte(' ' + rnd.IntN(94))
		if c == '"' || c == '\\' {
			c = 'x'
		}
		sb.WriteByte(c)
	}
	varied := codec.NewDict(map[string]any{"t": sb.String()})
	for _, tc := range []struct {
		name string
		c    codec.Compression
		d    *codec.Dict
		want bool
	}{
		{"zero value never compresses", codec.Compression{}, repetitive, false},
		{"Django's rule compresses what shrinks", codec.DjangoCompression, repetitive, true},
		{"below Above: not tried", codec.Compression{Above: 10_000}, repetitive, false},
		{"MinSaving met", codec.Compression{Above: 100, MinSaving: 0.5}, repetitive, true},
		{"a small saving: Django's rule keeps it", codec.DjangoCompression, varied, true},
		{"a small saving: MinSaving refuses it", codec.Compression{Above: 100, MinSaving: 0.25}, varied, false},
		{"ToFit overrides MinSaving", codec.Compression{Above: 100, MinSaving: 0.99, ToFit: 200}, repetitive, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := codec.Signed{Key: "k", Compression: tc.c}
			b, err := c.Encode(tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if compressed(b) != tc.want {
				t.Errorf("compressed = %v, want %v (%d bytes)", compressed(b), tc.want, len(b))
			}
			// Whatever was written, every policy reads it.
			back, err := codec.Signed{Key: "k"}.Decode(b)
			if err != nil || back.Len() != tc.d.Len() {
				t.Fatalf("decode: %v", err)
			}
		})
	}
}
