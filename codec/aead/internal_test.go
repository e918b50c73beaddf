package aead

import (
	"bytes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

var testKey = []byte("internal-test-key-0123456789abcdefghijklmnop")

// seal builds an envelope with the codec's primary key, whatever the
// header says: a validly authenticated value the decoder must still judge.
func seal(c *Codec, version, flags byte, plain []byte) []byte {
	var hdr [headerSize]byte
	hdr[0], hdr[1] = version, flags
	binary.BigEndian.PutUint32(hdr[2:], c.primary.id)
	nonce := make([]byte, nonceSize)
	env := append(append([]byte{}, hdr[:]...), nonce...)
	env = c.primary.aead.Seal(env, nonce, plain, hdr[:])
	return []byte(base64.RawURLEncoding.EncodeToString(env))
}

func newCodec(t *testing.T, o *Options) *Codec {
	c, err := New(codec.JSON{MaxSize: -1}, o, testKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAuthenticatedButUnknown(t *testing.T) {
	c := newCodec(t, nil)
	plain := []byte(`{"a":1}`)
	if _, err := c.Decode(seal(c, Version, 0, plain)); err != nil {
		t.Fatalf("control: %v", err)
	}
	for name, v := range map[string][]byte{
		"version 2":     seal(c, 2, 0, plain),
		"version 0":     seal(c, 0, 0, plain),
		"flag 2":        seal(c, Version, 2, plain),
		"flag 0x80":     seal(c, Version, 0x80, plain),
		"bad deflate":   seal(c, Version, flagDeflate, plain),
		"not the inner": seal(c, Version, 0, []byte("[1,2]")),
	} {
		if _, err := c.Decode(v); !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestZipBomb(t *testing.T) {
	c := newCodec(t, &Options{MaxSize: 1 << 20})
	bomb := deflate([]byte(`{"a":"` + strings.Repeat("a", 8<<20) + `"}`))
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	_, err := c.Decode(seal(c, Version, flagDeflate, bomb))
	if !errors.Is(err, codec.ErrCorrupt) || !errors.Is(err, codec.ErrTooLarge) {
		t.Fatalf("zip bomb: %v", err)
	}
	// Just under the limit inflates.
	ok := deflate([]byte(`{"a":"` + strings.Repeat("a", 1<<19) + `"}`))
	if _, err := c.Decode(seal(c, Version, flagDeflate, ok)); err != nil {
		t.Fatalf("half the limit: %v", err)
	}
}

// TestKeyIDCollision: two keys sharing an id are both tried.
func TestKeyIDCollision(t *testing.T) {
	a := newCodec(t, nil)
	other, err := New(codec.JSON{}, nil, []byte("another-key-0123456789abcdefghijklmnopqr"))
	if err != nil {
		t.Fatal(err)
	}
	b := newCodec(t, nil)
	// Give b's key the other codec's id, beside a decoy under the same id.
	b.byID = map[uint32][]cipher.AEAD{other.primary.id: {other.primary.aead, a.primary.aead}}
	b.primary.id = other.primary.id
	v, err := b.Encode(codec.NewDict(map[string]any{"x": "y"}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := d.Get("x"); x != "y" {
		t.Fatal(d.Map())
	}
}

func TestDeflatePool(t *testing.T) {
	for _, s := range []string{"", "x", strings.Repeat("abc", 1000)} {
		z := deflate([]byte(s))
		got, err := inflate(z, -1)
		if err != nil || !bytes.Equal(got, []byte(s)) {
			t.Fatalf("%q: %q %v", s, got, err)
		}
	}
}
