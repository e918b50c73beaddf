package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/aead"
	"github.com/sessionkit/sessions/internal/testutil"
)

const (
	encKey1 = "encryption-test-key-1-0123456789abcdefghij"
	encKey2 = "encryption-test-key-2-0123456789abcdefghij"
)

func TestEncryptionKeysFromEnv(t *testing.T) {
	t.Setenv("SECRET_KEY", "k")
	t.Setenv("SESSION_ENCRYPTION_KEYS", " "+encKey1+" , "+encKey2+",, ")
	s, err := sessions.SettingsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.EncryptionKeys) != 2 || s.EncryptionKeys[0] != encKey1 || s.EncryptionKeys[1] != encKey2 {
		t.Fatalf("EncryptionKeys = %d keys", len(s.EncryptionKeys))
	}
}

func TestEncryptionKeysValidated(t *testing.T) {
	s := testutil.Settings()
	s.EncryptionKeys = []string{encKey1, "short-key-value"}
	_, err := sessions.Open(context.Background(), "memory:", s)
	if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "EncryptionKeys: key 2") {
		t.Fatalf("short key: %v", err)
	}
	if strings.Contains(err.Error(), "short-key-value") {
		t.Fatal("the error shows the key")
	}
	// sessions.New checks them too.
	if _, err := sessions.New(memEngine(t), s); !errors.Is(err, sessions.ErrBadConfig) {
		t.Fatalf("New: %v", err)
	}
}

func memEngine(t *testing.T) sessions.Backend {
	e, err := sessions.OpenEngine(context.Background(), "memory:", testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestEncryptionWrapsTheEngineCodec: with keys, Open encrypts whatever the
// Manager would have used: the default signed JSON, the engine's codec
// (the signed cookie, with its salt and age), or Settings.Codec.
func TestEncryptionWrapsTheEngineCodec(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		config string
		codec  codec.Codec
		inner  string
	}{
		{"memory:", nil, "codec.Signed salt " + codec.DjangoSessionSalt},
		{"signed-cookies:", nil, "codec.Signed salt " + cookiestore.Salt},
		{"memory:", codec.JSON{}, "codec.JSON"},
	} {
		s := testutil.Settings()
		s.EncryptionKeys = []string{encKey1}
		s.Codec = tc.codec
		m, err := sessions.Open(ctx, tc.config, s)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		c, ok := m.Codec().(*aead.Codec)
		if !ok {
			t.Fatalf("%s: codec %T", tc.config, m.Codec())
		}
		inner := fmt.Sprintf("%T", c.Inner())
		if sc, ok := c.Inner().(codec.Signed); ok {
			inner += " salt " + sc.Salt
		}
		if inner != tc.inner {
			t.Errorf("%s: inner codec %s, want %s", tc.config, inner, tc.inner)
		}
		sess := m.NewSession(ctx)
		sess.Set("user", "ann")
		if err := sess.Save(ctx); err != nil {
			t.Fatal(err)
		}
		if got := m.Load(ctx, sess.Key()).Get("user"); got != "ann" {
			t.Errorf("%s: loaded %v", tc.config, got)
		}
	}
}

// TestEncryptedCookieSize: the encrypted cookie compresses the signed
// value before encrypting, so it costs little more than the signed cookie
// Django would send (without compression it would be a third larger),
// and the size limit still holds.
func TestEncryptedCookieSize(t *testing.T) {
	ctx := context.Background()
	var cart []any
	for i := range 60 {
		cart = append(cart, map[string]any{"sku": fmt.Sprintf("SKU-%06d", i*7919%1000000), "qty": i%5 + 1})
	}
	size := func(keys ...string) (int, error) {
		s := testutil.Settings()
		s.EncryptionKeys = keys
		m, err := sessions.Open(ctx, "signed-cookies:", s)
		if err != nil {
			t.Fatal(err)
		}
		sess := m.NewSession(ctx)
		sess.Set("cart", cart)
		err = sess.Save(ctx)
		return len(sess.Key()), err
	}
	signed, err := size()
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := size(encKey1)
	if err != nil {
		t.Fatal(err)
	}
	if limit := signed*11/10 + 64; encrypted > limit {
		t.Errorf("encrypted cookie %d bytes, signed %d: want at most %d", encrypted, signed, limit)
	}

	s := testutil.Settings()
	s.EncryptionKeys = []string{encKey1}
	m, err := sessions.Open(ctx, "signed-cookies:", s)
	if err != nil {
		t.Fatal(err)
	}
	sess := m.NewSession(ctx)
	sess.Set("blob", randomText(4000))
	if err := sess.Save(ctx); !errors.Is(err, sessions.ErrTooLarge) {
		t.Errorf("a 4000-byte incompressible session in an encrypted cookie: %v, want ErrTooLarge", err)
	}
}

// randomText returns n characters that do not compress.
func randomText(n int) string {
	var b strings.Builder
	x := uint32(2463534242)
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[x%62])
	}
	return b.String()
}
