package signing

import (
	"errors"
	"testing"
)

// FuzzLoads feeds arbitrary cookie values to Loads: it must never panic,
// and anything it accepts must have been validly signed.
func FuzzLoads(f *testing.F) {
	o := sessionOpts()
	for _, s := range []string{
		"eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:z3T5kuYwaLspnAAUpfRWpbinC-rn6c6P1Qf9PsCyZ2s",
		"e30:1r31eq:4jUc7d6K4SjljzmCBMRybFprOH2S1lYgEeb3CCv8FJw",
		".eJwVyrESREAMANB_SUFxQTLWBnNzP3JRMLLVjgJbGf9uNa96FxwwwvdXlAqNqm56aiKS8GqDprVv16wRAUKA8U81I9uHfbYiQe6d8-IcSSs0dB179hPCkuu5J8Mwx8NwSzFO9wN1zh52:1r31eq:TcZ0OtJsUrTQowt1EXosXMkxJJfbee1j_aaZx7GC4r8",
		"", ":", "::", "a:b:c", ".:0:", "bad:encoded:value",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Loads(s, o)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrSignatureExpired) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// Accepted: re-signing the decoded value must give a loadable value.
		out, err := Dumps(v, o)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := Loads(out, o); err != nil {
			t.Fatalf("reload: %v", err)
		}
	})
}

// FuzzSignedPayload signs arbitrary payload text so the fuzzer reaches the
// base64, zlib and JSON decoders behind a valid signature.
func FuzzSignedPayload(f *testing.F) {
	o := sessionOpts()
	for _, s := range []string{"e30", ".eJyrVkpUslIqS8wpTVWqBQAhoQR6", "!!", ".", "eyJhIjpOYU59"} {
		f.Add(s)
	}
	signer := o.signer()
	f.Fuzz(func(t *testing.T, payload string) {
		s := signer.Sign(payload)
		if _, err := Loads(s, o); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}
