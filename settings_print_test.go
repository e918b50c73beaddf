package sessions_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
)

// TestSettingsPrintHidesSecrets: however a Settings or a Manager is
// printed (fmt's verbs, log/slog's text and JSON handlers), its secrets
// never appear: the secret key and its fallbacks, the encryption keys,
// and the passwords in its config strings.
func TestSettingsPrintHidesSecrets(t *testing.T) {
	st := sessions.DefaultSettings()
	st.Engine = "redis://:pw-engine-1@127.0.0.1:6379/0"
	st.DatabaseURL = "postgres://app:pw-database-2@db.internal/app"
	st.CacheURL = "redis://default:pw-cache-3@cache.internal:6379/1"
	st.SecretKey = "sek-current-4"
	st.SecretKeyFallbacks = []string{"sek-old-5", "sek-older-6"}
	st.EncryptionKeys = []string{"enc-key-7-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}
	secrets := []string{"pw-engine-1", "pw-database-2", "pw-cache-3", "sek-current-4", "sek-old-5", "sek-older-6", "enc-key-7"}

	m, err := sessions.New(memstore.New(nil), st)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	var outs []string
	for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, st), fmt.Sprintf(verb, &st), fmt.Sprintf(verb, m),
			fmt.Sprintf(verb, struct{ Settings sessions.Settings }{st}), fmt.Sprintf(verb, m.Settings()))
	}
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		slog.New(h(&b)).Info("starting", "settings", st, "manager", m, slog.Any("ptr", &st))
		outs = append(outs, b.String())
	}
	for _, out := range outs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("printed with %q:\n%s", s, out)
			}
		}
	}
	// What is no secret is still there to debug with.
	for _, want := range []string{`CookieName: "sessionid"`, "SecretKey: \"[redacted]\"", `SecretKeyFallbacks: "2 [redacted]"`, "redis://:xxxxx@127.0.0.1:6379/0", "db.internal", "CookieSameSite: \"Lax\""} {
		if !strings.Contains(outs[0], want) {
			t.Errorf("%%v of Settings lacks %s:\n%s", want, outs[0])
		}
	}
	if !strings.Contains(outs[2], "sessions.Manager{") || !strings.Contains(outs[2], "process memory") {
		t.Errorf("%%v of a Manager: %s", outs[2])
	}
}
