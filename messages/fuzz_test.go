package messages

import (
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary "_messages" values to the decoder: never a
// panic; an error is always ErrMalformed; what decodes re-encodes to data
// that decodes to the same messages; and the conflict merge of a value
// with itself as base and ours leaves the stored messages unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"",
		"[]",
		`[["__json_message", 0, 20, "Hello"]]`,
		`[["__json_message", 0, 25, "Added 1 \u00d7 Gopher mug \ud83d\udc39 \"q\" \\ \n\t\u007f\u0000</script>", ""], ["__json_message", 1, 40, "<b>bold</b>", "sticky big"]]`,
		`[["__json_message",0,20,"compact","x"]]`,
		`[["__json_message", true, 30, "w", null]]`,
		`[["__json_message", 0, 20, "lone \ud800 surrogate"]]`,
		`[["__json_message", 0, 20]]`,
		`[["__json_message", 0, 1e400, "x"]]`,
		`[["__json_message", 0, 99999999999999999999, "x"]]`,
		`[["__json_message", 0, NaN, "x"]]`,
		`[1, "x", [], {}, null, ["__json_message", 0, 20, "ok"]]`,
		`{"__json_message": 1}`,
		`[["__json_message", 0, 20, "x"`,
		strings.Repeat("[", 600) + strings.Repeat("]", 600),
		"[\"\xff\xfe\"]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		es, err := decodeEntries(data)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error not classified: %v", err)
		}
		msgs, derr := Decode(data)
		if (derr == nil) != (err == nil) || len(msgs) != len(es) {
			t.Fatalf("Decode and decodeEntries disagree: %v / %v", derr, err)
		}
		if len(es) == 0 {
			return
		}
		again, err := decodeEntries(encodeEntries(es))
		if err != nil || !reflect.DeepEqual(again, es) {
			t.Fatalf("re-encoding changed the entries: %v\n%+v\n%+v", err, es, again)
		}
		back, err := Decode(Encode(msgs))
		if err != nil || !reflect.DeepEqual(back, msgs) {
			t.Fatalf("Encode/Decode round trip: %v\n%+v\n%+v", err, msgs, back)
		}
		c := &Config{Logger: slog.New(slog.DiscardHandler)}
		merged, keep := c.merge(data, data, data)
		if !keep {
			t.Fatal("merging an unchanged value removed it")
		}
		if got, _ := decodeEntries(merged.(string)); !reflect.DeepEqual(got, es) {
			t.Fatalf("merge(x, x, x) = %q", merged)
		}
	})
}
